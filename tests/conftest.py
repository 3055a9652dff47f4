"""Shared fixtures: kernel images built once per session, and a QEMU leak check.

Tests that boot need QEMU; they are skipped only when QEMU is truly absent
(the missing-QEMU test itself still runs).  After every test, no QEMU that
this test process started may still be running.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

import kitlib
from kitlib.errors import QemuNotFound


def _qemu_present() -> bool:
    try:
        kitlib.find_qemu()
    except QemuNotFound:
        return False
    return True


HAVE_QEMU = _qemu_present()
requires_qemu = pytest.mark.skipif(
    not HAVE_QEMU, reason="QEMU is not installed (sudo apt-get install qemu-system-x86)"
)


def qemu_pids(name_prefix: str) -> list[int]:
    """Live (non-zombie) QEMU processes whose ``-name`` starts with ``name_prefix``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if not argv or b"qemu-system" not in argv[0]:
            continue
        for i, arg in enumerate(argv[:-1]):
            if arg == b"-name" and argv[i + 1].decode(errors="replace").startswith(name_prefix):
                found.append(int(entry))
    return found


def pid_gone(pid: int) -> bool:
    """True once ``pid`` no longer runs (gone, or a zombie waiting to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


# QEMUs that a module-scoped fixture shares between its tests, by pid: they
# outlive each test on purpose, and the fixture stops them itself.
SHARED_QEMU: set[int] = set()


@pytest.fixture(autouse=True)
def no_leaked_qemu():
    """Fail a test that leaves one of this process's QEMUs running (and kill it)."""
    yield
    prefix = f"kit-{os.getpid()}-"
    deadline = time.monotonic() + 2.0
    leaked = [pid for pid in qemu_pids(prefix) if pid not in SHARED_QEMU]
    while leaked and time.monotonic() < deadline:
        time.sleep(0.05)
        leaked = [pid for pid in qemu_pids(prefix) if pid not in SHARED_QEMU]
    for pid in leaked:
        os.kill(pid, signal.SIGKILL)
    assert not leaked, f"QEMU processes left running after the test: {leaked}"


@pytest.fixture(scope="session")
def boot_image() -> kitlib.Image:
    """The boot stage's kernel, built once."""
    return kitlib.build("boot")


@pytest.fixture(scope="session")
def probes() -> dict[str, kitlib.Image]:
    """The probe kernels (halt, spin, exit), built once."""
    return {kind: kitlib.probe(kind) for kind in ("halt", "spin", "exit")}


# -- two views of one claim about cost
#
# The guest's counters say what the kernel believes it did; only the host
# sees what a vCPU thread cost.  A claim that a core halts is checked from
# both sides: an idle loop that counts a halt and then spins fools the first.

def host_view(vm: kitlib.VM, seconds: float, hz: float = 10.0) -> list[kitlib.Sample]:
    """The sampler's readings of ``vm`` over ``seconds`` (the first only sets its baseline)."""
    with kitlib.Sampler(hz=hz) as s:
        s.watch(vm, "view")
        time.sleep(seconds)
        s.unwatch()
    samples = s.phase_samples("view")
    assert len(samples) >= max(2, int(seconds * hz / 2)), f"the sampler read {vm.name} {len(samples)} times"
    return samples


def runnable_pct(vm: kitlib.VM, seconds: float) -> dict[int, float]:
    """% of ``seconds`` each vCPU thread was runnable (running or waiting for a host core).

    Load does not change it much: a vCPU that never halts is runnable all
    the time however few host cores it gets; a halted one is not runnable."""
    samples = host_view(vm, seconds)
    return {n: sum(x.wanted[n] for x in samples) / len(samples) for n in samples[0].wanted}


def guest_rate(a: kitlib.StatsSnapshot, b: kitlib.StatsSnapshot, name: str) -> list[float]:
    """Events a second of counter ``name`` per CPU over a -> b, by the guest's clock."""
    if a.guest_tsc and b.guest_tsc and b.tsc_hz:
        seconds = (b.guest_tsc - a.guest_tsc) / b.tsc_hz
    else:                                   # no host TSC: the guest's rate anchored at ready
        seconds = b.host_time - a.host_time
    assert seconds > 0, (a, b)
    return [(cb[name] - ca[name]) / seconds for ca, cb in zip(a.cpus, b.cpus)]


def panic_reason(image: kitlib.Image, append: str, *, cpus: int = 1, timeout: float = 30.0) -> str:
    """The reason of the panic in which booting ``image`` with ``append`` must end, before ready."""
    with kitlib.VM(image, cpus=cpus, append=append) as vm:
        with pytest.raises(kitlib.GuestPanic) as err:
            vm.wait_ready(timeout=timeout)
    return err.value.reason
