"""Show the kernel's real source in a lesson, cut out by marker comments.

A file marks a region with a comment line ``<<name`` before it and ``>>name``
after it (``// <<idle-hlt`` in C and GNU assembler, ``# <<name`` in a
Makefile).  Lessons show these regions instead of pasted copies, so what a
student reads is always what the kernel is built from.

Later stages add code to shared files under ``#if KIT_STAGE_LEVEL >=
STAGE_<NAME>`` (kernel/stage.h).  ``show(..., stage="sched")`` resolves those
conditionals as that stage's build does, so a lesson shows its own stage's
code and not what later lessons add; every other ``#if`` stays as written.
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
    stage: str | None = None    # the stage whose build the text shows; None: the file as written

    @property
    def language(self) -> str:
        return _LANGUAGES.get(Path(self.path).suffix, "")

    def __str__(self) -> str:
        return self.text

    def _repr_markdown_(self) -> str:
        built = f", as stage `{self.stage}` builds it" if self.stage else ""
        return (
            f"`{self.path}`, lines {self.first}–{self.last}{built}\n\n"
            f"```{self.language}\n{self.text}\n```"
        )



def markers(path: str | Path, *, top: Path | None = None) -> list[str]:
    """The names of the regions marked in a file, in order."""
    lines = _read(path, top)
    return [m.group(2) for m in map(_MARK.match, lines) if m and m.group(1) == "<<"]


def show(path: str | Path, marker: str, *, stage: str | None = None, top: Path | None = None) -> Excerpt:
    """The region of ``path`` (relative to the kit's top) between ``<<marker`` and
    ``>>marker``; with ``stage``, as that stage builds it (see above)."""
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
    if stage is not None:
        levels = _stage_levels(top)
        body = _as_built(body, _stage_level(stage, levels), levels)
    return Excerpt(str(path), marker, start + 1, end - 1, _dedent("\n".join(body)), stage)


_DIRECTIVE = re.compile(r"^\s*#\s*(if|ifdef|ifndef|elif|else|endif)\b(.*)$")
_LEVEL_EXPR = re.compile(r"^[\sA-Z_0-9<>=!&|()]*$")


def _stage_level(stage: str, levels: dict[str, int]) -> int:
    """The number kernel/stage.h gives STAGE_<NAME>."""
    name = "STAGE_" + stage.upper().replace("-", "_")
    if name not in levels:
        known = ", ".join(n[len("STAGE_"):].lower() for n in levels)
        raise KitError(f"no stage {stage!r} in kernel/stage.h (the stages: {known})")
    return levels[name]


def _stage_levels(top: Path | None) -> dict[str, int]:
    text = "\n".join(_read("kernel/stage.h", top))
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"#define\s+(STAGE_\w+)\s+(\d+)", text)}


def _stage_condition(expr: str, level: int, levels: dict[str, int]) -> bool | None:
    """The value of an #if on KIT_STAGE_LEVEL at ``level``, or None if ``expr``
    is about something else (or more than comparisons of stages)."""
    expr = re.sub(r"/\*.*?\*/|//.*$", "", expr).strip()
    if "KIT_STAGE_LEVEL" not in expr or not _LEVEL_EXPR.match(expr):
        return None
    words = set(re.findall(r"[A-Z_][A-Z_0-9]*", expr)) - {"KIT_STAGE_LEVEL"}
    if not words <= set(levels):
        return None
    py = re.sub(r"[A-Z_][A-Z_0-9]*", lambda m: str(level if m.group(0) == "KIT_STAGE_LEVEL"
                                                  else levels[m.group(0)]), expr)
    py = py.replace("&&", " and ").replace("||", " or ").replace("!=", "<>")
    py = re.sub(r"!(?!=)", " not ", py).replace("<>", "!=")
    return bool(eval(py, {"__builtins__": {}}, {}))     # digits, comparisons, and/or/not only


def _as_built(lines: list[str], level: int, levels: dict[str, int]) -> list[str]:
    """``lines`` with each #if/#elif/#else on KIT_STAGE_LEVEL resolved at ``level``:
    the branches the stage does not build, and those directives, dropped."""
    out: list[str] = []
    # a frame per open #if: (about stages?, this branch kept?, a branch taken?)
    frames: list[list[bool]] = []

    def live() -> bool:
        return all(f[1] for f in frames)

    for line in lines:
        m = _DIRECTIVE.match(line)
        if not m:
            if live():
                out.append(line)
            continue
        word, rest = m.group(1), m.group(2)
        if word in ("if", "ifdef", "ifndef"):
            value = _stage_condition(rest, level, levels) if word == "if" else None
            if value is None:
                if live():
                    out.append(line)
                frames.append([False, True, True])
            else:
                frames.append([True, value, value])
        elif not frames:
            out.append(line)                # unbalanced in the excerpt: show it as written
        elif not frames[-1][0]:
            frames[-1][1] = True
            if all(f[1] for f in frames[:-1]):
                out.append(line)
            if word == "endif":
                frames.pop()
        elif word == "endif":
            frames.pop()
        elif word == "else":
            frames[-1][1] = not frames[-1][2]
            frames[-1][2] = True
        else:                               # elif
            value = _stage_condition(rest, level, levels)
            keep = bool(value) and not frames[-1][2]
            frames[-1][1] = keep
            frames[-1][2] = frames[-1][2] or keep
    return out



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
