"""QEMU as ``top`` shows it, once a second: %CPU, %MEM, RES, TIME+.

The blog post that started the kit ("Reducing CPU usage on VMs that run
Toro", Toro's blog, 8 December 2017) watched its VM with ``top``: one line
a refresh, with QEMU's %CPU, %MEM and cumulative CPU time (TIME+).
:class:`Top` prints the same columns from the sampler's samples (a
listener, see hostcpu.Sampler.subscribe), so a lesson can be read the way
the blog was: %CPU over the last second of the whole QEMU process, RES its
resident memory, TIME+ its CPU time since it started, and the phase.

In a notebook with a front end the lines go to one output that is
replaced each second (the last few lines, newest at the bottom); on a
terminal, or to any stream given, one line a second.  Headless notebooks
(nbval) get nothing live: :attr:`Top.lines` keeps every line, and the Top
is a table (Tabular) to show at the end.
"""

from __future__ import annotations

import math
import sys
import threading
from dataclasses import dataclass
from typing import TextIO

from .hostcpu import Sample
from .notebook import live_frontend
from .table import Tabular

__all__ = ["Top", "TopLine", "time_plus"]

_SHOWN = 8              # lines kept on screen in a notebook


def _mem_total() -> int:
    """The host's RAM in bytes (``/proc/meminfo``), 0 if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def time_plus(seconds: float) -> str:
    """CPU seconds as ``top``'s TIME+: minutes:seconds.hundredths (``0:53.28``)."""
    if math.isnan(seconds):
        return "-"
    cs = round(seconds * 100)
    return f"{cs // 6000}:{cs % 6000 // 100:02d}.{cs % 100:02d}"


@dataclass(frozen=True)
class TopLine:
    """One refresh: QEMU over the last ``every`` seconds."""

    t: float            # seconds on the session's time axis, end of the refresh
    phase: str
    cpu_pct: float      # % of one host core, whole QEMU process
    main_pct: float     # of that, QEMU's main thread
    rss: int            # resident bytes
    mem_pct: float      # rss as % of the host's RAM
    cpu_s: float        # CPU seconds since QEMU started

    def text(self) -> str:
        return (f"{self.t:7.1f}  {self.cpu_pct:5.1f}  {self.mem_pct:4.1f}  {self.rss / 2**20:6.1f}M  "
                f"{time_plus(self.cpu_s):>9}  qemu-system-x86  ({self.phase})")


HEADER = "      t   %CPU  %MEM      RES      TIME+  COMMAND"


class Top(Tabular):
    """A sampler listener that makes a :class:`TopLine` every ``every`` seconds.

    ``out``: a stream for one line a refresh; None picks the notebook's
    updating output where a front end draws it, standard output on a
    terminal, and nothing otherwise (the lines are kept either way).
    """

    title = "QEMU as top shows it, once a second"
    columns = {"t": "t, s", "phase": "phase", "cpu_pct": "%CPU", "main_pct": "of which main thread",
               "mem_pct": "%MEM", "res_mib": "RES, MiB", "time_plus": "TIME+"}

    def __init__(self, every: float = 1.0, *, out: TextIO | None = None) -> None:
        self.every = every
        self.lines: list[TopLine] = []
        self._lock = threading.Lock()
        self._pending: list[Sample] = []
        self._mem = _mem_total()
        self._handle = None
        self._out = out
        if out is None:
            if live_frontend():
                from IPython.display import display

                self._handle = display(_Text(HEADER), display_id=True)
            elif sys.stdout.isatty():
                self._out = sys.stdout
        if self._out is not None:
            print(HEADER, file=self._out, flush=True)

    def __call__(self, sample: Sample) -> None:
        """Take one sample (on the sampler thread); a line once ``every`` has passed."""
        with self._lock:
            if self._pending and self._pending[-1].phase != sample.phase:
                self._pending.clear()           # a new VM or phase: start the refresh again
            self._pending.append(sample)
            first = self._pending[0]
            span = sample.t - first.t + _interval(first, self._pending)
            if span < self.every - 1e-6:
                return
            batch, self._pending = self._pending, []
            line = self._line(batch)
            self.lines.append(line)
            shown = self.lines[-_SHOWN:]
        self._emit(line, shown)

    def _line(self, batch: list[Sample]) -> TopLine:
        last = batch[-1]
        cpu = _mean([s.total for s in batch])
        main = _mean([s.main for s in batch])
        mem = 100.0 * last.rss / self._mem if self._mem and last.rss else math.nan
        return TopLine(last.t, last.phase, cpu, main, last.rss, mem, last.cpu_s)

    def _emit(self, line: TopLine, shown: list[TopLine]) -> None:
        if self._handle is not None:
            self._handle.update(_Text("\n".join([HEADER, *(x.text() for x in shown)])))
        elif self._out is not None:
            print(line.text(), file=self._out, flush=True)

    def finish(self) -> None:
        """Nothing more will come (the session closed)."""
        with self._lock:
            self._pending.clear()

    def table(self) -> list[dict[str, object]]:
        return [{"t": round(x.t, 1), "phase": x.phase, "cpu_pct": round(x.cpu_pct, 1),
                 "main_pct": round(x.main_pct, 1), "mem_pct": round(x.mem_pct, 1),
                 "res_mib": round(x.rss / 2**20, 1), "time_plus": time_plus(x.cpu_s)}
                for x in self.lines]


def _interval(first: Sample, batch: list[Sample]) -> float:
    """The length of one sampling interval, judged from the batch (0.1 s at 10 Hz)."""
    if len(batch) >= 2:
        return (batch[-1].t - first.t) / (len(batch) - 1)
    return 0.1


def _mean(values: list[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return sum(kept) / len(kept) if kept else math.nan


class _Text:
    """Plain text for a notebook output (no HTML table that reflows each second)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def _repr_pretty_(self, p, cycle: bool) -> None:
        p.text(self.text)

