"""Confining QEMU to host CPUs (VM's host_cpus=): how lesson 03 makes vCPUs
outnumber host cores on any host."""

from __future__ import annotations

import os

import pytest

import kitlib
from kitlib import qemu as kq

from conftest import requires_qemu


def allowed(tid: int) -> set[int]:
    return set(os.sched_getaffinity(tid))


def test_a_number_is_the_first_cpus_this_process_may_use():
    mine = sorted(os.sched_getaffinity(0))
    assert kq.host_cpu_set(None) is None
    assert kq.host_cpu_set(1) == {mine[0]}
    assert kq.host_cpu_set(10_000) == set(mine)          # more than there are: all of them
    assert kq.host_cpu_set([mine[-1]]) == {mine[-1]}


@pytest.mark.parametrize("bad", [0, -1, [], [10_000_000], True, "2"])
def test_a_bad_choice_is_a_value_error(bad):
    with pytest.raises(ValueError):
        kq.host_cpu_set(bad)


@requires_qemu
def test_every_thread_of_the_vm_runs_only_on_the_chosen_cpu(boot_image):
    one = kq.host_cpu_set(1)
    with kitlib.VM(boot_image, cpus=2, append="idle=hlt", host_cpus=1) as vm:
        vm.wait_ready()
        vcpus = vm.vcpu_threads()
        tids = [int(t) for t in os.listdir(f"/proc/{vm.pid}/task")]
        assert len(vcpus) == 2, f"expected 2 vCPU threads, QMP named {vcpus}"
        wrong = {t: sorted(allowed(t)) for t in tids if allowed(t) != one}
        assert not wrong, (f"every QEMU thread, the vCPU threads {sorted(vcpus.values())} among them, "
                           f"should run only on host CPU {sorted(one)}; these may run elsewhere: {wrong}")
