"""Stage 'sched': threads, sleep, cross-core wake-ups, and idle policies."""

from __future__ import annotations

import time

import pytest

import kitlib
from kitlib import protocol
from kitlib.hostcpu import read_process_ns

from conftest import panic_reason, requires_qemu

pytestmark = requires_qemu


@pytest.fixture(scope="module")
def sched() -> kitlib.Image:
    return kitlib.build("sched")


@pytest.mark.parametrize("append, cpus", [
    ("test idle=spin", 2),
    ("test idle=hlt", 2),
    ("test idle=hlt tick=none", 2),
    ("test idle=hlt tick=none", 4),
    ("test idle=hlt", 4),
])
def test_scheduler_self_tests_and_ping_pong_finish(sched, append, cpus):
    """The ping-pong of 100,000 wake-ups between two cores ends: no wake-up is lost."""
    with kitlib.VM(sched, cpus=cpus, append=append, boot_timeout=120) as vm:
        assert vm.wait_exit(timeout=120) == 33, vm.tail()
    for name in ("yield", "sleep", "remote", "pingpong"):
        assert protocol.test_results(vm.console).get(name, "missing") is None, vm.tail()


def host_ns_over(vm: kitlib.VM, seconds: float) -> float:
    a = read_process_ns(vm.pid)
    time.sleep(seconds)
    return read_process_ns(vm.pid) - a


def test_sleeping_threads_cost_a_core_each_with_spin_and_little_with_hlt(sched):
    """All threads asleep most of the time: spin idles at full cost, hlt near the floor."""
    cost = {}
    for policy in ("spin", "hlt"):
        with kitlib.VM(sched, cpus=2, append=f"app=sleepers idle={policy} tick=none") as vm:
            vm.wait_ready()
            time.sleep(0.5)
            before = vm.stats()
            cost[policy] = host_ns_over(vm, 1.5)
            after = vm.stats()
        assert all(b["ctx_switches"] > a["ctx_switches"] for a, b in zip(before.cpus, after.cpus)), \
            "the sleepers should keep switching on every core"
    assert cost["hlt"] < cost["spin"] / 5, cost


def test_an_unknown_app_is_a_panic_that_lists_this_stages_apps(sched):
    assert panic_reason(sched, "app=nosuch", timeout=30) == "unknown app 'nosuch' (app=locks or app=sleepers)"


def test_an_app_of_a_later_stage_names_the_stage_it_comes_with(sched):
    assert panic_reason(sched, "app=lateness", timeout=30) == ("app lateness comes with stage idle, this is stage sched "
                                "(app=locks or app=sleepers)")
