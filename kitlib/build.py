"""Build kernel images with the kernel tree's own Makefile.

kitlib runs exactly the ``make`` a student could type, so a lesson and a
terminal always agree.  A failed build raises BuildError whose text is gcc's
diagnostics, shown to the student as is.  ``Image.rebuilt`` tells whether
make actually wrote a new file (an unchanged stage rebuilds nothing).

Invariants:
 - a stage name reaches make only if kernel/Makefile defines ``src.<stage>``
   (make expands a variable's value, so ``STAGE='x$(shell ...)'`` would run);
 - one make at a time per build directory, across processes: an flock(2) on
   ``build/.lock`` (make has no lock of its own, and two makes writing the
   same objects link each other's half-written files);
 - an Image built here records the sources it was built from (their stat,
   from make's dependency files), so booting it after they changed, or after
   a rebuild of them failed, is an error that says to rebuild.
"""

from __future__ import annotations

import fcntl
import functools
import html
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import TOOLCHAIN_INSTALL_HINT, BuildError, KitError, StaleImage
from . import paths

__all__ = ["Image", "build", "probe", "stages", "PROBES"]

PROBES = ("halt", "spin", "exit")
"""Probe kernels: halt = the host's floor, spin = the ceiling, exit = exits at once."""

_make_lock = threading.Lock()   # one make at a time in this process; build/.lock across processes
_STAGE_VAR = re.compile(r"^src\.([a-z][a-z0-9_]*)\s*:=", re.MULTILINE)
# "make: gcc: No such file or directory" (make ran it directly) or
# "/bin/sh: 1: gcc: not found" (through the shell): a tool is not installed.
_MISSING_TOOL = re.compile(
    r"^(?:make(?:\[\d+\])?: |/bin/\w*sh: (?:\d+: )?|sh: (?:\d+: )?)?"
    r"(?P<tool>[\w.+/-]+): (?:Command not found|command not found|not found|No such file or directory)\s*$",
    re.MULTILINE,
)


def changed_source(sources: Iterable[tuple[str, int, int]]) -> str | None:
    """The first of ``sources`` (name, mtime in ns, size, as they were when an
    image was built) that changed or is gone, said in a few words; None if none."""
    for name, mtime_ns, size in sources:
        try:
            st = os.stat(name)
        except OSError:
            return f"{name} is gone"
        if (st.st_mtime_ns, st.st_size) != (mtime_ns, size):
            return f"{name} changed"
    return None


@dataclass(frozen=True)
class Image:
    """A kernel image on disk, the thing a VM boots.

    ``rebuilt`` is True when make wrote the file during the build that
    returned this Image (False when the stage was already up to date).
    """

    path: Path
    stage: str
    rebuilt: bool = False
    sources: tuple[tuple[str, int, int], ...] | None = field(default=None, repr=False, compare=False)
    """(path, st_mtime_ns, st_size) of every file the image was built from;
    None for an image kitlib did not build (a path), which is never judged stale."""

    def stale(self) -> str | None:
        """Why this image no longer matches its sources (a file changed or is
        gone since it was built), or None while it does."""
        return changed_source(self.sources or ())

    def check_fresh(self) -> None:
        """Raise StaleImage if the sources changed since this image was built."""
        why = self.stale()
        if why is not None:
            raise StaleImage(self.stage, str(self.path), why, _rebuild_call(self.stage))

    @classmethod
    def from_path(cls, path: str | os.PathLike) -> "Image":
        """An Image for an existing file, e.g. ``VM("build/boot/kernel.elf")``."""
        p = Path(path).expanduser().resolve()
        if not p.is_file():
            raise KitError(f"kernel image {p} does not exist: build it first (kitlib.build()).")
        return cls(path=p, stage=p.parent.name, rebuilt=False)

    def symbol(self, name: str) -> int:
        """Address of the ELF symbol ``name`` (from .symtab; cached per file version)."""
        st = self.path.stat()
        table = _symbols(str(self.path), st.st_mtime_ns, st.st_size)
        try:
            return table[name]
        except KeyError:
            raise KitError(
                f"symbol {name!r} is not in {self.path.name} (stage {self.stage}): "
                "this kernel does not provide it."
            ) from None

    def has_symbol(self, name: str) -> bool:
        """Whether the image defines ``name``."""
        st = self.path.stat()
        return name in _symbols(str(self.path), st.st_mtime_ns, st.st_size)

    def __repr__(self) -> str:
        state = "rebuilt" if self.rebuilt else "up to date"
        return f"<Image {self.stage}: {self.path.name}, {state}>"

    def _repr_html_(self) -> str:
        state = "rebuilt" if self.rebuilt else "up to date"
        return (
            f"<b>kernel image</b> <code>{html.escape(self.stage)}</code>: "
            f"<code>{html.escape(str(self.path))}</code> ({state})"
        )


@functools.lru_cache(maxsize=32)
def _symbols(path: str, mtime_ns: int, size: int) -> dict[str, int]:
    """Name -> address for every named symbol; keyed by mtime so a rebuild invalidates."""
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    table: dict[str, int] = {}
    with open(path, "rb") as f:
        elf = ELFFile(f)
        for section in elf.iter_sections():
            if isinstance(section, SymbolTableSection):
                for sym in section.iter_symbols():
                    if sym.name and sym["st_shndx"] != "SHN_UNDEF":
                        table.setdefault(sym.name, sym["st_value"])
    return table


