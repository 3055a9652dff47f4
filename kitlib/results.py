"""What a measuring session leaves: a summary per phase, and every sample on
one time axis, as plain numbers.

A phase's summary skips its first samples (the VM has just booted, or a
command has just been typed, and the host settles), then averages the rest,
ignoring unknown (NaN) values rather than counting them as zero.  The figure
is drawn only when asked for: plotting is a view, loaded then.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from .hostcpu import Sample
from .table import Tabular, json_safe

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["PhaseResult", "Experiment", "summarise"]


@dataclass(frozen=True)
class PhaseResult:
    """Means over one phase's settled samples."""

    label: str
    cpus: int
    samples: int
    vcpu: dict[int, float]      # % of one host core, per vCPU thread
    total: float                # % of one host core, whole QEMU process
    halted: dict[int, float]    # guest view, fraction of time halted per CPU (NaN: unknown)
    idle_rate: dict[int, float] # idle-loop passes a second per CPU (NaN: unknown)
    rates: dict[str, dict[int, float]] = field(default_factory=dict, repr=False)
                                # events a second per CPU of each guest counter
    wanted: dict[int, float] = field(default_factory=dict)
                                # % of the time each vCPU thread was runnable (hostcpu.Sample)
    main: float = math.nan      # % of one host core, QEMU's main thread (devices' host side)

    @property
    def vcpu_mean(self) -> float:
        """The mean over vCPU threads of their % of a host core."""
        return statistics.fmean(self.vcpu.values()) if self.vcpu else math.nan


def _mean(values: list[float]) -> float:
    values = [v for v in values if not math.isnan(v)]
    return statistics.fmean(values) if values else math.nan


def summarise(label: str, cpus: int, samples: Sequence[Sample], settle: int) -> PhaseResult:
    """Average a phase's samples, skipping the first ``settle`` of them."""
    kept = list(samples[settle:]) or list(samples)

    def per_cpu(key: str) -> dict[int, float]:
        return {n: _mean([getattr(s, key).get(n, math.nan) for s in kept]) for n in range(cpus)}

    names = {name for s in kept for name in s.rates}
    rates = {name: {n: _mean([s.rates.get(name, {}).get(n, math.nan) for s in kept]) for n in range(cpus)}
             for name in sorted(names)}
    return PhaseResult(label, cpus, len(kept), per_cpu("vcpu"), _mean([s.total for s in kept]),
                       per_cpu("halted"), per_cpu("idle_rate"), rates, per_cpu("wanted"),
                       _mean([s.main for s in kept]))


def _pct(fraction: float) -> float:
    return math.nan if math.isnan(fraction) else round(100.0 * fraction, 2)


def _round(x: float) -> float:
    return x if math.isnan(x) else round(x)


@dataclass(frozen=True)
class Experiment(Tabular):
    """What a measuring session saw: a summary per phase and every sample."""

    title: str
    phases: tuple[PhaseResult, ...]
    samples: tuple[Sample, ...] = field(repr=False)
    floor: float | None = None
    ceiling: float | None = None
    guest: str = "halted"       # the figure's lower panel (LivePlot's guest=)
    main: bool = False          # the figure draws QEMU's main thread (LivePlot's main=)

    columns = {"phase": "phase", "cpu": "CPU", "vcpu_pct": "vCPU thread, % of a host core",
               "total_pct": "QEMU total, %", "guest_halted_pct": "guest: time halted, %",
               "idle_passes_per_s": "idle passes / s"}

    def __getitem__(self, label: str) -> PhaseResult:
        for p in self.phases:
            if p.label == label:
                return p
        raise KeyError(f"no phase {label!r} (phases: {', '.join(p.label for p in self.phases)})")

    def figure(self) -> "go.Figure":
        """The static plot of every sample (host above, guest below)."""
        from .plot import LivePlot

        cpus = max((p.cpus for p in self.phases), default=1)
        plot = LivePlot(self.title, cpus, floor=self.floor, ceiling=self.ceiling, guest=self.guest,
                        live=False, main=self.main)
        plot.extend(self.samples)
        return plot.figure()

    def table(self) -> list[dict[str, object]]:
        """One row a phase and CPU, as plain numbers."""
        rows = []
        for p in self.phases:
            for n in range(p.cpus):
                rows.append({"phase": p.label, "cpu": n, "vcpu_pct": round(p.vcpu[n], 2),
                             "total_pct": round(p.total, 2),
                             "guest_halted_pct": _pct(p.halted[n]),
                             "idle_passes_per_s": _round(p.idle_rate[n])})
        return rows

    def notes(self) -> list[str]:
        if self.floor is None:
            return []
        return [f"calibrated floor {self.floor:.2f} %, ceiling {self.ceiling:.1f} % of a host core"]

    def to_dict(self) -> dict[str, object]:
        return json_safe({"title": self.title, "floor_pct": self.floor, "ceiling_pct": self.ceiling,
                          "phases": [asdict(p) for p in self.phases]})
