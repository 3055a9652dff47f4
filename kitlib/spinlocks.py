"""Spin locks under contention: host CPU, throughput and fairness per lock.

The kernel's lock app (``app=locks``) has every CPU increment one shared
counter under the chosen lock; each CPU counts its own acquisitions and spin
iterations in the statistics block, which the sampler turns into rates.
Fairness is Jain's index over the CPUs' acquisition rates: 1 when every CPU
gets the lock equally often, 1/n when one CPU gets it every time (R. Jain,
D. Chiu, W. Hawe, "A Quantitative Measure of Fairness and Discrimination
for Resource Allocation in Shared Computer Systems", DEC-TR-301, 1984).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .build import Image
from .experiment import Phase, measure
from .results import Experiment, PhaseResult
from .table import Tabular

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["KINDS", "jain", "LockResult", "LockComparison", "compare_locks"]

# lock=<kind> on the command line (kernel/spinlock.c)
KINDS = ("tas", "ttas", "ticket")


def jain(xs: Sequence[float]) -> float:
    """Jain's fairness index of ``xs``: (Σx)² / (n·Σx²), in [1/n, 1]."""
    xs = [x for x in xs if not math.isnan(x)]
    square_sum = sum(x * x for x in xs)
    return sum(xs) ** 2 / (len(xs) * square_sum) if square_sum else math.nan


@dataclass(frozen=True)
class LockResult:
    """One lock kind, with or without pause, on ``cpus`` CPUs."""

    kind: str
    pause: bool
    phase: PhaseResult

    @property
    def label(self) -> str:
        return self.phase.label

    @property
    def acquisitions(self) -> dict[int, float]:
        """Acquisitions a second, per CPU."""
        return self.phase.rates.get("lock_acquires", {})

    @property
    def throughput(self) -> float:
        """Acquisitions a second, all CPUs together."""
        return sum(v for v in self.acquisitions.values() if not math.isnan(v))

    @property
    def fairness(self) -> float:
        return jain(list(self.acquisitions.values()))

    @property
    def spins_per_acquisition(self) -> float:
        spins = sum(self.phase.rates.get("lock_spins", {}).values())
        return spins / self.throughput if self.throughput else math.nan


@dataclass(frozen=True)
class LockComparison(Tabular):
    results: tuple[LockResult, ...]
    experiment: Experiment

    columns = {"lock": "lock", "pause": "pause", "acquisitions_per_s": "acquisitions / s",
               "fairness": "fairness", "spins_per_acquisition": "spins / acquisition",
               "vcpu_pct_mean": "vCPU mean, %", "total_pct": "QEMU total, %"}

    @property
    def title(self) -> str:
        return self.experiment.title

    def __getitem__(self, key: tuple[str, bool]) -> LockResult:
        for r in self.results:
            if (r.kind, r.pause) == key:
                return r
        raise KeyError(key)

    def table(self) -> list[dict[str, object]]:
        return [{"lock": r.kind, "pause": r.pause, "acquisitions_per_s": round(r.throughput),
                 "fairness": round(r.fairness, 4), "spins_per_acquisition": round(r.spins_per_acquisition, 2),
                 "vcpu_pct_mean": round(r.phase.vcpu_mean, 1), "total_pct": round(r.phase.total, 1)}
                for r in self.results]

    def figure(self) -> "go.Figure":
        from plotly.subplots import make_subplots

        labels = [r.label for r in self.results]
        fig = make_subplots(rows=1, cols=3, subplot_titles=(
            "host CPU (% of a core, all vCPUs)", "acquisitions a second", "fairness (Jain's index)"))
        colours = ["#1f77b4" if r.pause else "#ff7f0e" for r in self.results]
        for col, (values, uid) in enumerate(((([r.phase.total for r in self.results]), "cpu"),
                                             ([r.throughput for r in self.results], "throughput"),
                                             ([r.fairness for r in self.results], "fairness")), 1):
            fig.add_bar(x=labels, y=values, marker_color=colours, uid=uid, showlegend=False, row=1, col=col)
        fig.update_yaxes(range=[0, 1.05], row=1, col=3)
        fig.update_layout(height=380, template="plotly_white", margin=dict(l=50, r=20, t=60, b=90),
                          title="spin locks under contention (blue: with pause, orange: without)")
        return fig


def compare_locks(image: Image, kinds: Sequence[str] = KINDS, pauses: Sequence[bool] = (True, False), *,
                  cpus: int = 4, seconds: float = 2.0, settle: float = 0.5, show: bool = True,
                  progress: bool = True, floor: float | None = None,
                  ceiling: float | None = None, host_cpus: int | None = None) -> LockComparison:
    """Boot the lock app once per lock kind and pause setting; measure each.

    Each run must end with the guest's own verdict ``locks: OK`` (the shared
    counter equals the sum of the CPUs' counts), or this raises.
    ``host_cpus`` confines each QEMU to that many host CPUs (VM's
    ``host_cpus``), so that vCPUs can outnumber host cores on any host.
    """
    # The app must outlast the window, which starts when the host has seen "kit: ready" and
    # ends when a host sleep does: on a busy host both come late, and a window that outlives
    # the app measures halted cores.  The margin is waited out once, for the verdict.
    ms = round(1000 * (settle + seconds + 2.0))
    configs = [(k, p) for k in kinds for p in pauses]
    phases = [Phase(f"{k} pause={int(p)}", image, f"app=locks lock={k} pause={int(p)} ms={ms} idle=hlt",
                    cpus, verdict="locks", host_cpus=host_cpus) for k, p in configs]
    title = f"{cpus} CPUs contend for one lock" + (f" on {host_cpus} host CPUs" if host_cpus else "")
    run = measure(title, phases, seconds=seconds, settle=settle, show=show, progress=progress,
                  floor=floor, ceiling=ceiling, guest="lock_acquires")
    results = tuple(LockResult(k, p, run[f"{k} pause={int(p)}"]) for k, p in configs)
    return LockComparison(results, run)
