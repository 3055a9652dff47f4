"""Stage 'spinlocks': every lock keeps a shared counter exact under contention."""

from __future__ import annotations

import math
import re
import time

import pytest

import kitlib
from kitlib import protocol
from kitlib.hostcpu import read_thread_ns
from kitlib.results import PhaseResult
from kitlib.spinlocks import LockResult, jain

from conftest import requires_qemu



@pytest.fixture(scope="module")
def spinlocks() -> kitlib.Image:
    return kitlib.build("spinlocks")


@requires_qemu
@pytest.mark.parametrize("pause", [1, 0])
@pytest.mark.parametrize("kind", ["tas", "ttas", "ticket"])
def test_lock_keeps_the_count_exact_on_four_cpus(spinlocks, kind, pause):
    with kitlib.VM(spinlocks, cpus=4, append=f"app=locks lock={kind} pause={pause} ms=400 idle=hlt") as vm:
        vm.wait_ready()
        assert vm.expect(protocol.verdict("locks"), timeout=60) == protocol.ok("locks") + "\n", vm.tail()
        snap = vm.stats()
    counts = [c["lock_acquires"] for c in snap.cpus]
    assert all(counts), f"every CPU should have taken the lock: {counts}"
    summary = protocol.locks_summary(vm.console)
    assert (summary.lock, summary.pause, summary.cpus) == (kind, bool(pause), 4), summary
    assert summary.increments == sum(counts), (summary, counts)


@requires_qemu
def test_without_a_lock_the_verdict_adds_up(spinlocks):
    """lock=none may or may not lose updates in one run; what is certain is
    that the verdict is one of its two forms and that its numbers agree with
    the per-CPU counts in the stats block."""
    with kitlib.VM(spinlocks, cpus=2, append="app=locks lock=none ms=300 idle=hlt") as vm:
        vm.wait_ready()
        vm.expect(protocol.verdict("locks"), timeout=60)
        counts = [c["lock_acquires"] for c in vm.stats().cpus]
    summary = protocol.locks_summary(vm.console)
    assert summary is not None and (summary.lock, summary.cpus) == ("none", 2), vm.tail()
    assert all(counts) and summary.increments == sum(counts), (summary, counts)
    why = protocol.test_results(vm.console)["locks"]
    if why is not None:
        m = re.fullmatch(r"lost (\d+) of (\d+) increments", why)
        assert m, why
        lost, made = map(int, m.groups())
        # a lost update needs two CPUs' stores to overlap: never all of them
        assert made == summary.increments and 0 < lost < made, (why, summary)


@requires_qemu
def test_self_tests_include_the_locks(spinlocks):
    with kitlib.VM(spinlocks, cpus=4, append="test", boot_timeout=120) as vm:
        assert vm.wait_exit(timeout=120) == 33
        assert protocol.test_results(vm.console).get("spinlock", "missing") is None


TOGETHER = 0.7     # a run counts when each vCPU thread ran at least this share of it


def spins_per_acquisition(spinlocks: kitlib.Image, kind: str, pause: int, tries: int = 4) -> float:
    """All CPUs' spins over all their acquisitions, 2 vCPUs, 300 ms, from the stats block.

    Spins measure contention, and there is contention only while the host
    runs both vCPU threads at once: a run in which it did not (a busy host
    gave one of them less than TOGETHER of the time) says nothing, so it is
    measured again, and after ``tries`` such runs the test is skipped."""
    best = 0.0
    for _ in range(tries):
        with kitlib.VM(spinlocks, cpus=2, append=f"app=locks lock={kind} pause={pause} ms=300 idle=hlt") as vm:
            vm.wait_ready()
            threads = vm.vcpu_threads()
            t0, ran0 = time.monotonic(), {n: read_thread_ns(vm.pid, t) for n, t in threads.items()}
            assert vm.expect(protocol.verdict("locks"), timeout=60) == protocol.ok("locks") + "\n", vm.tail()
            t1, ran1 = time.monotonic(), {n: read_thread_ns(vm.pid, t) for n, t in threads.items()}
            cpus = vm.stats().cpus
        together = min((ran1[n] - ran0[n]) / (1e9 * (t1 - t0)) for n in threads)
        if together >= TOGETHER:
            return sum(c["lock_spins"] for c in cpus) / sum(c["lock_acquires"] for c in cpus)
        best = max(best, together)
    pytest.skip(f"lock={kind} pause={pause}: in {tries} runs the host never ran both vCPUs at once "
                f"(each at least {TOGETHER:.0%} of the time; at best {best:.0%}): no contention to measure")


