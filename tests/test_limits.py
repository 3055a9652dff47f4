"""What a VM cannot be given is refused before QEMU starts, with the limit;
what kills QEMU for lack of room is named; `kit doctor` checks QEMU and /dev/shm.

The limits are the kernel's own (its headers are read here), so a kernel
that changes one and a library that does not follow fail this file.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest

import kitlib
from kitlib import doctor, limits
from kitlib.errors import GuestExited, KitError

from conftest import requires_qemu

KERNEL = Path(kitlib.root()) / "kernel"


def define(header: str, name: str) -> int:
    m = re.search(rf"^#define\s+{name}\s+(\w+)", (KERNEL / header).read_text(), re.M)
    assert m, f"{name} not in kernel/{header}"
    return int(m.group(1), 0)


def test_the_limits_are_the_kernels():
    assert limits.CPUS_MAX == define("stats.h", "NCPU_MAX")
    assert limits.CMDLINE_MAX == define("defs.h", "CMDLINE_MAX") - 1
    assert limits.CMDLINE_WORDS == define("defs.h", "CMDLINE_ARGS")
    assert limits.MEMORY_MB_MAX << 20 == define("mmu.h", "IDMAP_END")
    assert kitlib.protocol.CONSOLE_LINE_MAX == define("console.c", "LINEMAX") - 1


@pytest.mark.parametrize("cpus", [0, -1, 17, 64, 2.5, True])
def test_cpus_outside_what_the_kernel_brings_up_are_refused(boot_image, cpus):
    with pytest.raises(KitError, match=r"1 to 16 vCPUs"):
        kitlib.VM(boot_image, cpus=cpus)


@pytest.mark.parametrize("mb", [0, 1, limits.MEMORY_MB_MIN - 1, limits.MEMORY_MB_MAX + 1, 1 << 20])
def test_memory_outside_what_boots_is_refused(boot_image, mb):
    with pytest.raises(KitError, match=rf"{limits.MEMORY_MB_MIN} to {limits.MEMORY_MB_MAX} MiB"):
        kitlib.VM(boot_image, memory_mb=mb)


def test_the_edges_are_accepted(boot_image):
    for kw in ({"cpus": 1}, {"cpus": 16}, {"memory_mb": limits.MEMORY_MB_MIN},
               {"memory_mb": limits.MEMORY_MB_MAX}, {"append": "x" * limits.CMDLINE_MAX},
               {"append": " ".join(["a"] * limits.CMDLINE_WORDS)}, {"name": "a" * limits.NAME_MAX},
               {"name": "lesson-1.spin_vm"}):
        kitlib.VM(boot_image, **kw)


@pytest.mark.parametrize("append, what", [
    ("x" * (limits.CMDLINE_MAX + 1), "1024 bytes"),
    ("x" * 70000, "70000 bytes"),
    (" ".join(["a"] * (limits.CMDLINE_WORDS + 1)), "65 words"),
])
def test_a_command_line_the_kernel_cannot_hold_is_refused(boot_image, append, what):
    with pytest.raises(KitError, match=rf"{what}.*at most 1023 bytes and 64 words"):
        kitlib.VM(boot_image, append=append)


@pytest.mark.parametrize("name", ["a/b", "", "../x", "a b", "-a", "a" * (limits.NAME_MAX + 1), "é"])
def test_a_bad_name_is_refused(boot_image, name):
    with pytest.raises(KitError, match="a VM's name is"):
        kitlib.VM(boot_image, name=name)


@requires_qemu
def test_every_stage_boots_16_cpus_in_the_least_memory():
    for stage in ("boot", "sched", "poll"):
        with kitlib.VM(kitlib.build(stage), cpus=16, memory_mb=limits.MEMORY_MB_MIN, boot_timeout=60) as vm:
            vm.wait_ready()


@requires_qemu
def test_two_running_vms_cannot_share_a_name(probes):
    with kitlib.VM(probes["halt"], name="twin") as a:
        b = kitlib.VM(probes["halt"], name="twin")
        with pytest.raises(KitError, match="a VM named 'twin' is running"):
            b.start()
        assert b.pid is None and a.running
    with kitlib.VM(probes["halt"], name="twin") as c:     # free again once stopped
        assert c.running


@requires_qemu
def test_running_and_stop_all(probes):
    vms = [kitlib.VM(probes["halt"]).start() for _ in range(2)]
    assert [v for v in kitlib.running() if v in vms] == vms
    assert kitlib.stop_all() >= 2
    assert kitlib.running() == [] and not any(v.running for v in vms)


@requires_qemu
def test_a_sigbus_death_names_dev_shm(boot_image):
    with kitlib.VM(boot_image) as vm:
        vm.wait_ready()
        os.kill(vm.pid, signal.SIGBUS)
        with pytest.raises(GuestExited, match=r"SIGBUS .*/dev/shm is full.* MiB free") as e:
            vm.expect("never printed", timeout=30)
        assert e.value.status == -signal.SIGBUS


def test_doctor_runs_qemu_and_wants_its_answer(monkeypatch, tmp_path):
    monkeypatch.setenv("KIT_QEMU", "/bin/false")
    check = next(c for c in doctor.checks() if c.name == "qemu")
    assert not check.ok and "status 1" in check.detail and "KIT_QEMU" in check.hint
    fake = tmp_path / "qemu-system-x86_64"
    fake.write_text("#!/bin/sh\necho hello\n")
    fake.chmod(0o755)
    monkeypatch.setenv("KIT_QEMU", str(fake))
    check = next(c for c in doctor.checks() if c.name == "qemu")
    assert not check.ok and "'hello'" in check.detail


@requires_qemu
def test_doctor_accepts_the_real_qemu(monkeypatch):
    monkeypatch.delenv("KIT_QEMU", raising=False)
    check = next(c for c in doctor.checks() if c.name == "qemu")
    assert check.ok and check.detail.startswith("QEMU emulator version"), check


def test_doctor_weighs_free_space_in_dev_shm():
    state = doctor.shm_state()
    check = doctor._shm(state)
    assert check.ok == (state.error is None and state.free_mb >= doctor.SHM_NEED_MB)
    assert f"{state.free_mb:.0f} of {state.total_mb:.0f} MiB free" in check.detail
    full = doctor._shm(doctor.ShmState("/dev/shm", total_mb=64.0, free_mb=10.0, kit_mb=1.0))
    assert not full.ok and "10 of 64 MiB free" in full.detail and "needs 64 MiB" in full.detail
