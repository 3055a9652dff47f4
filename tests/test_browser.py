"""Lesson 05 as a student runs it: JupyterLab in headless Chromium.

nbval runs every lesson without a front end, so it never sees a widget.
Here a real JupyterLab (started as ``./kit lab`` starts it, with the kit's
lab settings) serves a copy of lesson 05 to Debian's Chromium, driven by
Playwright; the test runs all cells from the Run menu and checks what only a
front end shows: the live plot grows while the VM runs, the console panel's
buttons change the running guest (on its plot, and in a cell typed below it
that reads each vCPU's runnable time from the panel's session), no cell shows
an error, and no QEMU is left once the kernel is shut down from the Kernel
menu.  Screenshots go to
``results/browser/``.

It compares host CPU within one run (spinning against halted, on the same
plot), never against a fixed number, and waits on conditions with generous
timeouts, so a busy host makes it slower, not wrong.  Select or deselect
the browser's tests with ``-m browser`` / ``-m "not browser"``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from browser_support import (CHROMIUM_ARGS, CHROMIUM_INSTALL_HINT, LAB_SETTINGS, PLAYWRIGHT_INSTALL_HINT,
                             ROOT, Lab, LabPage, Plot, chromium, wait_for)
from conftest import qemu_pids, requires_qemu

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SHOTS = ROOT / "results" / "browser"
LESSON = "05-idle.ipynb"
NEWS = "official Jupyter news"          # JupyterLab's pop-up: "Would you like to get notified about ..."


def _missing(what: str, hint: str) -> None:
    """Skip on a student's machine; fail in CI, whose set-up installs it."""
    message = f"{what}; install it: {hint}"
    if IN_CI:
        pytest.fail(f"{message} (CI's set-up, ./kit setup, installs it: the set-up is broken)")
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright (the Python package) is not installed", PLAYWRIGHT_INSTALL_HINT)
    path = chromium()
    if path is None:
        _missing("Chromium is not installed (the browser test drives Debian's chromium)", CHROMIUM_INSTALL_HINT)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=list(CHROMIUM_ARGS))
        yield b
        b.close()


@pytest.fixture
def lab(tmp_path: Path):
    with Lab(tmp_path, [LESSON]) as server:
        yield server


def test_kit_lab_uses_the_settings_the_test_uses():
    """./kit lab passes the same settings directory, whose overrides turn the news pop-up off."""
    kit = (ROOT / "kit").read_text()
    assert "--LabApp.app_settings_dir=" in kit and '"$top/lab/settings"' in kit, \
        "./kit lab must start JupyterLab with --LabApp.app_settings_dir=\"$top/lab/settings\", the settings this test uses"
    json5 = pytest.importorskip("json5")     # JupyterLab's server reads overrides.json5 with it
    overrides = json5.loads((LAB_SETTINGS / "overrides.json5").read_text())
    fetch = overrides.get("@jupyterlab/apputils-extension:notification", {}).get("fetchNews")
    assert fetch == "false", f"lab/settings/overrides.json5 sets fetchNews to {fetch!r}; expected \"false\" (Never)"


@pytest.mark.browser
def test_jupyterlab_without_the_kit_settings_asks_about_news(browser, tmp_path: Path):
    """The control for the check below: with JupyterLab's own defaults the
    news question does show, so its absence there is the settings' doing."""
    defaults = tmp_path / "no-settings"
    defaults.mkdir()
    with Lab(tmp_path / "lab", [], settings=defaults) as server:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            lp = LabPage(page, server, SHOTS)
            lp.open_lab()
            wait_for(f"JupyterLab's own defaults to ask about {NEWS} (the text this test looks for)",
                     lambda: lp.text_visible(NEWS), 60)
            lp.shot("lab-defaults-ask-about-news")
        finally:
            page.close()


def _live(lp: LabPage, cell: int | None = None) -> list[Plot]:
    return [p for p in lp.plots() if p.live and (cell is None or p.cell == cell)]


def _saved_cells(notebook: Path) -> list[dict] | None:
    """The cells of the notebook as saved, once it has outputs; None before (or while being written)."""
    try:
        cells = json.loads(notebook.read_text())["cells"]
    except (OSError, ValueError, KeyError):
        return None
    return cells if any(c.get("outputs") for c in cells) else None


