"""Stage 'idle': hlt and tickless by default, the I/O APIC, console commands, lateness.

Behaviour is judged by the guest's own counters (vm.stats()), never by how
fast the shared host runs the guest.
"""

from __future__ import annotations

import json
import re
import time

import pytest

import kitlib
from kitlib import protocol
from kitlib.idle import Latency, LatencyComparison

from conftest import guest_rate, requires_qemu, runnable_pct


STATS_KEYS = ["halts", "halted_ms", "ctx_switches", "timer_irqs", "ipis_sent", "ipis_received", "wakeups"]


@pytest.fixture(scope="module")
def idle() -> kitlib.Image:
    return kitlib.build("idle")


@requires_qemu
@pytest.mark.parametrize("cpus", [1, 2, 4])
def test_self_tests_pass_with_the_stage_defaults(idle, cpus):
    with kitlib.VM(idle, cpus=cpus, append="test", boot_timeout=120) as vm:
        assert vm.wait_exit(timeout=120) == 33, vm.tail()
    for name in ("idt", "yield", "sleep", "remote", "pingpong", "ioapic", "console"):
        assert protocol.test_results(vm.console).get(name, "missing") is None, vm.tail()


@requires_qemu
def test_defaults_are_hlt_and_tickless_here_and_spin_at_100_hz_in_sched(idle):
    """The startup lines, and what they claim: no timer interrupt on an idle
    tickless core; about 100 a second per core on the sched stage's tick."""
    with kitlib.VM(idle, cpus=1) as vm:
        vm.wait_ready()
        assert "sched: idle=hlt\n" in vm.console and "timer: tickless\n" in vm.console, vm.console
        a, b = over(vm)
        assert delta(a, b, "timer_irqs") == [0], delta(a, b, "timer_irqs")
        assert runnable_pct(vm, 0.6)[0] < 30, "an idle tickless core should be halted, by the host's view"
    sched = kitlib.build("sched")
    with kitlib.VM(sched, cpus=1) as vm:
        vm.wait_ready()
        assert "sched: idle=spin\n" in vm.console and "timer: tick 100 Hz\n" in vm.console, vm.console
    # The tick's rate, on halted cores: a spinning vCPU that the busy host
    # deschedules folds the ticks it missed into one (82 a second measured).
    with kitlib.VM(sched, cpus=2, append="idle=hlt") as vm:
        vm.wait_ready()
        assert "timer: tick 100 Hz\n" in vm.console, vm.console
        a, b = over(vm)
        assert_rate(guest_rate(a, b, "timer_irqs"), 100)


def assert_rate(measured: list[float], hz: float) -> None:
    """Each CPU's timer interrupts a second within 30 % of the set rate (the
    guest's counts over the guest's clock read 99 to 101, 251 and 1002 at 100,
    250 and 1000 Hz on halted cores).  A vCPU thread that runs late takes the
    ticks it missed as one, so load can only lower a rate; nothing raises it."""
    assert all(0.7 * hz < r < 1.3 * hz for r in measured), f"{[round(r) for r in measured]} a second at {hz} Hz"


def over(vm: kitlib.VM, seconds: float = 0.5) -> tuple[kitlib.StatsSnapshot, kitlib.StatsSnapshot]:
    time.sleep(0.2)                     # every core has taken the IPI and gone round
    a = vm.stats()
    time.sleep(seconds)
    return a, vm.stats()


def delta(a, b, name: str) -> list[int]:
    return [cb[name] - ca[name] for ca, cb in zip(a.cpus, b.cpus)]


