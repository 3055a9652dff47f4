"""The front door, ./kit, where the kit is already installed (a Binder image,
a JupyterHub user environment) and where a Jupyter server already runs.

Each test copies the script into a bare checkout whose kitlib is this one's,
and runs it with a Python whose environment has that kitlib on its path, as
an image's does.  That Python is a small wrapper that records a JupyterLab
start instead of starting one: no network, no server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kitlib.paths import root

HOSTED = ("BINDER_LAUNCH_HOST", "BINDER_REPO_URL", "BINDER_SERVICE_HOST", "JUPYTERHUB_SERVICE_PREFIX",
          "JUPYTERHUB_API_TOKEN", "JUPYTER_SERVER_URL", "JUPYTER_SERVER_ROOT", "JPY_PARENT_PID")


@pytest.fixture
def checkout(tmp_path: Path) -> dict:
    """A checkout with the script and this kitlib, a Python that has it, and
    Jupyter's runtime directory empty."""
    top = tmp_path / "course" / "idlekit"
    top.mkdir(parents=True)
    (top / "kit").write_bytes((root() / "kit").read_bytes())
    (top / "kitlib").symlink_to(root() / "kitlib")
    log = tmp_path / "lab-argv"
    python = tmp_path / "bin" / "python3"
    python.parent.mkdir()
    python.write_text(f"""#!/bin/sh
# records `python -m jupyterlab ...` in {log} instead of starting a server
if [ "$1" = "-m" ] && [ "$2" = "jupyterlab" ]; then shift 2; printf '%s\\n' "$@" > "{log}"; exit 0; fi
exec "{sys.executable}" "$@"
""")
    python.chmod(0o755)
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in HOSTED and k != "KIT_VENV"}
    env.update(PYTHON=str(python), PYTHONPATH=str(root()), JUPYTER_RUNTIME_DIR=str(runtime))
    return {"top": top, "env": env, "log": log, "runtime": runtime}


def kit(c: dict, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(c["top"] / "kit"), *args], capture_output=True, text=True,
                          env={**c["env"], **env}, timeout=120)


def test_an_installed_kit_is_used_and_no_venv_is_made(checkout):
    done = kit(checkout, "bench", "list")
    assert done.returncode == 0, done.stderr
    assert "boot-idle" in done.stdout, done.stdout
    assert not (checkout["top"] / ".venv").exists(), \
        "./kit made a .venv although the running Python's environment has this checkout's kitlib"


def test_lab_serves_the_repository_root_and_opens_on_lesson_01(checkout):
    done = kit(checkout, "lab", "--no-browser")
    assert done.returncode == 0, done.stderr
    argv = checkout["log"].read_text().splitlines()
    assert f"--ServerApp.root_dir={checkout['top']}" in argv, argv
    assert "--LabApp.default_url=/lab/tree/notebooks/01-boot.ipynb" in argv, argv
    assert "--ip=127.0.0.1" in argv and argv[-1] == "--no-browser", argv
    assert not (checkout["top"] / ".venv").exists()


@pytest.mark.parametrize("var, value, said", [
    ("JUPYTERHUB_SERVICE_PREFIX", "/user/ada/", "JupyterHub"),
    ("BINDER_LAUNCH_HOST", "https://mybinder.org/", "Binder"),
    ("JUPYTER_SERVER_URL", "http://127.0.0.1:8888/", "terminal of a Jupyter server"),
    ("JPY_PARENT_PID", "1", "Jupyter kernel"),
])
def test_lab_inside_a_jupyter_server_starts_none_and_says_what_to_open(checkout, var, value, said):
    done = kit(checkout, "lab", **{var: value, "JUPYTER_SERVER_ROOT": str(checkout["top"].parent)})
    assert done.returncode == 1 and not checkout["log"].exists(), \
        f"./kit lab started a second JupyterLab inside one ({var} set): {done.stderr}"
    assert said in done.stderr and "already running" in done.stderr, done.stderr
    assert "open idlekit/notebooks/01-boot.ipynb" in done.stderr, done.stderr


def _server(runtime: Path, root_dir: Path, token: str = "abc") -> None:
    """A running server's file as jupyter_server writes it (this test's process is its pid)."""
    (runtime / f"jpserver-{os.getpid()}.json").write_text(json.dumps(
        {"url": "http://127.0.0.1:8890/", "root_dir": str(root_dir), "pid": os.getpid(), "token": token}))


def test_lab_points_at_a_running_server_that_serves_this_checkout(checkout):
    _server(checkout["runtime"], checkout["top"].parent)
    done = kit(checkout, "lab")
    assert done.returncode == 1 and not checkout["log"].exists(), done.stderr
    assert "http://127.0.0.1:8890/lab/tree/idlekit/notebooks/01-boot.ipynb?token=abc" in done.stderr, done.stderr


def test_lab_points_at_a_tokenless_server_rooted_at_this_checkout(checkout):
    _server(checkout["runtime"], checkout["top"], token="")
    done = kit(checkout, "lab")
    assert done.returncode == 1 and not checkout["log"].exists(), done.stderr
    assert "  http://127.0.0.1:8890/lab/tree/notebooks/01-boot.ipynb\n" in done.stderr, done.stderr


def test_lab_starts_beside_a_server_that_serves_elsewhere_or_has_gone(checkout, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _server(checkout["runtime"], elsewhere)
    (checkout["runtime"] / "jpserver-999999999.json").write_text(json.dumps(
        {"url": "http://127.0.0.1:8891/", "root_dir": "/", "pid": 999_999_999}))   # no such process
    done = kit(checkout, "lab")
    assert done.returncode == 0 and checkout["log"].exists(), done.stderr