def _errors_in(cells: list[dict]) -> list[str]:
    return [f"cell {i} ({c.get('id')}): {o.get('ename')}: {o.get('evalue')}"
            for i, c in enumerate(cells) for o in c.get("outputs", []) if o.get("output_type") == "error"]


def _run_all(lp: LabPage, timeout: float) -> tuple[bool, float]:
    """Run all cells; while they run, check once that a live plot grows.

    Returns whether a live plot was seen growing, and the seconds the run took."""
    start = time.monotonic()
    lp.command("Run", "runmenu:run-all")
    wait_for("the first cell to start running after Run > Run All Cells",
             lambda: any(c.running or c.done for c in lp.cells()), 60)
    grew = False
    while True:
        cells = lp.cells()
        if not any(c.running for c in cells) and lp.kernel_idle():
            break
        assert time.monotonic() - start < timeout, (
            f"lesson 05 did not finish within {timeout:.0f} s in JupyterLab; still running: cells "
            f"{[i for i, c in enumerate(cells) if c.running][:3]} (a very busy host, or a cell that hangs)")
        if not grew:
            plots = _live(lp)
            if plots and plots[-1].points > 0:
                first = plots[-1]
                time.sleep(2.0)
                again = [p for p in _live(lp, first.cell) if p.title == first.title]
                if again and again[-1].points > first.points:
                    grew = True
                    lp.shot("05-live-plot-growing", cell=first.cell)
                    continue
        time.sleep(1.0)
    return grew, time.monotonic() - start


def _phase_means(plot: Plot, settle: float = 1.0) -> dict[str, tuple[float, int]]:
    """QEMU's total host CPU (% of a core) over each phase's last span on the plot, skipping ``settle`` s."""
    out = {}
    for label, x0, x1 in plot.phase_spans():
        out[label] = plot.mean("QEMU total", x0 + settle, x1)
    return out


# Typed into a cell below the console panel: each phase's runnable time per vCPU, as JSON.
RUNNABLE_CODE = """import json
print(json.dumps({p: sorted(panel.session.result(p).wanted.values()) for p in ("idle spin", "idle hlt")}))"""


def _status(panel) -> str:
    """The console panel's status line; a click that failed shows its error there (controls.py)."""
    text = panel.locator(".widget-html").last.inner_text()
    assert "Error" not in text, f"the console panel reported an error (expected none): {text}"
    return text


def _switch(panel, policy: str, seconds: float) -> None:
    """Click idle ``policy`` on the console panel, wait for the guest's answer, then ``seconds``."""
    panel.locator(".widget-toggle-buttons").first.get_by_role("button", name=policy, exact=True).click()
    wait_for(f"the guest's answer 'idle: {policy}' on the console panel's status line",
             lambda: f"the guest answered: idle: {policy}" in _status(panel), 60)
    time.sleep(seconds)


