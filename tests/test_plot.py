"""Figures: what the plot draws (runnable time, labels that do not collide,
what the calibration lines mean), and what a saved notebook keeps of it
(plotly's JSON with a PNG beside it, shown by an exported HTML page)."""

from __future__ import annotations

import base64
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from kitlib import static
from kitlib.calibrate import Calibration
from kitlib.hostcpu import Sample
from kitlib.results import Experiment, summarise

from conftest import HAVE_QEMU

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _samples(phases: list[tuple[str, float, bool]], cpus: int, hz: float = 10.0) -> list[Sample]:
    """Samples of a busy host: a spinning vCPU gets 60 % of a core and is runnable 99.5 %."""
    t, out = 0.0, []
    for label, seconds, spin in phases:
        for _ in range(round(seconds * hz)):
            t += 1 / hz
            got = {n: 60.0 if spin else 0.5 for n in range(cpus)}
            out.append(Sample(t, label, got, sum(got.values()) + 2.0,
                              {n: 0.0 if spin else 0.99 for n in range(cpus)}, {}, {},
                              {n: 99.5 if spin else 0.6 for n in range(cpus)}))
        t += 0.3
    return out


def _experiment(phases: list[tuple[str, float, bool]], cpus: int = 2, ceiling: float = 62.0) -> Experiment:
    samples = _samples(phases, cpus)
    labels = list(dict.fromkeys(s.phase for s in samples))
    return Experiment("spin then hlt", tuple(summarise(p, cpus, [s for s in samples if s.phase == p], 2)
                                             for p in labels),
                      tuple(samples), floor=0.4, ceiling=ceiling)


SHORT = [("idle=spin", 0.6, True), ("idle=hlt", 0.5, False), ("idle=spin (2)", 4.0, True),
         ("tick 1000", 0.3, False), ("tick none", 0.3, False), ("tick 250", 0.3, False),
         ("idle hlt", 3.0, False)]


def _chromium_or_skip() -> None:
    """Skip where kaleido or Chromium is missing; where both are, an image must be made."""
    pytest.importorskip("kaleido", reason="kaleido is not installed: figures carry plotly's JSON only")
    from choreographer.browsers.chromium import Chromium

    if Chromium.find_browser(skip_local=False) is None:
        pytest.skip("no Chromium here (apt-get install chromium): figures carry plotly's JSON only")
    assert static.png(_experiment(SHORT[:2]).figure()) is not None, (
        f"kaleido and Chromium are here, so a figure should render to PNG; it did not: {static.reason()}")


def test_runnable_time_is_drawn_beside_each_vcpus_run_time():
    fig = _experiment(SHORT).figure()
    by_name = {t.name: t for t in fig.data}
    for n in range(2):
        got, asked = np.array(by_name[f"vCPU {n} thread"].y), np.array(by_name[f"vCPU {n} runnable"].y)
        assert np.nanmax(got) == pytest.approx(60.0) and np.nanmax(asked) == pytest.approx(99.5), (
            "a spinning vCPU that got 60 % of a core while runnable 99.5 % should be drawn at both")


def test_many_vcpus_get_one_runnable_line():
    fig = _experiment(SHORT[:2], cpus=8).figure()
    names = [t.name for t in fig.data]
    assert "vCPU threads runnable (mean)" in names and not any(n.endswith(" runnable") for n in names), names


def test_the_ceiling_says_what_it_is_and_that_the_host_was_busy():
    texts = [a.text for a in _experiment(SHORT[:2], ceiling=62.0).figure().layout.annotations]
    assert "ceiling: what one vCPU got when spinning alone, 62 % (host busy)" in texts, texts
    texts = [a.text for a in _experiment(SHORT[:2], ceiling=99.0).figure().layout.annotations]
    assert "ceiling: what one vCPU got when spinning alone, 99 %" in texts, texts


