"""kitlib in a notebook: whether a front end draws widgets, how kitlib's
errors look there (the message, not a traceback), how figures are displayed
(static.py: with an image where no front end draws them), and VMs of a cell
run again.

A kitlib error is written for the student (errors.py): a compile error is the
compiler's own diagnostics, a guest panic names the fault and shows the
console's last lines.  A Python traceback through kitlib's internals above
that message only hides it, so in IPython a KitError is shown as its type
and message alone.  The cell still fails, as it should.  Set
KITLIB_TRACEBACKS=1 for the full traceback.

A cell run again stops the VMs its earlier run started: the output history
(``Out``, ``_``) holds every VM a cell displayed, so an old VM would
otherwise live, and cost its host, as long as the kernel.  A cell is known
by the id the front end sends (``cellId``: JupyterLab does, nbclient does
not); a cell without one is left alone.
"""

from __future__ import annotations

import os
import weakref

from .errors import KitError

_RED, _RESET = "\x1b[31m", "\x1b[0m"


def live_frontend() -> bool:
    """True when a notebook front end will draw widgets for this kernel.

    JupyterLab's server sets JPY_SESSION_NAME in its kernels' environment;
    nbval and nbclient do not.  KITLIB_HEADLESS=1 forces headless.
    """
    if os.environ.get("KITLIB_HEADLESS", "") not in ("", "0"):
        return False
    if "JPY_SESSION_NAME" not in os.environ:
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def in_kernel() -> bool:
    """True in a notebook's kernel, whether or not a front end draws widgets
    (nbval and nbclient run one headless)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def show_error(shell, etype, value, tb, tb_offset=None) -> list[str]:
    """IPython custom exception handler: show ``Type: message`` and nothing else."""
    stb = [f"{_RED}{etype.__name__}{_RESET}: {value}"]
    shell._showtraceback(etype, value, stb)
    return stb


class CellVMs:
    """IPython's pre/post_run_cell hooks: which VMs each cell started, stopped when it runs again."""

    def __init__(self) -> None:
        self.by_cell: dict[str, weakref.WeakSet] = {}
        self.before: weakref.WeakSet = weakref.WeakSet()

    def pre_run_cell(self, info) -> None:
        from .vm import running

        cell = getattr(info, "cell_id", None)
        for vm in list(self.by_cell.pop(cell, ())) if cell is not None else ():
            vm.stop()
        self.before = weakref.WeakSet(running())

    def post_run_cell(self, result) -> None:
        from .vm import running

        cell = getattr(getattr(result, "info", None), "cell_id", None)
        if cell is None:
            return
        new = [vm for vm in running() if vm not in self.before]
        if new:
            self.by_cell.setdefault(cell, weakref.WeakSet()).update(new)


_cells: CellVMs | None = None


def track_cells() -> bool:
    """Stop a cell's VMs when it runs again, in the running IPython, if any."""
    global _cells
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or _cells is not None:
        return _cells is not None
    _cells = CellVMs()
    shell.events.register("pre_run_cell", _cells.pre_run_cell)
    shell.events.register("post_run_cell", _cells.post_run_cell)
    return True


def install() -> bool:
    """Show KitErrors without traceback in the running IPython, if any, and
    figures with an image beside plotly's JSON where no front end draws them
    (static.py)."""
    from . import static

    static.install()
    if os.environ.get("KITLIB_TRACEBACKS", "") not in ("", "0"):
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    shell.set_custom_exc((KitError,), show_error)
    return True
