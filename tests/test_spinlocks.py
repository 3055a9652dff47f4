"""Stage 'spinlocks': every lock keeps a shared counter exact under contention."""

from __future__ import annotations

import math
import os

import pytest

import kitlib
from kitlib import protocol
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
        assert vm.expect([protocol.ok("locks"), protocol.fail("locks")], timeout=60) == protocol.ok("locks"), vm.tail()
        snap = vm.stats()
    counts = [c["lock_acquires"] for c in snap.cpus]
    assert all(counts), f"every CPU should have taken the lock: {counts}"
    summary = protocol.locks_summary(vm.console)
    assert (summary.lock, summary.pause, summary.cpus) == (kind, bool(pause), 4), summary
    assert summary.increments == sum(counts), (summary, counts)


@requires_qemu
def test_without_a_lock_the_guest_checks_and_reports(spinlocks):
    """lock=none may or may not lose updates in one run; either way the verdict is reported."""
    with kitlib.VM(spinlocks, cpus=2, append="app=locks lock=none ms=300 idle=hlt") as vm:
        vm.wait_ready()
        assert vm.expect([protocol.ok("locks"), protocol.fail("locks") + " lost"], timeout=60)


@requires_qemu
def test_self_tests_include_the_locks(spinlocks):
    with kitlib.VM(spinlocks, cpus=4, append="test", boot_timeout=120) as vm:
        assert vm.wait_exit(timeout=120) == 33
        assert protocol.test_results(vm.console).get("spinlock", "missing") is None


@requires_qemu
def test_ticket_lock_is_at_least_as_fair_as_test_and_set(spinlocks):
    """Each CPU's share of the acquisitions, over the same window, one boot each.

    With no more vCPUs than host cores: beyond that the host deschedules
    vCPUs in the ticket queue and their shares follow the host's scheduler
    (lesson 03 measures that case)."""
    cpus = max(2, min(4, os.cpu_count() or 2))
    shares = {}
    for kind in ("tas", "ticket"):
        with kitlib.VM(spinlocks, cpus=cpus, append=f"app=locks lock={kind} ms=600 idle=hlt") as vm:
            vm.wait_ready()
            vm.expect([protocol.ok("locks"), protocol.fail("locks")], timeout=60)
            shares[kind] = jain([c["lock_acquires"] for c in vm.stats().cpus])
    assert shares["ticket"] >= shares["tas"] - 0.01, shares



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