def test_short_phases_labels_do_not_overlap_and_sit_above_every_line():
    from kitlib import plot

    fig = _experiment(SHORT).figure()
    labels = [a for a in fig.layout.annotations if a.yref == "y domain"]
    assert len(labels) == len(SHORT), [a.text for a in labels]
    t = np.concatenate([np.asarray(tr.x, dtype=float) for tr in fig.data])
    per_px = (np.nanmax(t) - np.nanmin(t)) / plot._PLOT_PX
    rows: dict[float, list[tuple[float, float, str]]] = {}
    for a in labels:
        rows.setdefault(a.y, []).append((a.x, a.x + len(a.text) * plot._CHAR_PX * per_px, a.text))
    for y, spans in rows.items():
        spans.sort()
        for (_, end, left), (start, _, right) in zip(spans, spans[1:]):
            assert end <= start, f"labels {left!r} and {right!r} overlap in the row at {y}"
    lowest = min(rows)                              # the lowest row's top, fraction of the panel
    lo, hi = fig.layout.yaxis.range
    under = lo + (lowest - plot._LABEL_ROW) * (hi - lo)     # the value at that row's bottom
    top = max(np.nanmax(np.asarray(tr.y, dtype=float)) for tr in fig.data if tr.yaxis in (None, "y"))
    assert under >= top, f"the labels' lowest row starts at {under:.0f} %, below a line at {top:.0f} %"


def test_a_calibration_reads_rounded_with_units():
    cal = Calibration(0.0123, 0.007769832888936698, 62.3456, 63.1, 0.05, 99.7)
    for shown in (repr(cal), str(cal), cal._repr_html_(), repr(("image", cal))):
        assert not re.search(r"\d\.\d{4,}", shown), f"a raw float in {shown!r}"
    assert "%" in repr(cal) and "host busy" in repr(cal) and "runnable 100 %" in repr(cal), repr(cal)


def test_the_bundle_carries_plotlys_json_and_a_png():
    _chromium_or_skip()
    data, metadata = static.bundle(_experiment(SHORT).figure(), image=True)
    assert metadata == {"image/png": {"alt": "plot: spin then hlt"}}, metadata
    assert set(data) == {"application/vnd.plotly.v1+json", "text/plain", "image/png"}, set(data)
    assert base64.b64decode(data["image/png"]).startswith(PNG_MAGIC)
    assert [t["uid"] for t in data["application/vnd.plotly.v1+json"]["data"]][:2] == ["host-vcpu0", "host-runnable0"]


def test_without_kaleido_figures_are_json_and_the_kit_says_why_once(monkeypatch, capsys):
    monkeypatch.setattr(static, "_started", False)
    monkeypatch.setattr(static, "_failed", None)
    monkeypatch.setitem(sys.modules, "kaleido", None)           # import kaleido fails
    fig = _experiment(SHORT[:2]).figure()
    (first, _), (second, _) = static.bundle(fig, image=True), static.bundle(fig, image=True)
    assert "image/png" not in first and "application/vnd.plotly.v1+json" in second
    said = capsys.readouterr().err
    assert said.count("kitlib: figures are stored as plotly's JSON only") == 1, said
    assert "kaleido is not installed" in said and "exported HTML" in said, said


def test_without_chromium_figures_are_json_and_the_kit_says_so(monkeypatch, capsys):
    pytest.importorskip("kaleido")
    from choreographer.browsers.chromium import Chromium

    monkeypatch.setattr(static, "_started", False)
    monkeypatch.setattr(static, "_failed", None)
    monkeypatch.setattr(Chromium, "find_browser", classmethod(lambda cls, **k: None))
    data, _ = static.bundle(_experiment(SHORT[:2]).figure(), image=True)
    assert "image/png" not in data and "application/vnd.plotly.v1+json" in data, sorted(data)
    said = capsys.readouterr().err
    assert "found no Chromium" in said and "BROWSER_PATH" in said, said


def _execute(cells: list[str], tmp_path, monkeypatch):
    """Run ``cells`` in a headless kernel as nbconvert --execute does; the
    notebook and its HTML export."""
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    from kitlib.paths import root

    here = Path(__file__).resolve().parent        # this module, for the cells to import
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(root()), str(here), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("KITLIB_HEADLESS", "1")
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.delenv("KITLIB_STATIC_IMAGES", raising=False)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    html, _ = HTMLExporter().from_notebook_node(nb)
    return nb, html


def _images(cell) -> int:
    return sum("image/png" in o.get("data", {}) for o in cell.outputs)


