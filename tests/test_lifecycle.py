"""QEMU lives and dies with the notebook kernel that started it.

A real Jupyter kernel (ipykernel through jupyter_client, as JupyterLab runs
it) starts a VM; then the cell is interrupted, the kernel restarted, or the
kernel shut down, and QEMU must follow the kernel, not outlive it.
"""

from __future__ import annotations

import time

import pytest
from jupyter_client.manager import start_new_kernel

from conftest import pid_gone, requires_qemu

pytestmark = requires_qemu


def run(client, code: str, timeout: float = 60) -> str:
    """Execute ``code`` in the kernel; return what it printed."""
    out = []
    reply = client.execute_interactive(
        code, timeout=timeout,
        output_hook=lambda msg: out.append(msg["content"].get("text", "")))
    assert reply["content"]["status"] == "ok", reply["content"]
    return "".join(out)


def wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not pid_gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return pid_gone(pid)


@pytest.fixture
def kernel():
    manager, client = start_new_kernel(kernel_name="python3")
    yield manager, client
    client.stop_channels()
    if manager.is_alive():
        manager.shutdown_kernel(now=True)


def start_vm(client, image_path: str) -> int:
    out = run(client, f"import kitlib\nvm = kitlib.VM({image_path!r}).start()\nprint(vm.pid)")
    return int(out.split()[-1])


def test_vm_survives_an_interrupted_cell_and_goes_with_a_restart(kernel, probes):
    manager, client = kernel
    pid = start_vm(client, str(probes["halt"].path))
    client.execute("import time; time.sleep(30)")
    time.sleep(0.5)
    manager.interrupt_kernel()
    time.sleep(1.0)
    assert not pid_gone(pid), "interrupting a cell must not kill the VM the notebook still holds"
    manager.restart_kernel(now=True)
    assert wait_gone(pid, 2.0), "QEMU outlived a kernel restart"


def test_vm_goes_with_a_kernel_shutdown(kernel, probes):
    manager, client = kernel
    pid = start_vm(client, str(probes["spin"].path))
    manager.shutdown_kernel(now=False)
    assert wait_gone(pid, 2.0), "QEMU outlived the kernel's shutdown"
