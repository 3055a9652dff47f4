"""Show the kernel's real source in a lesson, cut out by marker comments.

A file marks a region with a comment line ``<<name`` before it and ``>>name``
after it (``// <<idle-hlt`` in C and GNU assembler, ``# <<name`` in a
Makefile).  Lessons show these regions instead of pasted copies, so what a
student reads is always what the kernel is built from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import KitError
from .paths import root

_LANGUAGES = {".c": "c", ".h": "c", ".S": "gas", ".s": "gas", ".ld": "ld", ".py": "python"}
_MARK = re.compile(r"^\s*(?://|#|/\*|;)\s*(<<|>>)([\w.-]+)\s*(?:\*/)?\s*$")


@dataclass(frozen=True)
class Excerpt:
    """Lines ``first``..``last`` (1-based, inclusive) of ``path``, a marked region."""

    path: str
    marker: str
    first: int
    last: int
    text: str

    @property
    def language(self) -> str:
        return _LANGUAGES.get(Path(self.path).suffix, "")

    def __str__(self) -> str:
        return self.text

    def _repr_markdown_(self) -> str:
        return (
            f"`{self.path}`, lines {self.first}–{self.last}\n\n"
            f"```{self.language}\n{self.text}\n```"
        )



def markers(path: str | Path, *, top: Path | None = None) -> list[str]:
    """The names of the regions marked in a file, in order."""
    lines = _read(path, top)
    return [m.group(2) for m in map(_MARK.match, lines) if m and m.group(1) == "<<"]


def show(path: str | Path, marker: str, *, top: Path | None = None) -> Excerpt:
    """The region of ``path`` (relative to the kit's top) between ``<<marker`` and ``>>marker``."""
    lines = _read(path, top)
    start = end = None
    for number, line in enumerate(lines, 1):
        m = _MARK.match(line)
        if not m or m.group(2) != marker:
            continue
        if m.group(1) == "<<":
            start = number
        elif start is not None:
            end = number
            break
    if start is None or end is None:
        known = ", ".join(markers(path, top=top)) or "none"
        raise KitError(f"{path} has no region marked {marker!r} (its markers: {known})")
    body = [line for line in lines[start : end - 1] if not _MARK.match(line)]
    return Excerpt(str(path), marker, start + 1, end - 1, _dedent("\n".join(body)))


def _read(path: str | Path, top: Path | None) -> list[str]:
    full = (top or root()) / path
    try:
        return full.read_text().splitlines()
    except FileNotFoundError:
        raise KitError(f"no such source file: {path}") from None


def _dedent(text: str) -> str:
    """Drop the indentation the lines share (tabs and spaces alike)."""
    lines = text.splitlines()
    widths = [len(l) - len(l.lstrip()) for l in lines if l.strip()]
    cut = min(widths, default=0)
    return "\n".join(l[cut:] for l in lines)