@pytest.fixture(scope="module")
def spins(spinlocks) -> dict[tuple[str, int], float]:
    """Spins per acquisition of each waiting lock, with and without pause."""
    return {(kind, pause): spins_per_acquisition(spinlocks, kind, pause)
            for kind in ("ttas", "ticket") for pause in (1, 0)}


@requires_qemu
@pytest.mark.parametrize("kind", ["ttas", "ticket"])
def test_pause_makes_each_spin_slower(spinlocks, spins, kind):
    """Under TCG pause ends the translated block: a waiting CPU goes round its
    loop far fewer times per acquisition (measured on 2 vCPUs: ttas 0.2 against
    5 to 25, ticket 1 to 11 against 55 to 80).  Both counts come from the same
    loop in the guest, but how often the two CPUs' waits overlap is the host's
    doing: a pair of runs that does not show it is measured again, twice."""
    seen = [(spins[kind, 1], spins[kind, 0])]
    while seen[-1][1] <= 3 * seen[-1][0] and len(seen) < 3:
        seen.append((spins_per_acquisition(spinlocks, kind, 1), spins_per_acquisition(spinlocks, kind, 0)))
    with_pause, without = seen[-1]
    assert without > 3 * with_pause, \
        f"{kind}: expected at least 3 times the spins/acquisition without pause; (with, without) were {seen}"


@requires_qemu
def test_a_ticket_waiter_waits_out_the_other_critical_section(spins):
    """A ticket lock hands over in turn: a releasing CPU's next ticket is
    behind the waiter's, so nearly every acquisition waits for the other
    CPU's critical section.  Test-and-test-and-set lets the releasing CPU
    take the lock straight back, and its waiters seldom spin (measured on
    2 vCPUs with pause: ticket 1 to 11, ttas 0.1 to 0.3 spins/acquisition).
    Jain's index cannot tell them apart on 2 vCPUs (both 0.998 to 1.0); the
    order itself is the spin-lock self-test's to check."""
    assert spins["ticket", 1] > 2 * spins["ttas", 1], spins


# Fairness and throughput arithmetic on synthetic rates, without QEMU.

def test_jain_is_one_when_equal_and_one_over_n_when_one_takes_all():
    assert jain([5, 5, 5, 5]) == 1.0
    assert jain([9, 0, 0]) == pytest.approx(1 / 3)
    assert jain([1, 2, 3, 4]) == pytest.approx(100 / 120)
    assert math.isnan(jain([0, 0]))


def phase(acq, spins):
    rates = {"lock_acquires": dict(enumerate(acq)), "lock_spins": dict(enumerate(spins))}
    n = len(acq)
    return PhaseResult("ticket pause=1", n, 10, {i: 100.0 for i in range(n)}, 100.0 * n,
                       {i: 0.0 for i in range(n)}, {i: 0.0 for i in range(n)}, rates)


def test_lock_result_sums_throughput_and_spins_per_acquisition():
    r = LockResult("ticket", True, phase([100.0, 300.0], [1000.0, 1000.0]))
    assert r.throughput == 400.0
    assert r.spins_per_acquisition == 5.0
    assert r.fairness == pytest.approx(jain([100, 300]))


@requires_qemu
@pytest.mark.parametrize("cpus", [4, 6])
def test_ticket_lock_lets_cpus_in_in_the_order_they_took_tickets(spinlocks, cpus):
    """The guest's ticketorder self-test: CPUs that took tickets in a known order enter in it.

    Test-and-set or test-and-test-and-set in the ticket lock's place fails it
    (whichever waiter's xchg lands first enters), while the counting test passes.
    """
    with kitlib.VM(spinlocks, cpus=cpus, append="test", boot_timeout=120) as vm:
        vm.wait_exit(timeout=120)
    assert protocol.test_results(vm.console).get("ticketorder", "missing") is None, vm.tail()
