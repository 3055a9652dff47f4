"""Figures that a saved notebook can show: plotly's JSON with a rendered
image beside it in one display bundle.

A front end (JupyterLab) draws a figure from plotly's JSON
(``application/vnd.plotly.v1+json``).  An exported page, GitHub and
nbviewer cannot: they show what a bundle carries as an image, so a figure
displayed with JSON alone is empty space there.  When no front end draws
the figures (nbval, ``jupyter nbconvert --execute``, KITLIB_HEADLESS=1) the
kit adds a PNG to every figure it displays; KITLIB_STATIC_IMAGES=1 adds it
in JupyterLab too, =0 never.  In JupyterLab, plotly's own renderer stores a
PNG of a figure it has drawn beside its JSON when the notebook is saved
(seen with plotly 7.1 and JupyterLab 4.6); it does nothing of the kind for
a live widget, whose state a saved notebook does not keep, so a live plot
ends as a plain figure (plot.py).

The image is drawn by kaleido in a headless Chromium (the system's, found
by choreographer on PATH or through BROWSER_PATH: nothing is downloaded).
One browser serves the whole Python process: starting it takes 2 to 5
seconds on a busy 2-core host (about a CPU-second), a figure after that 0.2
to 0.4 s.  In a notebook's kernel with no front end it starts in the
background when kitlib is imported, so a lesson's first figure does not
wait for it: its start overlaps the lesson's first cell (the build and the
floor's calibration, which host load does not change).  Where kaleido or
Chromium is missing, or a render fails, figures carry JSON alone and the
kit says why, once.
"""

from __future__ import annotations

import base64
import os
import sys
import threading
from typing import TYPE_CHECKING, Any

from .notebook import live_frontend

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["wanted", "png", "bundle", "display_figure", "install", "reason"]

WIDTH = 820                 # pixels, when the figure's layout sets none
HEIGHT = 480
RENDER_TIMEOUT_S = 60       # one figure; a busy 2-core host takes seconds for the first

_lock = threading.Lock()
_started = False            # the browser has been asked to start
_failed: str | None = None  # why no image can be made in this process (said once)


def wanted() -> bool:
    """Whether figures the kit displays carry an image: with no front end,
    unless KITLIB_STATIC_IMAGES says otherwise."""
    forced = os.environ.get("KITLIB_STATIC_IMAGES", "")
    if forced not in ("", "auto"):
        return forced not in ("0", "no", "false")
    return not live_frontend()


def reason() -> str | None:
    """Why this process makes no images (None: it does, or has not tried yet)."""
    return _failed


def _say_once(why: str) -> None:
    global _failed
    if _failed is None:
        _failed = why
        print(f"kitlib: figures are stored as plotly's JSON only, without an image beside it, so an "
              f"exported HTML page, GitHub and nbviewer show no figure: {why}", file=sys.stderr, flush=True)


def _start() -> bool:
    """Start the one browser of this process (kaleido's sync server), once."""
    global _started
    if _started:
        return True
    try:
        import kaleido
        from choreographer.browsers.chromium import Chromium
    except ImportError:
        _say_once("kaleido is not installed (pip install kaleido)")
        return False
    try:
        found = Chromium.find_browser(skip_local=False)
    except Exception:                       # choreographer's search changed: let kaleido look
        found = ""
    if found is None:
        _say_once("kaleido found no Chromium (apt-get install chromium, or set BROWSER_PATH "
                  "to a Chromium or Chrome binary)")
        return False
    # mathjax=False: the kit's figures use no LaTeX, and kaleido would
    # otherwise fetch MathJax from a CDN, which an offline host waits for
    kaleido.start_sync_server(mathjax=False, timeout=RENDER_TIMEOUT_S, silence_warnings=True)
    _started = True
    return True


def png(fig: "go.Figure", *, width: int | None = None, height: int | None = None) -> bytes | None:
    """The figure as PNG bytes at its own size (or WIDTH x HEIGHT), or None
    when no image can be made here (and the kit has said why)."""
    with _lock:
        if _failed is not None or not _start():
            return None
        import kaleido

        layout = fig.layout
        opts = dict(format="png", width=width or layout.width or WIDTH,
                    height=height or layout.height or HEIGHT, scale=1)
        try:
            return kaleido.calc_fig_sync(fig, opts=opts)
        except Exception as e:                  # a browser that died or timed out
            _say_once(f"drawing a figure in Chromium failed ({type(e).__name__}: {e})")
            try:
                kaleido.stop_sync_server(silence_warnings=True)
            except Exception:
                pass
            return None


def bundle(fig: "go.Figure", *, image: bool | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The display bundle of a figure and its metadata: plotly's JSON, a
    short text and, when ``image`` (default: :func:`wanted`) and it can be
    made, a PNG whose alternative text is the figure's title."""
    import plotly.io as pio

    data: dict[str, Any] = dict(pio.renderers["plotly_mimetype"].to_mimebundle(fig.to_plotly_json()))
    title = fig.layout.title.text if fig.layout.title and fig.layout.title.text else "a figure"
    data["text/plain"] = f"<Figure: {title}>"
    metadata: dict[str, Any] = {}
    if wanted() if image is None else image:
        made = png(fig)
        if made is not None:
            data["image/png"] = base64.b64encode(made).decode("ascii")
            metadata["image/png"] = {"alt": f"plot: {title}"}
    return data, metadata


def display_figure(fig: "go.Figure", *, image: bool | None = None) -> None:
    """Display a figure as :func:`bundle` makes it."""
    from IPython.display import display

    data, metadata = bundle(fig, image=image)
    display(data, metadata=metadata, raw=True)


def _display_hook(fig: "go.Figure") -> None:
    display_figure(fig)


def install() -> bool:
    """Where figures are to carry an image (:func:`wanted`), display every
    plotly Figure in the running IPython (a cell's value or ``display(fig)``)
    as :func:`bundle` makes it; elsewhere leave plotly's own display alone.
    Registered by the class's name, so plotly is imported only when a figure
    is first shown."""
    if not wanted():
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or getattr(shell, "display_formatter", None) is None:
        return False
    formatter = shell.display_formatter.ipython_display_formatter
    formatter.for_type_by_name("plotly.graph_objs._figure", "Figure", _display_hook)
    if getattr(shell, "kernel", None) is not None:
        with _lock:
            _start()                    # returns at once: the browser starts on kaleido's thread
    return True