@requires_qemu
def test_console_switches_idle_policy_and_tick_on_every_core(idle):
    with kitlib.VM(idle, cpus=2) as vm:
        vm.wait_ready()
        assert vm.command("help") == "help: idle spin|hlt, tick <Hz>|none, stats"

        vm.sendline("stats")
        vm.expect(protocol.STATS_END + "\n", timeout=30)
        rows = protocol.stats_lines(vm.before)
        assert list(rows) == [0, 1], vm.before
        assert all(list(r) == STATS_KEYS for r in rows.values()), rows

        # spin: every core goes round its loop and halts no more
        assert vm.command("idle spin") == "idle: spin"
        a, b = over(vm)
        assert all(n > 100 for n in delta(a, b, "idle_passes")), delta(a, b, "idle_passes")
        assert delta(a, b, "halts") == [0, 0], delta(a, b, "halts")

        # hlt: every core halts, the halted one at once (the IPI woke it to re-read)
        assert vm.command("idle hlt") == "idle: hlt"
        a, b = over(vm)
        fractions = kitlib.halted_fraction(a, b, vm.ready_time)
        assert all(f > 0.5 for f in fractions), fractions
        assert all(h > 0 or c["halt_since"] != 0 for h, c in zip(delta(a, b, "halts"), b.cpus))
        runnable = runnable_pct(vm, 0.6)        # the host's view: no vCPU thread asks for a core
        assert all(p < 30 for p in runnable.values()), runnable

        # a periodic tick on every core, then none at all: no thread sleeps
        assert vm.command("tick 250") == "tick: 250 Hz"
        a, b = over(vm)
        assert_rate(guest_rate(a, b, "timer_irqs"), 250)
        assert vm.command("tick none") == "tick: none"
        a, b = over(vm)
        assert delta(a, b, "timer_irqs") == [0, 0], delta(a, b, "timer_irqs")

        # mistakes are answered, never a panic; VM.command() raises them with the guest's words
        refusals = {"tick fast": "tick: bad rate 'fast' (tick <Hz> from 1 to 10000, or tick none)",
                    "tick 0": "tick: bad rate '0'", "idle nap": "idle: bad policy 'nap'",
                    "xyz": "console: unknown command 'xyz' (try help)"}
        for line, words in refusals.items():
            with pytest.raises(kitlib.KitError, match=re.escape(words)):
                vm.command(line)
        assert vm.command("help").startswith("help:")        # still listening
        assert vm.panic is None
        assert b.cpus[0]["uart_irqs"] > 0 and all(c["uart_irqs"] == 0 for c in b.cpus[1:])


@requires_qemu
@pytest.mark.parametrize("append", ["idle=spin", "idle=hlt"])
def test_lateness_line_is_well_formed(idle, append):
    with kitlib.VM(idle, cpus=2, append=f"app=lateness sleeps=200 {append}") as vm:
        vm.wait_ready()
        line = vm.expect(protocol.LATENESS_LINE, timeout=60, exact=False)
        p = protocol.percentiles(line)
        assert p.n == 2 * 200 and p.sent is None
        assert p.min_ns <= p.p50_ns <= p.p90_ns <= p.p99_ns <= p.max_ns, line
        # deadlines 0.2 to 3 ms ahead: a wake-up a second late is a timer that never fired
        assert p.max_ns < 1e9, line
        time.sleep(0.2)
        assert vm.running and vm.panic is None          # it idles on


# Reading the guest's percentile lines, and the results' views, without QEMU.

def test_a_lateness_line_reads_as_microseconds():
    r = Latency.parse("hlt", "lateness: n=600 min=900 p50=12000 p90=30500 p99=80000 max=95000 ns\n",
                      host_pct=0.5)
    assert (r.n, r.p50_us, r.p90_us, r.p99_us, r.max_us) == (600, 12.0, 30.5, 80.0, 95.0)
    assert r.sent is None and r.missed == 0 and r.host_pct == 0.5


def test_a_line_without_counts_is_refused():
    with pytest.raises(ValueError, match="not a percentile line"):
        Latency.parse("x", "kit: ready")


def test_a_comparison_shows_every_setup_and_is_valid_json():
    runs = LatencyComparison("t", (
        Latency.parse("spin", "prodcons: poll=spin sent=10 seen=10 min=900 p50=1000 p90=2000 p99=3000 "
                              "max=3000 ns",
                      host_pct=200.0, quiet_pct=199.0),
        Latency.parse("toro", "prodcons: poll=toro sent=10 seen=0 min=- p50=- p90=- p99=- max=- ns",
                      host_pct=100.0, quiet_pct=100.0, after_pct=99.0),
    ))
    assert runs["toro"].n == 0
    with pytest.raises(KeyError, match="setups: spin, toro"):
        runs["wait"]
    assert [row["setup"] for row in runs.table()] == ["spin", "toro"]
    assert "after_host_pct" not in runs.table()[0] and runs.table()[1]["after_host_pct"] == 99.0
    text, page = str(runs), runs._repr_html_()
    assert "spin" in text and "toro" in text and "<table>" in page and "QEMU while quiet" in page
    data = json.loads(json.dumps(runs.to_dict()))      # NaN became null
    assert data["results"][1]["p50_us"] is None
    assert len(runs.figure().data) == 4                 # p50, p90, p99, max


@requires_qemu
def test_percentiles_of_known_arrays_are_the_nearest_ranks(idle):
    """The guest's percentile self-test: 1..100 gives p50 50, p90 90, p99 99, and edge cases.

    The lateness and reaction lines print these percentiles; nothing else
    checks their values.
    """
    with kitlib.VM(idle, cpus=1, append="test", boot_timeout=120) as vm:
        vm.wait_exit(timeout=120)
    assert protocol.test_results(vm.console).get("percentile", "missing") is None, vm.tail()


# The lessons' views of a result: tails and what a tick costs, without QEMU.

