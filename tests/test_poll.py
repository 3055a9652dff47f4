"""Stage 'poll': threads that poll a variable, with Toro's API and with the kit's pollvar.

Behaviour is judged by the guest's own counters (kit_stats), never by how
long the host took: QEMU here is TCG on a small shared host.
"""

from __future__ import annotations

import math

import pytest

import kitlib
from kitlib import protocol
from kitlib.guest import halted_fraction
from kitlib.idle import Latency

from conftest import panic_reason, requires_qemu, runnable_pct


SMALL = "n=50 start=500 period=2000"


@pytest.fixture(scope="module")
def poll() -> kitlib.Image:
    return kitlib.build("poll")


@requires_qemu
@pytest.mark.parametrize("cpus", [2, 4])
def test_self_tests_pass_with_pollvar_ping_pong_and_toro_grace(poll, cpus):
    """100,000 pollvar hand-offs between two halting cores end (no wake-up is lost), waits with a
    deadline end by a set or by the deadline, whichever comes first, and so on."""
    with kitlib.VM(poll, cpus=cpus, append="test idle=hlt tick=none", boot_timeout=120) as vm:
        assert vm.wait_exit(timeout=120) == 33, vm.tail()
    for name in ("yield", "sleep", "remote", "pingpong", "pollvar", "toropoll", "polldeadline"):
        assert protocol.test_results(vm.console).get(name, "missing") is None, vm.tail()


def sum_over_cpus(snap: kitlib.StatsSnapshot, name: str) -> int:
    return sum(cpu[name] for cpu in snap.cpus)


def run_prodcons(vm: kitlib.VM, mode: str, quiet: float = 0.0) -> dict:
    """Boot, follow the app's lines to the end, and take stats at 'ready', 'quiet' and after ``quiet`` s.

    Over the ``quiet`` seconds the host's view is read too: ``runnable``, %
    of the time each vCPU thread was runnable.

    The first snapshot is taken as soon as 'kit: ready' shows, while the
    producer still sleeps its start ms: a short burst of traffic may be
    over before the host sees 'prodcons: traffic'.  Between the two, one
    IPI may carry the consumer's creation to its core.
    """
    vm.wait_ready()
    ready = vm.stats()
    start = protocol.prodcons_start(vm.expect(protocol.PRODCONS_START, timeout=60))
    assert start and start.mode == mode, vm.tail()
    vm.expect(protocol.TRAFFIC + "\n", timeout=60)
    line = vm.expect(protocol.REACTION_LINE, timeout=60)
    report = protocol.percentiles(line)
    assert report.mode == mode, line
    vm.expect(protocol.QUIET + "\n", timeout=30)
    q0 = vm.stats()
    runnable = runnable_pct(vm, quiet) if quiet else {}
    q1 = vm.stats()
    return {"start": start, "report": report, "line": line, "ready": ready, "q0": q0, "q1": q1,
            "runnable": runnable}


@requires_qemu
@pytest.mark.parametrize("mode, extra", [
    ("spin", "tick=none"),
    ("toro", "tick=100"),
    ("wait", "tick=none"),
    ("toro", "tick=none"),          # its halted core may never see a message: still a report
])
@requires_qemu
def test_prodcons_reports_well_formed_lines(poll, mode, extra):
    append = f"app=prodcons poll={mode} idle=hlt {extra} {SMALL}"
    with kitlib.VM(poll, cpus=2, append=append, boot_timeout=60) as vm:
        r = run_prodcons(vm, mode)
    start, report, line = r["start"], r["report"], r["line"]
    assert (start.period_us, start.n, start.consumer_cpu) == (2000, 50, 1), start
    assert report.sent == 50, line
    seen = report.n
    assert seen <= 50, line
    ranks = [report.min_ns, report.p50_ns, report.p90_ns, report.p99_ns, report.max_ns]
    if seen == 0:
        assert all(math.isnan(x) for x in ranks), line
    else:
        assert ranks == sorted(ranks) and not any(math.isnan(x) for x in ranks), line
    if mode != "toro" or extra != "tick=none":
        assert seen > 0, line


@requires_qemu
def test_wait_halts_between_messages_and_sends_at_most_one_ipi_each(poll):
    """pollvar_wait: the consumer's core halts at once, and wakes by an IPI only when halted."""
    append = f"app=prodcons poll=wait idle=hlt tick=100 {SMALL}"
    with kitlib.VM(poll, cpus=2, append=append, boot_timeout=60) as vm:
        r = run_prodcons(vm, "wait", quiet=1.0)
        ready = vm.ready_time
    report, ready0, q0, q1 = r["report"], r["ready"], r["q0"], r["q1"]
    assert report.n > 0, r["line"]
    ipis = sum_over_cpus(q0, "ipis_sent") - sum_over_cpus(ready0, "ipis_sent")
    assert ipis <= 50 + 1, f"{ipis} IPIs for 50 messages"
    assert sum_over_cpus(q1, "haltpoll_hits") == 0, "no haltpoll=, yet the idle loop spun"
    assert q1.cpus[1]["halts"] > q0.cpus[1]["halts"] > ready0.cpus[1]["halts"], \
        "the consumer's core should halt between messages, and at each tick when quiet"
    assert halted_fraction(q0, q1, ready)[1] > 0.5, "the quiet consumer's core should be halted"
    assert r["runnable"][1] < 30, f"the host saw the quiet consumer's vCPU runnable {r['runnable'][1]:.0f} % of the time"


