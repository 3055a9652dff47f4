"""Stage 'spinlocks': every lock keeps a shared counter exact under contention."""

from __future__ import annotations

import os

import pytest

import kitlib
from kitlib import protocol
from kitlib.spinlocks import jain

from conftest import requires_qemu

pytestmark = requires_qemu


@pytest.fixture(scope="module")
def spinlocks() -> kitlib.Image:
    return kitlib.build("spinlocks")


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


def test_without_a_lock_the_guest_checks_and_reports(spinlocks):
    """lock=none may or may not lose updates in one run; either way the verdict is reported."""
    with kitlib.VM(spinlocks, cpus=2, append="app=locks lock=none ms=300 idle=hlt") as vm:
        vm.wait_ready()
        assert vm.expect([protocol.ok("locks"), protocol.fail("locks") + " lost"], timeout=60)


def test_self_tests_include_the_locks(spinlocks):
    with kitlib.VM(spinlocks, cpus=4, append="test", boot_timeout=120) as vm:
        assert vm.wait_exit(timeout=120) == 33
        assert protocol.test_results(vm.console).get("spinlock", "missing") is None


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