def _late(label: str, p90: int, p99: int, ran: float, wanted: float) -> Latency:
    line = f"lateness: n=600 min=1000 p50=2000 p90={p90} p99={p99} max={p99} ns"
    return Latency.parse(label, line, ran={0: ran, 1: ran}, wanted={0: wanted, 1: wanted}, seconds=2.0)


def test_tails_judge_spinning_only_where_its_vcpus_waited_for_a_host_core():
    from kitlib.idle import WAITED_PCT, tails

    halt = _late("hlt", 90_000, 400_000, 1.0, 1.5)
    crowded = LatencyComparison("t", (_late("spin", 5_000_000, 17_000_000, 50.0, 100.0), halt))
    t = tails(crowded, "spin", "hlt")
    assert t.waited_pct == pytest.approx(50.0) and t.outnumbered and t.longer and t.holds
    assert "outnumbered" in t.verdict() and "longer tail" in t.verdict() and "17,000 µs" in t.verdict()
    # outnumbered, and no longer tail at either percentile: the claim fails
    worse = LatencyComparison("t", (_late("spin", 50_000, 300_000, 50.0, 100.0), halt))
    assert not tails(worse, "spin", "hlt").holds
    assert "yet spinning does not have the longer tail" in tails(worse, "spin", "hlt").verdict()
    # a core each: the run does not test the claim, and says so instead of failing
    free = LatencyComparison("t", (_late("spin", 50_000, 300_000, 99.0, 100.0), halt))
    t = tails(free, "spin", "hlt")
    assert t.waited_pct < WAITED_PCT and not t.outnumbered and t.holds
    assert "does not test the claim" in t.verdict() and "300 µs" in t.verdict()
    assert "vCPUs waited for a host core" in t._repr_html_()
    # only the vCPUs named count: CPU 1 spun on its own core
    mixed = Latency.parse("spin", "lateness: n=10 min=1 p50=2 p90=3 p99=4 max=5 ns",
                          ran={0: 20.0, 1: 99.0}, wanted={0: 100.0, 1: 100.0}, seconds=1.0)
    assert mixed.waited_pct([1]) == pytest.approx(1.0) and mixed.waited_pct([0]) == pytest.approx(80.0)


def test_a_consumer_may_miss_a_message_for_each_period_its_vcpus_waited():
    line = "prodcons: poll=spin sent=200 seen=193 min=1 p50=2 p90=3 p99=4 max=5 ns"
    quiet_host = Latency.parse("spin", line, ran={0: 1.0, 1: 100.0}, wanted={0: 1.0, 1: 100.0},
                               seconds=2.0, period_us=10_000)
    assert quiet_host.missed == 7 and quiet_host.missed_allowed() == 6 and not quiet_host.keeps_up
    assert "more than the 6" in quiet_host.missed_verdict()
    # the consumer's vCPU waited 20 ms for a host core: two periods, two more messages may go
    busy = Latency.parse("spin", line, ran={0: 1.0, 1: 99.0}, wanted={0: 1.0, 1: 100.0},
                         seconds=2.0, period_us=10_000)
    assert busy.waited_s() == pytest.approx(0.02) and busy.missed_allowed() == 8 and busy.keeps_up
    assert "within the 8" in busy.missed_verdict() and "waited 20 ms" in busy.missed_verdict()
    # without the host's view, only the slack
    assert Latency.parse("spin", line).missed_allowed() == 6


def test_tick_cost_sets_each_rate_beside_tickless_on_a_readable_axis():
    from kitlib.idle import tick_cost
    from kitlib.results import Experiment, PhaseResult

    def phase(label: str, total: float, irqs: float) -> PhaseResult:
        return PhaseResult(label, 2, 10, {0: total / 2, 1: total / 2}, total, {0: 1.0, 1: 1.0},
                           {0: 1.0, 1: 1.0}, {"timer_irqs": {0: irqs / 2, 1: irqs / 2}})

    run = Experiment("t", (phase("boot", 0.1, 0), phase("tick 100", 1.0, 200), phase("tick 1000", 8.1, 2000),
                           phase("tick none", 0.1, 0)), ())
    cost = tick_cost(run)
    assert [r["label"] for r in cost.rows] == ["tick none", "tick 100", "tick 1000"]     # by rate, no boot
    assert cost["tick 100"]["us_per_tick"] == pytest.approx(45.0)
    assert cost["tick 1000"]["over_pct"] == pytest.approx(8.0)
    lo, hi = cost.figure().layout.yaxis.range
    assert lo < 0 and 8.0 < hi < 12.0                   # the points fill the axis, not 0-100
    assert "host µs a tick" in str(cost) and json.loads(json.dumps(cost.to_dict()))["rows"][0]["label"] == "tick none"