@requires_qemu
def test_toro_with_a_tick_never_stays_halted(poll):
    """Toro's flaw: every tick makes the pollers spin a whole grace period again."""
    append = f"app=prodcons poll=toro idle=hlt tick=100 grace=200 {SMALL}"
    with kitlib.VM(poll, cpus=2, append=append, boot_timeout=60) as vm:
        r = run_prodcons(vm, "toro", quiet=1.0)
        ready = vm.ready_time
    q0, q1 = r["q0"], r["q1"]
    halted = halted_fraction(q0, q1, ready)[1]
    halts = q1.cpus[1]["halts"] - q0.cpus[1]["halts"]
    # One halt a grace period (200 ms) at most, each ended at once by the
    # tick that came while the poller spun; with tick=100 and pollvar_wait
    # it would be one a tick, 100 a second.
    most = 2 + 1.5 * (q1.host_time - q0.host_time) / 0.2
    assert halted < 0.2, f"the consumer's core was halted {halted:.0%} of the quiet phase"
    assert halts <= most, f"{halts} halts over the quiet phase, with a grace period of 200 ms"


@requires_qemu
def test_haltpoll_spin_catches_frequent_wake_ups(poll):
    """haltpoll=200: at a 100 us period the idle loops' spins catch wake-ups before they halt.

    Which core's spin does depends on the host: the producer's catches its
    own 100 us deadlines; the consumer's window grows only if its first
    halts end within the 200 us maximum (Linux's rule), which a slow TCG
    wake-up may miss, and then it stays 0.  So the count is over all cores.
    """
    append = "app=prodcons poll=wait idle=hlt tick=none haltpoll=200 n=500 start=500 period=100"
    with kitlib.VM(poll, cpus=2, append=append, boot_timeout=60) as vm:
        r = run_prodcons(vm, "wait", quiet=0.6)
    report, ready0, q0 = r["report"], r["ready"], r["q0"]
    hits = sum_over_cpus(q0, "haltpoll_hits") - sum_over_cpus(ready0, "haltpoll_hits")
    ipis = sum_over_cpus(q0, "ipis_sent") - sum_over_cpus(ready0, "ipis_sent")
    assert report.n > 0, r["line"]
    assert hits > 0, "no spin before a halt caught a wake-up"
    assert ipis <= 500 + 1, f"{ipis} IPIs for 500 messages"
    # A core that never halts also catches every wake-up and needs no IPI:
    # the spin must end in a halt, by the guest's count and by the host's view.
    assert q0.cpus[1]["halts"] > ready0.cpus[1]["halts"], "the consumer's core never halted"
    assert all(p < 30 for p in r["runnable"].values()), \
        f"quiet, with haltpoll=200 each vCPU should be halted; the host saw them runnable {r['runnable']} %"


@requires_qemu
def test_an_unknown_app_lists_every_app_of_the_last_stage(poll):
    assert panic_reason(poll, "app=prodcon", timeout=30) == ("unknown app 'prodcon' "
                                "(app=locks, app=sleepers, app=lateness or app=prodcons)")


# Reading the producer/consumer line without QEMU.

def test_a_prodcons_line_counts_what_the_consumer_missed():
    r = Latency.parse("toro", "prodcons: poll=toro sent=200 seen=150 min=3000 p50=4000 p90=9000 p99=10000 max=10100 ns")
    assert (r.sent, r.n, r.missed) == (200, 150, 50)


def test_a_consumer_that_saw_nothing_has_no_percentiles():
    r = Latency.parse("toro", "prodcons: poll=toro sent=200 seen=0 min=- p50=- p90=- p99=- max=- ns")
    assert r.n == 0 and r.missed == 200 and math.isnan(r.p50_us) and math.isnan(r.max_us)


@requires_qemu
def test_an_unknown_key_lists_every_key_of_the_last_stage(poll):
    """A misspelt app option (perod=) is a panic before ready, not a default period."""
    assert panic_reason(poll, f"app=prodcons poll=wait perod=100 {SMALL}", timeout=30) == (
        "unknown key 'perod' (stage poll reads idle, test, crash, app, pause, lock, ms, tick, "
        "sleep, sleeps, poll, period, n, start, grace or haltpoll)")