def test_an_executed_notebook_exported_to_html_shows_its_figures(tmp_path, monkeypatch):
    """In a kernel with no front end, a kit figure as a cell's value, by
    display(), and (QEMU here) at the end of an experiment run with
    show=True, which shows its final figure once: each output carries a PNG
    beside plotly's JSON, and the exported page an <img> for each."""
    _chromium_or_skip()
    cells = ["import test_plot\nrun = test_plot._experiment(test_plot.SHORT)\nrun.figure()",
             "display(run.figure())"]
    if HAVE_QEMU:
        cells.append("import kitlib as kit\n"
                     "live = kit.compare_idle(kit.build('boot'), seconds=0.5, settle=0.1, floor=0.4, "
                     "ceiling=95, progress=False)")
    nb, html = _execute(cells, tmp_path, monkeypatch)
    images = [sum("image/png" in o.get("data", {}) for o in c.outputs) for c in nb.cells]
    assert images == [1] * len(cells), (
        f"each cell should show one figure with an image; images per cell: {images}, outputs: "
        f"{[[sorted(o.get('data', {})) or o.get('text', '') for o in c.outputs] for c in nb.cells]}")
    shown = len(re.findall(r'<img [^>]*src="data:image/png;base64,', html))
    assert shown == len(cells), f"the exported page should show {len(cells)} figures as images, shows {shown}"


class _Handle:
    def __init__(self) -> None:
        self.updates: list[tuple[dict, dict]] = []

    def update(self, data: dict, *, metadata: dict, raw: bool) -> None:
        self.updates.append((data, metadata))


def test_a_live_widget_ends_as_the_static_figure(monkeypatch):
    """With a front end, the widget's output is replaced by the final figure
    (plotly's JSON, which JupyterLab draws and a saved notebook keeps)."""
    import IPython.display

    from kitlib.plot import LivePlot

    handle = _Handle()
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: handle)
    monkeypatch.setenv("KITLIB_STATIC_IMAGES", "0")
    plot = LivePlot("live", 2, floor=0.4, ceiling=62.0, live=True)
    plot.display_live()
    plot.extend(_samples(SHORT, 2))
    plot.finish()
    assert len(handle.updates) == 1, handle.updates
    data, _ = handle.updates[0]
    x = data["application/vnd.plotly.v1+json"]["data"][0]["x"]      # plotly's typed array of doubles
    points = len(base64.b64decode(x["bdata"])) // 8 if isinstance(x, dict) else len(x)
    assert points == len(plot.figure().data[0].x) > 0, "the final figure should hold every sample"
    plot.finish()
    assert len(handle.updates) == 1, "the widget is replaced once"


def test_a_headless_live_plot_shows_its_figure_once_and_not_after_an_error(monkeypatch):
    from kitlib.plot import LivePlot

    shown: list[object] = []
    monkeypatch.setattr(static, "display_figure", shown.append)
    plot = LivePlot("headless", 1, live=False)
    plot.display_live()
    assert shown == [], "nothing is shown before the run ends"
    plot.extend(_samples(SHORT[:2], 1))
    plot.finish()
    plot.finish()
    assert len(shown) == 1, f"the final figure should be shown once, was {len(shown)} times"
    failed = LivePlot("failed", 1, live=False)
    failed.display_live()
    failed.finish(final=False)
    assert len(shown) == 1, "a run that ended in an error shows no final figure"


def test_a_headless_panel_shown_before_it_boots_shows_its_figure_when_it_ends(monkeypatch):
    """An empty plot is no figure: displayed before any sample, it is shown when the run ends."""
    import IPython.display

    from kitlib.plot import LivePlot

    shown: list[object] = []
    monkeypatch.setattr(static, "display_figure", shown.append)
    monkeypatch.setattr(IPython.display, "display", shown.append)
    plot = LivePlot("panel", 1, live=False)
    plot._ipython_display_()
    assert shown == [], "an empty plot should not be displayed"
    plot.extend(_samples(SHORT[:2], 1))
    plot.finish()
    assert len(shown) == 1, f"the figure should be shown once when the run ends, was {len(shown)} times"
