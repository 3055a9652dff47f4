"""Threads that only poll a variable: reaction time against host CPU (lesson 06).

The producer-consumer app (``app=prodcons``, stage poll) has a producer on
one core stamp a variable with the TSC; reaction = the TSC when the consumer
on another core sees the new value - the stamp.  The guest prints one line
of percentiles (read as a :class:`~kitlib.idle.Latency`), so the host's
sampling does not blur them; the host measures what each way of waiting
costs it while nothing comes, under the traffic and after it.
"""

from __future__ import annotations

from collections.abc import Mapping

from . import protocol
from .build import Image
from .idle import Latency, LatencyComparison, scheduled
from .session import Session

__all__ = ["compare_reaction", "REACTION"]

# The setups the lesson compares.  Labels name the idea; values are command lines.
REACTION = {"spin": "poll=spin", "Toro's API": "poll=toro tick=100", "kit's API": "poll=wait",
            "kit's API + haltpoll": "poll=wait haltpoll=400"}


def compare_reaction(image: Image, setups: Mapping[str, str] = REACTION, *, cpus: int = 2,
                     period_us: int = 10_000, n: int = 200, quiet: float = 3.0, after: float = 0.0,
                     settle: float = 0.5, hz: float = 10.0, floor: float | None = None,
                     ceiling: float | None = None, show: bool = True,
                     progress: bool = True) -> LatencyComparison:
    """Producer-to-consumer reaction for each setup, and QEMU's host CPU while the
    consumer waits with nothing coming (``quiet`` seconds), under the traffic
    (``n`` messages, one every ``period_us``) and, if ``after`` is given, for
    that many seconds once the traffic has stopped: all on one time axis.
    Each result keeps what the host's scheduler did to the vCPUs under the
    traffic (``Latency.ran``, ``wanted``), which bounds the messages a busy
    host may make a consumer miss (``Latency.missed_allowed``)."""
    title = f"producer to consumer: {', '.join(setups)}"
    results = []
    with Session(title, cpus, hz=hz, settle=settle, floor=floor, ceiling=ceiling, show=show,
                 progress=progress) as s:
        for label, append in setups.items():
            s.say(f"{label}: quiet {quiet:g} s, then {n} messages every {period_us} µs ({append})")
            vm = s.boot(image, append=f"app=prodcons period={period_us} n={n} "
                                      f"start={round(1000 * quiet)} {append}")
            s.phase(f"{label}: quiet", vm)
            vm.expect(protocol.TRAFFIC, timeout=quiet + 30)
            s.phase(f"{label}: traffic", vm, settle=False)
            line = vm.expect(protocol.REACTION_LINE, timeout=30 + n * period_us / 1e6 * 3, exact=False)
            if after:
                s.phase(f"{label}: after", vm, seconds=after)
            s.stop(vm)
            extra = {"after_pct": s.result(f"{label}: after").total} if after else {}
            results.append(Latency.parse(label, line, host_pct=s.result(f"{label}: traffic").total,
                                         quiet_pct=s.result(f"{label}: quiet").total, period_us=period_us,
                                         **scheduled(s, f"{label}: traffic"), **extra))
    return LatencyComparison(f"producer-to-consumer reaction, {cpus} vCPUs, a message every "
                             f"{period_us} µs", tuple(results), s.experiment())
