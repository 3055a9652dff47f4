"""kitlib in a notebook: whether a front end draws widgets, and how kitlib's
errors look there (the message, not a traceback).

A kitlib error is written for the student (errors.py): a compile error is the
compiler's own diagnostics, a guest panic names the fault and shows the
console's last lines.  A Python traceback through kitlib's internals above
that message only hides it, so in IPython a KitError is shown as its type
and message alone.  The cell still fails, as it should.  Set
KITLIB_TRACEBACKS=1 for the full traceback.
"""

from __future__ import annotations

import os

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


def show_error(shell, etype, value, tb, tb_offset=None) -> list[str]:
    """IPython custom exception handler: show ``Type: message`` and nothing else."""
    stb = [f"{_RED}{etype.__name__}{_RESET}: {value}"]
    shell._showtraceback(etype, value, stb)
    return stb


def install() -> bool:
    """Show KitErrors without traceback in the running IPython, if any."""
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