@pytest.mark.browser
@requires_qemu
def test_lesson_05_in_jupyterlab(browser, lab: Lab):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(120_000)       # clicks and look-ups on a busy host's lab
    lp = LabPage(page, lab, SHOTS)
    try:
        lp.open(LESSON)
        # The news pop-up would show once the lab is restored; give it time to appear.
        time.sleep(3.0)
        lp.shot("05-opened")
        assert not lp.text_visible(NEWS), (
            f"JupyterLab asked \"Would you like to get notified about {NEWS}?\": the lab settings "
            f"({LAB_SETTINGS}/overrides.json5, fetchNews \"false\") were not applied")

        grew, seconds = _run_all(lp, timeout=600)
        lp.shot("05-ran")
        assert not lp.text_visible(NEWS), f"JupyterLab asked about {NEWS} while the lesson ran"
        not_run = [i for i, c in enumerate(lp.cells()) if c.code and not c.done]
        lp.command("File", "docmanager:save")
        saved = wait_for("JupyterLab to save the notebook with its outputs",
                         lambda: _saved_cells(lab.root / LESSON), 60)
        errors = _errors_in(saved)
        assert grew, ("no live plot grew while the VM ran (expected the live widget's points to increase "
                      "between two readings 2 s apart): the widget is not drawn or not updated"
                      + (f"; before that, cells showed errors: {errors}" if errors else ""))
        print(f"lesson 05: Run All took {seconds:.0f} s in JupyterLab; cells not run: {not_run}")
        if not_run:
            # Run All stops at a cell's error; the panel, the last cell, is still checked on its own.
            lp.cell(len(lp.cells()) - 1).locator(".jp-InputPrompt").click()
            lp.command("Run", "notebook:run-cell")
            wait_for("the console panel's cell to run on its own", lambda: lp.cells()[-1].done, 120)

        # The console panel, the lesson's last cell: boot, spin, hlt, all on its live plot.
        panel = lp.cell(len(lp.cells()) - 1)
        panel.evaluate("e => e.scrollIntoView()")
        panel.get_by_role("button", name="Boot").click()
        wait_for("the console panel's VM to boot (its status line says 'running')",
                 lambda: "running" in _status(panel), 180)
        kernel_pids = lab.kernel_pids()
        assert len(kernel_pids) == 1, f"expected one kernel process of the lab, found {kernel_pids}"
        prefix = f"kit-{kernel_pids[0]}-"
        assert qemu_pids(prefix), "the panel says its VM runs, but the kernel has no QEMU"
        time.sleep(3.0)

        for attempt in (1, 2):
            _switch(panel, "spin", 6.0)
            _switch(panel, "hlt", 6.0)
            lp.shot(f"05-console-panel-{attempt}", cell=len(lp.cells()) - 1)
            plot = wait_for("the panel's live plot to label the phases idle spin and idle hlt",
                            lambda: [p for p in _live(lp, len(lp.cells()) - 1)
                                     if {"idle spin", "idle hlt"} <= {ph["label"] for ph in p.phases}], 30)[-1]
            means = _phase_means(plot)
            (spin, n_spin), (hlt, n_hlt) = means["idle spin"], means["idle hlt"]
            assert n_spin >= 10 and n_hlt >= 10, (
                f"the live plot has {n_spin} points of idle spin and {n_hlt} of idle hlt (expected at least "
                "10 each: the sampler draws 10 a second); the plot is not updated")
            if spin > 4 * hlt:
                break
            print(f"attempt {attempt}: QEMU {spin:.1f} % of a host core spinning, {hlt:.1f} % halted: "
                  "less than 4 times apart; a busy host can starve the spinning vCPUs, measuring again")
        assert spin > 4 * hlt, (
            f"after 'idle spin' QEMU took {spin:.1f} % of a host core, after 'idle hlt' {hlt:.1f} % "
            "(expected spinning to cost at least 4 times halting, on the same plot, in two tries): "
            "the console's idle command did not change the running guest (the kernel), unless the "
            "host was so busy that the spinning vCPUs got almost no CPU")
        print(f"console panel: QEMU {spin:.1f} % of a host core after idle spin, {hlt:.2f} % after idle hlt")

        # The same phases as the panel's session saw them: how long each vCPU thread was
        # runnable (running or waiting for a host core), which host load does not change.
        out = lp.run_below(len(lp.cells()) - 1, RUNNABLE_CODE)
        runnable = json.loads(out.strip().splitlines()[-1])
        lp.shot("05-runnable", cell=len(lp.cells()) - 1)
        assert min(runnable["idle spin"]) > 80 and max(runnable["idle hlt"]) < 20, (
            f"runnable time of each vCPU thread, % of the phase: {runnable} (expected above 80 after "
            "'idle spin', a vCPU that never halts, and below 20 after 'idle hlt'): the console's idle "
            "command did not change how the running guest idles (the kernel); host load does not move "
            "these much")
        print(f"console panel: vCPU threads runnable {runnable['idle spin']} % after idle spin, "
              f"{runnable['idle hlt']} % after idle hlt")

        # Shut the kernel down from the Kernel menu: its QEMU must go with it.
        lp.command("Kernel", "kernelmenu:shutdown")
        wait_for("the kernel to be shut down (the lab lists no kernel)", lambda: not lab.kernels(), 60)
        wait_for(f"every QEMU of the kernel ({prefix}*) to exit after its shutdown",
                 lambda: qemu_pids(prefix) == [], 30)
        lp.shot("05-kernel-shut-down")

        assert not errors and not not_run, (
            f"lesson 05 in JupyterLab: expected every cell to run without an error; cells showed "
            f"{errors} and Run All stopped before cells {not_run}.  The browser's checks (live plot, "
            "console panel, QEMU's end) passed, so this is one of the lesson's own checks: the same "
            "cell run headless (pytest notebooks/05-idle.ipynb) says whether the kernel or a busy host "
            "(the lab and the browser add load) makes it fail")
    finally:
        page.close()
