"""The words guest and host share: command-line keys and their values, and
every line the kernel prints that the host reads.

The kernel prints; this module alone knows how those lines look and how to
take them apart, so the library and the tests read the guest one way.
Lines are matched whole (``^...$`` in multiline mode) on the console
transcript, where the pty's "\\r\\n" is already "\\n" (process.py).  A
pattern a wait can match ends at the line's "\\n", so a line matched while
it is still arriving has all of it.  Numbers are ``key=value`` words
wherever the kernel can print them so (stats, percentiles): :func:`fields`
is the one parser for those.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = [
    "IDLE_POLICIES", "POLL_WAYS", "BOOT", "READY", "PANIC", "TESTS_PASSED", "STATS_END", "TRAFFIC", "QUIET",
    "fields", "cpus_up", "test_results", "ok", "fail", "verdict", "Answer", "answer",
    "CONSOLE_LINE_MAX", "ANSWER_ENDS", "tagged", "tagged_answer_pattern", "stats_answer",
    "STATS_LINE", "stats_lines", "LATENESS_LINE", "REACTION_LINE", "PRODCONS_START",
    "RANKS", "Percentiles", "percentiles", "ProdconsStart", "prodcons_start",
    "LOCKS_SUMMARY", "LocksSummary", "locks_summary", "woke_late_us",
    "POLL_WAYS", "NET_WAIT", "NetWait", "net_wait",
]

# idle=<policy> on the command line, `idle <policy>` on the console (kernel/policy.c).
IDLE_POLICIES = ("spin", "hlt")

# poll=<way> on the command line (prodcons's consumer and the network thread), and
# `poll <way>` on the net stage's console, answered `poll: <way>` (kernel/netwait.c).
POLL_WAYS = ("spin", "toro", "wait")

# -- fixed lines (kernel/main.c, panic.c, selftest.c, console.c, prodcons.c)
BOOT = "kit: boot "                 # + the stage's name
READY = "kit: ready"                # the kernel has finished booting every CPU
PANIC = "kit: panic "               # + the reason; the kernel then exits with failure
TESTS_PASSED = "kit: tests passed"  # after every self-test printed `<name>: OK`
STATS_END = "stats: end"            # after the `stats` command's per-CPU lines
TRAFFIC = "prodcons: traffic"       # the producer starts sending
QUIET = "prodcons: quiet"           # the producer has sent its last message

_FIELD = re.compile(r"(\w+)=(\S*)")


def fields(line: str) -> dict[str, str]:
    """The ``key=value`` words of a line, in order (``a=1 b=x`` -> {"a": "1", "b": "x"})."""
    return dict(_FIELD.findall(line))


# -- bring-up: `kit: cpu <n> up`, one line per CPU as it reaches C (kernel/smp.c)

_CPU_UP = re.compile(r"^kit: cpu (\d+) up$", re.M)


def cpus_up(console: str) -> list[int]:
    """The CPUs that printed ``kit: cpu <n> up``, in the order they did."""
    return [int(n) for n in _CPU_UP.findall(console)]


# -- verdicts: `<name>: OK` or `<name>: FAIL <why>` (self-tests, the locks app)

_VERDICT = re.compile(r"^([\w-]+): (OK|FAIL)(?: ([^\n]*))?\n", re.M)


def ok(name: str) -> str:
    """The line that says ``name`` passed."""
    return f"{name}: OK"


def fail(name: str) -> str:
    """The start of the line that says ``name`` failed (the reason follows)."""
    return f"{name}: FAIL"


def verdict(name: str) -> re.Pattern[str]:
    """The whole line of ``name``'s verdict, OK or FAIL with its reason, for
    ``vm.expect``: a match of ok() or fail() may come before the reason has."""
    return re.compile(rf"^{re.escape(name)}: (?:OK|FAIL[^\n]*)\n", re.M)


def test_results(console: str) -> dict[str, str | None]:
    """Each verdict line's name -> None if it passed, else the reason it failed."""
    return {name: None if word == "OK" else (why or "") for name, word, why in _VERDICT.findall(console)}


# -- console answers (kernel/console.c): a command's first word, a colon, the answer

@dataclass(frozen=True)
class Answer:
    """The guest's one-line answer to a console command."""

    who: str        # the command's first word, or "console" for a line it could not take
    said: str

    @property
    def refused(self) -> bool:
        """console.c's two refusals: an unknown command, or ``<cmd>: bad ...``."""
        return self.who == "console" or self.said.startswith("bad ")

    def __str__(self) -> str:
        return f"{self.who}: {self.said}"


def answer(match: re.Match[str]) -> Answer:
    """The Answer in a match of :func:`tagged_answer_pattern`."""
    return Answer(match.group(1), match.group(2))


# A command is at most this many bytes (kernel/console.c LINEMAX, less its NUL);
# a longer line is refused whole: `console: line too long (at most 63 bytes), not run`.
CONSOLE_LINE_MAX = 63

# Commands whose answer is several lines, and the line that ends it; every
# other command answers one line.  An answer from `console` is always one line.
ANSWER_ENDS = {"stats": STATS_END}


def tagged(tag: int, command: str) -> str:
    """The line that types ``command`` under ``tag``: ``@<tag> <command>``.

    console.c runs the command as if typed bare and starts every line of its
    answer with the same ``@<tag> ``; a tag is 1 to 9 digits."""
    if not 0 <= tag < 10**9:
        raise ValueError(f"a console tag has 1 to 9 digits, not {tag}")
    return f"@{tag} {command}"


