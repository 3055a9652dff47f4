"""A lesson in a real JupyterLab, driven by headless Chromium through Playwright.

:class:`Lab` starts JupyterLab as ``./kit lab`` does (bound to 127.0.0.1,
with the kit's lab settings from ``lab/settings``), but on a free port, with
a token, a runtime, user-settings and workspaces directory of its own, and
serving a temporary copy of the notebooks, so a run saves nothing into the
repository.  :class:`LabPage` is the notebook as a student sees it: the
menus, its cells' prompts, the live plots' data (plotly keeps each figure's
traces on its graph div) and the widgets' buttons.

The browser is Debian's ``chromium`` (``/usr/bin/chromium``, or
``$KIT_CHROMIUM``); Playwright is pointed at it and never downloads one.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
LAB_SETTINGS = ROOT / "lab" / "settings"     # ./kit lab's --LabApp.app_settings_dir

CHROMIUM_INSTALL_HINT = "sudo apt-get install chromium   (or: ./kit setup)"
PLAYWRIGHT_INSTALL_HINT = f"{sys.executable} -m pip install playwright   (or: ./kit setup)"

# Chromium's switches for a headless run on a build machine: no sandbox (CI
# runs as root, where Chromium's sandbox will not start), no GPU, and none of
# its own traffic (QUIC, component updates, sync, background requests).
# Playwright adds its own automation switches to these.
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync")

T = TypeVar("T")


class Timeout(AssertionError):
    """A condition the test waited for did not come in time."""


def chromium() -> str | None:
    """The system's Chromium, or None."""
    path = os.environ.get("KIT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    return path if os.access(path, os.X_OK) else None


def wait_for(what: str, check: Callable[[], T], timeout: float, every: float = 0.25) -> T:
    """Poll ``check`` until it returns something true; raise Timeout naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Timeout(f"waited {timeout:.0f} s for {what}, and it did not happen (last seen: "
                          f"{value!r}); a busy host is slower, but not by this much: more likely "
                          "it never happens")
        time.sleep(every)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A JupyterLab server of its own, serving a copy of some notebooks.

    Its kernels inherit its environment: this tree's kitlib first on the
    path, and no KITLIB_HEADLESS, so that they draw live widgets as in a
    student's lab."""

    def __init__(self, workdir: Path, notebooks: list[str], settings: Path = LAB_SETTINGS) -> None:
        self.workdir = workdir
        self.settings = settings
        self.root = workdir / "root"
        self.root.mkdir(parents=True)
        for name in notebooks:
            shutil.copy2(ROOT / "notebooks" / name, self.root / name)
        self.token = secrets.token_hex(16)
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.log_path = workdir / "lab.log"

    def start(self, timeout: float = 120.0) -> "Lab":
        env = dict(os.environ)
        env.pop("KITLIB_HEADLESS", None)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
        for var, sub in (("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTER_CONFIG_DIR", "config"),
                         ("JUPYTER_DATA_DIR", "data"), ("IPYTHONDIR", "ipython")):
            env[var] = str(self.workdir / sub)          # nothing read from or left in the user's
        argv = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
                f"--port={_free_port()}", f"--IdentityProvider.token={self.token}",
                f"--ServerApp.root_dir={self.root}",
                f"--LabApp.app_settings_dir={self.settings}",
                f"--LabApp.user_settings_dir={self.workdir / 'user-settings'}",
                f"--LabApp.workspaces_dir={self.workdir / 'workspaces'}"]
        if os.getuid() == 0:
            argv.append("--allow-root")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(argv, cwd=self.root, env=env, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            info = wait_for("JupyterLab to write its server file", self._server_info, timeout)
            self.url = info["url"].rstrip("/")
            wait_for("JupyterLab to answer /api/status", lambda: self._get("/api/status") is not None, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _server_info(self) -> dict | None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"JupyterLab exited with status {self.proc.returncode} before it "
                                 f"served; its log:\n{self.log_text()[-3000:]}")
        path = self.workdir / "runtime" / f"jpserver-{self.proc.pid}.json"
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def _request(self, method: str, path: str) -> Any:
        req = urllib.request.Request(f"{self.url}{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read()
        return json.loads(body) if body else {}

    def _get(self, path: str) -> Any:
        try:
            return self._request("GET", path)
        except (OSError, urllib.error.URLError, ValueError):
            return None

    def kernels(self) -> list[dict]:
        """The server's running kernels (its REST API)."""
        return self._get("/api/kernels") or []

    def kernel_pids(self) -> list[int]:
        """Process ids of this server's kernels: ipykernel processes whose connection
        file is in its runtime directory (so found even once the server is gone)."""
        runtime = str(self.workdir / "runtime").encode()
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    argv = f.read()
            except OSError:
                continue
            if b"ipykernel" in argv and runtime in argv:
                pids.append(int(entry))
        return pids

    def stop(self, timeout: float = 60.0) -> None:
        """Shut the server down (its kernels with it); kill what is left after ``timeout``."""
        if self.proc is None:
            return
        kernels = self.kernel_pids()         # each in a session of its own: killpg below misses them
        if self.proc.poll() is None:
            try:
                self._request("POST", "/api/shutdown")
            except (OSError, urllib.error.URLError, ValueError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)     # anything of its session still there
        except ProcessLookupError:
            pass
        for pid in set(kernels) & set(self.kernel_pids()):
            try:
                os.kill(pid, signal.SIGKILL)        # a kernel the shutdown missed (its QEMU follows it)
            except ProcessLookupError:
                pass
        self.proc.wait()
        self.log.close()

    def __enter__(self) -> "Lab":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- the page --------------------------------------------------------------

# Each cell of the notebook on show: code or not, and its prompt (JupyterLab
# shows "[ ]:" before a run, "[*]:" while queued or running, "[n]:" after).
_CELLS_JS = """() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell')]
  .map(c => ({
    code: c.classList.contains('jp-CodeCell'),
    prompt: (c.querySelector('.jp-InputArea-prompt') || {}).textContent || '',
  }))"""

# Each plotly graph div (the live widget's and the static figures') keeps its
# figure: the title, each trace's x and y by the trace's name, and the phase
# labels (annotations placed on the x axis).  ``live`` says whether it is a
# widget view (a static figure is drawn by plotly's renderer for its MIME
# type, class jp-RenderedPlotly); ``cell`` is the index of the cell showing it.
_PLOTS_JS = """() => {
  const cells = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell')];
  const arr = v => (v && typeof v.length === 'number') ? Array.from(v) : [];
  const plots = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell .js-plotly-plot')];
  return plots.map(gd => ({
    cell: cells.indexOf(gd.closest('.jp-Cell')),
    live: !gd.classList.contains('jp-RenderedPlotly'),
    title: ((gd.layout || {}).title || {}).text || '',
    traces: Object.fromEntries((gd.data || []).map(t => [t.name, {x: arr(t.x), y: arr(t.y)}])),
    phases: ((gd.layout || {}).annotations || []).filter(a => a.xref === 'x').map(
        a => ({label: a.text, x: a.x})),
  }));
}"""


@dataclass(frozen=True)
class Cell:
    code: bool
    prompt: str

    @property
    def running(self) -> bool:
        return "*" in self.prompt

    @property
    def done(self) -> bool:
        return any(ch.isdigit() for ch in self.prompt)


@dataclass(frozen=True)
class Plot:
    """A plotly figure on the page: its title, its traces' x and y, its phase labels."""
    cell: int
    live: bool
    title: str
    traces: dict[str, dict[str, list]]
    phases: list[dict]

    @property
    def points(self) -> int:
        """Points drawn, over all traces."""
        return sum(len(tr["x"]) for tr in self.traces.values())

    def phase_spans(self) -> list[tuple[str, float, float]]:
        """Each phase label with the x where it starts and where the next starts (or the last x)."""
        xs = [x for tr in self.traces.values() for x in tr["x"] if x is not None]
        end = max(xs) if xs else 0.0
        marks = sorted((p["x"], p["label"]) for p in self.phases)
        return [(label, x0, marks[i + 1][0] if i + 1 < len(marks) else end)
                for i, (x0, label) in enumerate(marks)]

    def mean(self, name: str, x0: float, x1: float) -> tuple[float, int]:
        """The mean of trace ``name``'s y over x0 <= x < x1, and how many points it took."""
        tr = self.traces[name]
        ys = [y for x, y in zip(tr["x"], tr["y"])
              if x is not None and y is not None and x0 <= x < x1 and y == y]
        return (sum(ys) / len(ys) if ys else float("nan")), len(ys)


class LabPage:
    """A notebook open in JupyterLab, in a Playwright page."""

    def __init__(self, page: Any, lab: Lab, shots: Path) -> None:
        self.page = page
        self.lab = lab
        self.shots = shots
        shots.mkdir(parents=True, exist_ok=True)

    def open_lab(self, timeout: float = 180.0) -> None:
        """Open JupyterLab with no document and wait until its launcher shows."""
        self.page.goto(f"{self.lab.url}/lab?token={self.lab.token}", timeout=timeout * 1000)
        self.page.wait_for_selector(".jp-Launcher", timeout=timeout * 1000)

    def open(self, name: str, timeout: float = 180.0) -> None:
        """Open notebook ``name`` and wait until its kernel is idle."""
        self.page.goto(f"{self.lab.url}/lab/tree/{name}?token={self.lab.token}",
                       timeout=timeout * 1000)
        self.page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=timeout * 1000)
        wait_for(f"the kernel of {name} to start and be idle", self.kernel_idle, timeout, every=0.5)

    def kernel_idle(self) -> bool:
        return any(k.get("execution_state") == "idle" for k in self.lab.kernels())

    def command(self, menu: str, command: str) -> None:
        """Pick ``command`` (its id, e.g. notebook:run-all-cells) from the top menu ``menu``."""
        self.page.locator(".lm-MenuBar-item", has_text=menu).first.click()
        self.page.locator(f'.lm-Menu-item[data-command="{command}"]').first.click()

    def run_below(self, index: int, code: str, timeout: float = 120.0) -> str:
        """Insert a code cell below cell ``index`` (as a student does: select it, press
        b), type ``code``, run it (Shift+Enter) and return the text of its output."""
        self.cell(index).locator(".jp-InputPrompt").click()        # select it, in command mode
        self.page.keyboard.press("b")
        self.page.keyboard.press("Enter")                          # edit the new cell
        self.page.keyboard.insert_text(code)                       # as pasted: no auto-closed brackets
        self.page.keyboard.press("Shift+Enter")
        wait_for(f"the cell inserted below cell {index} to run", lambda: self.cells()[index + 1].done, timeout)
        return self.cell(index + 1).locator(".jp-OutputArea").inner_text()

    def cells(self) -> list[Cell]:
        return [Cell(**c) for c in self.page.evaluate(_CELLS_JS)]

    def plots(self) -> list[Plot]:
        return [Plot(**p) for p in self.page.evaluate(_PLOTS_JS)]

    def text_visible(self, text: str) -> bool:
        return self.page.get_by_text(text).count() > 0

    def cell(self, index: int) -> Any:
        """The locator of cell ``index`` of the notebook on show."""
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").nth(index)

    def _scroll_to(self, element: Any, tries: int = 5) -> None:
        """Scroll ``element`` to the middle of the view.  Cells above it are laid out
        only as they come into view, which moves it again: scroll until it stays."""
        height = self.page.viewport_size["height"] if self.page.viewport_size else 1000
        for _ in range(tries):
            element.evaluate("e => e.scrollIntoView({block: 'center'})")
            self.page.wait_for_timeout(700)
            top = element.evaluate("e => e.getBoundingClientRect().top")
            if 0 <= top < height / 2:
                return

    def shot(self, name: str, cell: int | None = None) -> Path:
        """A screenshot of the page in ``shots/<name>.png``, scrolled to ``cell`` (its plot, if it has one)."""
        if cell is not None:
            target = self.cell(cell)
            plots = target.locator(".js-plotly-plot")
            self._scroll_to(plots.first if plots.count() else target)
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=False)
        return path
