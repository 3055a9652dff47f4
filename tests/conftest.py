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


@pytest.fixture(autouse=True)
def no_leaked_qemu():
    """Fail a test that leaves one of this process's QEMUs running (and kill it)."""
    yield
    prefix = f"kit-{os.getpid()}-"
    deadline = time.monotonic() + 2.0
    leaked = qemu_pids(prefix)
    while leaked and time.monotonic() < deadline:
        time.sleep(0.05)
        leaked = qemu_pids(prefix)
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