def _fingerprint(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _rebuild_call(stage: str) -> str:
    if stage.startswith("probe:"):
        return f"kit.probe({stage.removeprefix('probe:')!r})"
    return f"kit.build({stage!r}) (on a shell: kit build {stage})"


def stages(root: Path | str | None = None) -> list[str]:
    """The stages kernel/Makefile defines (a variable ``src.<stage>`` each), in its order."""
    root_dir = Path(root).resolve() if root is not None else paths.root()
    makefile = paths.kernel_dir(root_dir) / "Makefile"
    try:
        text = makefile.read_text()
    except OSError as exc:
        raise KitError(f"cannot read {makefile} ({exc.strerror}): is {root_dir} the idlekit tree?") from None
    return list(dict.fromkeys(_STAGE_VAR.findall(text)))


def _check_stage(stage: str, root_dir: Path) -> None:
    known = stages(root_dir)
    if stage not in known:
        raise KitError(f"unknown stage {stage!r}; the stages are: {', '.join(known)}.")


def _sources(out_dir: Path, extra: list[Path]) -> tuple[tuple[str, int, int], ...]:
    """The stat of every file the objects in ``out_dir`` were built from, read
    from the dependency files (``-MMD``) make left beside them, plus ``extra``."""
    names: set[str] = {str(p) for p in extra}
    for dep in out_dir.rglob("*.d"):
        rule = dep.read_text(errors="replace").split("\n\n", 1)[0]
        head, _, tail = rule.replace("\\\n", " ").partition(": ")
        names.update(tail.split("\n", 1)[0].split())
    found = []
    for name in sorted(names):
        try:
            st = os.stat(name)
        except OSError:
            continue                # a header that was removed since; make forgets it too
        found.append((name, st.st_mtime_ns, st.st_size))
    return tuple(found)


def _make_env() -> dict[str, str]:
    """The environment for make: no inherited jobserver, stable English diagnostics."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    env["LC_ALL"] = "C.UTF-8"
    return env


def _run_make(root_dir: Path, target_args: list[str], what: str) -> None:
    """Run make in the kernel tree; raise BuildError / KitError on failure."""
    kdir = paths.kernel_dir(root_dir)
    if not (kdir / "Makefile").is_file():
        raise KitError(f"{kdir / 'Makefile'} does not exist: is {root_dir} the idlekit tree?")
    make = shutil.which("make")
    if make is None:
        raise KitError(f"`make` is not installed. Install the toolchain with: {TOOLCHAIN_INSTALL_HINT}")
    bdir = paths.build_dir(root_dir)
    bdir.mkdir(parents=True, exist_ok=True)
    with _make_lock, open(bdir / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)        # released when the file closes
        proc = subprocess.run(
            [make, "-C", str(kdir), *target_args],
            capture_output=True,
            text=True,
            errors="replace",
            env=_make_env(),
            stdin=subprocess.DEVNULL,
        )
    if proc.returncode == 0:
        return
    diagnostics = proc.stderr.strip() or proc.stdout.strip() or f"make exited with status {proc.returncode}"
    missing = _MISSING_TOOL.search(diagnostics)
    if missing:
        tool = os.path.basename(missing.group("tool"))
        raise KitError(
            f"`{tool}` is not installed, so the kernel cannot be built. "
            f"Install the toolchain with: {TOOLCHAIN_INSTALL_HINT}\n{diagnostics}"
        )
    raise BuildError(what, diagnostics)


def build(stage: str = "boot", *, root: Path | str | None = None) -> Image:
    """Build one kernel stage (``make -C kernel STAGE=<stage>``) and return its Image."""
    root_dir = Path(root).resolve() if root is not None else paths.root()
    _check_stage(stage, root_dir)
    out = paths.build_dir(root_dir) / stage / "kernel.elf"
    before = _fingerprint(out)
    _run_make(root_dir, [f"STAGE={stage}"], stage)
    after = _fingerprint(out)
    if after is None:
        raise KitError(f"make succeeded but {out} was not produced: check kernel/Makefile for stage {stage!r}.")
    sources = _sources(out.parent, [paths.kernel_dir(root_dir) / "Makefile", root_dir / "boot" / "kernel.ld"])
    return Image(path=out, stage=stage, rebuilt=before != after, sources=sources)


def probe(kind: str, *, root: Path | str | None = None) -> Image:
    """Build the probe kernels (``make -C kernel probes``) and return one of them.

    ``halt`` sits in ``cli; hlt`` (the host's floor), ``spin`` in ``jmp .``
    (the ceiling), ``exit`` exits with success at its first instruction.
    """
    if kind not in PROBES:
        raise KitError(f"unknown probe {kind!r}: choose one of {', '.join(PROBES)}.")
    root_dir = Path(root).resolve() if root is not None else paths.root()
    out = paths.build_dir(root_dir) / "probe" / f"{kind}.elf"
    before = _fingerprint(out)
    _run_make(root_dir, ["probes"], f"probe:{kind}")
    after = _fingerprint(out)
    if after is None:
        raise KitError(f"make probes succeeded but {out} was not produced: check kernel/Makefile.")
    sources = _sources(out.parent, [paths.kernel_dir(root_dir) / "Makefile", root_dir / "boot" / "probe.ld"])
    return Image(path=out, stage=f"probe:{kind}", rebuilt=before != after, sources=sources)
