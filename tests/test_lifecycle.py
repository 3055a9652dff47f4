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


def run_cell(client, code: str, cell_id: str, timeout: float = 60) -> str:
    """Execute ``code`` as the notebook cell ``cell_id`` (JupyterLab sends its id as cellId)."""
    msg = client.session.msg("execute_request", {
        "code": code, "silent": False, "store_history": True, "user_expressions": {},
        "allow_stdin": False, "stop_on_error": True})
    msg["metadata"]["cellId"] = cell_id
    client.shell_channel.send(msg)
    out: list[str] = []
    reply = None
    idle = False
    while reply is None or not idle:
        if reply is None:
            try:
                r = client.get_shell_msg(timeout=0.05)
                if r["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
                    reply = r
            except Exception:
                pass
        try:
            m = client.get_iopub_msg(timeout=0.05)
        except Exception:
            continue
        if m["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
            continue
        if m["msg_type"] == "stream":
            out.append(m["content"]["text"])
        idle = m["msg_type"] == "status" and m["content"]["execution_state"] == "idle"
    assert reply["content"]["status"] == "ok", reply["content"]
    return "".join(out)


def test_a_cell_run_again_stops_the_vm_its_last_run_started(kernel, probes):
    """The output history keeps each run's VM object; only its QEMU must go."""
    manager, client = kernel
    image = str(probes["spin"].path)
    run_cell(client, "import kitlib", "setup")
    pids = []
    for _ in range(4):
        out = run_cell(client, f"vm = kitlib.VM({image!r}).start()\nprint(vm.pid)\nvm", "boot-cell")
        pids.append(int(out.split()[-1]))
    assert all(wait_gone(pid, 5.0) for pid in pids[:3]), \
        [pid for pid in pids[:3] if not pid_gone(pid)]
    assert not pid_gone(pids[3]), "the latest run's VM must live on"
    # Another cell leaves it alone; running() sees it, stop_all() stops it.
    assert run_cell(client, "print([v.pid for v in kitlib.running()])", "other").split()[-1] == f"[{pids[3]}]"
    assert run_cell(client, "print(kitlib.stop_all(), kitlib.running())", "other").split() == ["1", "[]"]
    assert wait_gone(pids[3], 5.0)
