"""Stage 'cores': every CPU the MADT lists comes up, under TCG, 1 to 16 of them."""

from __future__ import annotations


import pytest

import kitlib
from kitlib import protocol
from kitlib.cores import Bringup
from kitlib.errors import KitError
from kitlib.guest import StatsSnapshot

from conftest import requires_qemu, runnable_pct



@pytest.fixture(scope="module")
def cores() -> kitlib.Image:
    return kitlib.build("cores")


@requires_qemu
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


@requires_qemu
@pytest.mark.parametrize("cpus", [1, 4, 16])
def test_self_tests_pass_on_every_cpu(cores, cpus):
    with kitlib.VM(cores, cpus=cpus, append="test", boot_timeout=180) as vm:
        assert vm.wait_exit(timeout=180) == 33
        assert protocol.TESTS_PASSED in vm.console


@requires_qemu
def test_an_exception_on_an_ap_names_its_cpu(cores):
    with kitlib.VM(cores, cpus=2, append="crash=ap-ud") as vm:
        with pytest.raises(kitlib.GuestPanic, match=r"cpu 1: exception 6 \(#UD"):
            vm.wait_ready()


@requires_qemu
def test_every_cpu_idles_by_the_policy(cores):
    """With hlt every CPU's record says halted and its vCPU thread sleeps; with spin neither."""
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
            # the host's view: a halted vCPU thread asks for no host core, a spinning one for a whole one
            runnable = runnable_pct(vm, 0.6)
            assert all((p < 30) if halted else (p > 80) for p in runnable.values()), (policy, runnable)



# Bring-up arithmetic on synthetic stamps, without QEMU.

def snap(t, cpus, hz=1_000_000_000):
    fields = tuple(cpus[0])
    return StatsSnapshot(host_time=t, tsc_hz=hz, cpus=tuple(cpus), valid=True, fields=fields)


def test_bringup_counts_from_the_first_init_ipi():
    s = snap(0.0, [{"sipi_tsc": 1_000_000, "up_tsc": 500_000},
                   {"sipi_tsc": 0, "up_tsc": 3_000_000},
                   {"sipi_tsc": 0, "up_tsc": 12_000_000}])
    b = Bringup.from_stats(s)
    assert b.up_ms == (-0.5, 2.0, 11.0)
    assert b.total_ms == 11.0
    assert "3 CPUs up in 11.00 ms" in str(b)


def test_bringup_needs_the_stamps():
    with pytest.raises(KitError, match="cores"):
        Bringup.from_stats(snap(0.0, [{"idle_passes": 1}]))
