"""kitlib's core imports no plotting or widget library: the CLI, benchmarks and
headless runs work where plotly, ipywidgets and anywidget are missing."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from conftest import requires_qemu

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIEWS = ("plotly", "ipywidgets", "anywidget")


def run(code: str, *, block: bool) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh Python whose path starts at this tree; with
    ``block`` the view libraries cannot be imported there."""
    prelude = "import sys\n"
    if block:
        prelude += "".join(f"sys.modules[{name!r}] = None\n" for name in VIEWS)
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=120)


def test_import_kitlib_loads_no_view_library():
    done = run("""
        import kitlib
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("plotly", "ipywidgets", "anywidget"))
        print(kitlib.__file__)
        print(loaded)
    """, block=False)
    assert done.returncode == 0, done.stderr
    path, loaded = done.stdout.splitlines()
    assert path.startswith(ROOT), path
    assert loaded == "[]", loaded


def test_the_core_and_the_cli_work_without_plotly_or_widgets():
    done = run("""
        import kitlib, kitlib.cli, kitlib.bench
        assert callable(kitlib.build) and isinstance(kitlib.VM, type)
        assert kitlib.protocol.IDLE_POLICIES
        try:
            kitlib.IdlePanel
        except ImportError:
            print("views need their libraries")
    """, block=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "views need their libraries"       # the block is real


def test_a_view_name_loads_its_module_on_first_use():
    done = run("""
        import kitlib
        assert "plotly" not in sys.modules
        panel = kitlib.ConsolePanel
        assert "plotly" in sys.modules and "ipywidgets" in sys.modules
        assert panel is sys.modules["kitlib.controls"].ConsolePanel
    """, block=False)
    assert done.returncode == 0, done.stderr


@requires_qemu
def test_a_headless_measurement_needs_no_plotly():
    done = run("""
        import kitlib
        run = kitlib.compare_idle(kitlib.build("boot"), seconds=0.4, settle=0.1, show=False, progress=False)
        print(run.table()[0]["phase"], run.table()[1]["phase"])
        try:
            run.figure()
        except ImportError:
            print("the figure needs plotly")
    """, block=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["spin hlt", "the figure needs plotly"], done.stdout
