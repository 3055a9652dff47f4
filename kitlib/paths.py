"""Where the kit's source tree and build outputs are.

kitlib builds the kernel with the same ``make`` a student runs by hand, so it
needs the repository root: the directory holding ``kernel/Makefile``.  Set
``KIT_ROOT`` to use another tree (the tests build a broken copy this way).
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import KitError

__all__ = ["root", "build_dir", "kernel_dir"]


def _is_root(path: Path) -> bool:
    return (path / "kernel" / "Makefile").is_file()


def root() -> Path:
    """The kit's root: ``$KIT_ROOT``, else the repository that holds this package.

    Falls back to the current directory and its parents (a notebook runs in
    ``notebooks/``), and raises KitError saying how to fix it otherwise.
    """
    env = os.environ.get("KIT_ROOT")
    if env:
        path = Path(env).expanduser().resolve()
        if not _is_root(path):
            raise KitError(
                f"KIT_ROOT={env} has no kernel/Makefile: point KIT_ROOT at the "
                "idlekit repository (the directory with boot/, kernel/ and kitlib/)."
            )
        return path
    here = Path(__file__).resolve().parent
    for start in (here, Path.cwd().resolve()):
        for candidate in (start, *start.parents):
            if _is_root(candidate):
                return candidate
    raise KitError(
        "cannot find the idlekit source tree (a directory with kernel/Makefile). "
        "Run from inside the repository, install it with `pip install -e .`, "
        "or set KIT_ROOT=/path/to/idlekit."
    )


def build_dir(root_dir: Path | None = None) -> Path:
    """Directory where make puts kernel images: ``<root>/build``."""
    return (root_dir if root_dir is not None else root()) / "build"


def kernel_dir(root_dir: Path | None = None) -> Path:
    """Directory holding the kernel's Makefile: ``<root>/kernel``."""
    return (root_dir if root_dir is not None else root()) / "kernel"
