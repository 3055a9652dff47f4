"""Stage 'cores': every CPU the MADT lists comes up, under TCG, 1 to 16 of them."""

from __future__ import annotations


import pytest

import kitlib
from kitlib import protocol
from kitlib.cores import Bringup

from conftest import requires_qemu

pytestmark = requires_qemu


@pytest.fixture(scope="module")
def cores() -> kitlib.Image:
    return kitlib.build("cores")


@pytest.mark.parametrize("cpus", [1, 2, 4, 8, 16])
def test_every_cpu_comes_up(cores, cpus):
    with kitlib.VM(cores, cpus=cpus, append="idle=hlt", boot_timeout=180) as vm:
        vm.wait_ready()
        up = protocol.cpus_up(vm.console)
        assert up == list(range(cpus)), vm.console
        snap = vm.stats()
        assert snap.ncpu == cpus
        bringup = Bringup.from_stats(snap)
        assert all(ms >= 0 for ms in bringup.up_ms[1:]), bringup   # APs after the first INIT
        assert all(c["up_tsc"] for c in snap.cpus)


@pytest.mark.parametrize("cpus", [1, 4, 16])
def test_self_tests_pass_on_every_cpu(cores, cpus):
    with kitlib.VM(cores, cpus=cpus, append="test", boot_timeout=180) as vm:
        assert vm.wait_exit(timeout=180) == 33
        assert protocol.TESTS_PASSED in vm.console


def test_an_exception_on_an_ap_names_its_cpu(cores):
    with kitlib.VM(cores, cpus=2, append="crash=ap-ud") as vm:
        with pytest.raises(kitlib.GuestPanic, match=r"cpu 1: exception 6 \(#UD"):
            vm.wait_ready()


def test_every_cpu_idles_by_the_policy(cores):
    """With hlt every CPU's record says halted; with spin none does."""
    for policy, halted in (("hlt", True), ("spin", False)):
        with kitlib.VM(cores, cpus=2, append=f"idle={policy}") as vm:
            vm.wait_ready()
            import time

            time.sleep(0.3)
            a = vm.stats()
            time.sleep(0.5)
            b = vm.stats()
            fractions = kitlib.halted_fraction(a, b, vm.ready_time)
            assert all((f > 0.95) if halted else (f < 0.05) for f in fractions), (policy, fractions)