def tagged_answer_pattern(tag: int, command: str) -> re.Pattern[str]:
    """One line of the answer to ``tagged(tag, command)``, tag taken off.

    Groups: who (the command's first word, or console), said."""
    word = command.split()[0]
    return re.compile(rf"^@{tag} ({re.escape(word)}|console): ([^\n]*)\n", re.M)


# -- `stats`: `stats: cpu <n> halts=.. halted_ms=.. ...`, one line a CPU, then `stats: end`

STATS_LINE = re.compile(r"^stats: cpu (\d+) (\w+=[^\n]*)\n", re.M)


def stats_lines(text: str) -> dict[int, dict[str, int]]:
    """CPU -> its counters, from the ``stats`` command's lines in ``text``."""
    return {int(cpu): {k: int(v) for k, v in fields(rest).items()} for cpu, rest in STATS_LINE.findall(text)}


def stats_answer(said: str) -> dict[int, dict[str, int]]:
    """CPU -> its counters, from what ``VM.command("stats")`` returned (whole lines)."""
    return stats_lines(said + "\n")


# -- percentile lines (kernel/percentile.c): `<head> min=.. p50=.. p90=.. p99=.. max=.. ns`,
#    each rank in nanoseconds, or `-` for every rank when there was no sample.
#    app=lateness's head is `lateness: n=<wake-ups>`;
#    app=prodcons's is `prodcons: poll=<mode> sent=<messages> seen=<messages>`.

LATENESS_LINE = re.compile(r"^lateness: n=[^\n]*\n", re.M)
REACTION_LINE = re.compile(r"^prodcons: poll=\S+ sent=[^\n]*\n", re.M)
RANKS = ("min", "p50", "p90", "p99", "max")


@dataclass(frozen=True)
class Percentiles:
    """One percentile line: ranks in nanoseconds (NaN: no sample)."""

    n: int                      # samples (prodcons: messages the consumer saw)
    min_ns: float
    p50_ns: float
    p90_ns: float
    p99_ns: float
    max_ns: float
    sent: int | None = None     # prodcons: messages sent
    mode: str | None = None     # prodcons: the poll= API


def percentiles(line: str) -> Percentiles:
    """Read a lateness or prodcons percentile line; ValueError for any other line."""
    f = fields(line)
    if ("n" not in f and "seen" not in f) or any(r not in f for r in RANKS):
        raise ValueError(f"not a percentile line: {line!r}")

    def ns(key: str) -> float:
        return math.nan if f[key] == "-" else float(int(f[key]))

    n = int(f.get("seen", f.get("n", "0")))
    sent = int(f["sent"]) if "sent" in f else None
    return Percentiles(n, *(ns(r) for r in RANKS), sent=sent, mode=f.get("poll"))


# -- app=prodcons's first line: `prodcons: poll=<mode> period=<µs> us n=<count> consumer on cpu <n>`

PRODCONS_START = re.compile(r"^prodcons: poll=(\w+) period=(\d+) us n=(\d+) consumer on cpu (\d+)\n", re.M)


@dataclass(frozen=True)
class ProdconsStart:
    mode: str
    period_us: int
    n: int
    consumer_cpu: int


def prodcons_start(text: str) -> ProdconsStart | None:
    """The first prodcons start line in ``text``, or None."""
    m = PRODCONS_START.search(text)
    if m is None:
        return None
    return ProdconsStart(m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4)))


# -- app=locks's summary (kernel/locks.c), before its verdict `locks: OK` / `locks: FAIL lost ...`:
#    `locks: <lock> pause=<0|1>: <cpus> cpus, <total> increments in <ms> ms, <rate>/s`

LOCKS_SUMMARY = re.compile(
    r"^locks: (\w+) pause=(\d): (\d+) cpus, (\d+) increments in (\d+) ms, (\d+)/s$", re.M)


@dataclass(frozen=True)
class LocksSummary:
    lock: str
    pause: bool
    cpus: int
    increments: int
    ms: int
    per_s: int


def locks_summary(text: str) -> LocksSummary | None:
    """The lock app's summary line in ``text``, or None."""
    m = LOCKS_SUMMARY.search(text)
    if m is None:
        return None
    lock, pause, *numbers = m.groups()
    return LocksSummary(lock, pause == "1", *map(int, numbers))


# -- the sched self-test's sleeps (kernel/schedtest.c): `sleep: <ms> ms, woke <µs> us late`

_WOKE_LATE = re.compile(r"^sleep: \d+ ms, woke (\d+) us late$", re.M)


def woke_late_us(console: str) -> list[int]:
    """How late each of the sched self-test's sleeps woke, in microseconds."""
    return [int(us) for us in _WOKE_LATE.findall(console)]


# -- the network thread's way of waiting (kernel/netwait.c), before ready in a VM with the card:
#    `net: thread on cpu <n> waits by <way>`

NET_WAIT = re.compile(r"^net: thread on cpu (\d+) waits by (\w+)\n", re.M)


@dataclass(frozen=True)
class NetWait:
    cpu: int                # the network thread's core, the one the card interrupts
    way: str                # one of POLL_WAYS


def net_wait(text: str) -> NetWait | None:
    """The network thread's line in ``text``, or None (no card, or not booted yet)."""
    m = NET_WAIT.search(text)
    return NetWait(int(m.group(1)), m.group(2)) if m else None
