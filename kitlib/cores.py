"""Bring-up, from the guest's own clock: when each core reached C, counted
from the boot CPU's first INIT IPI.

The kernel stamps the TSC into its statistics block (kernel/stats.h):
``sipi_tsc`` on the boot CPU just before it starts the first AP, and
``up_tsc`` on every CPU when it reaches C.  Under TCG and KVM alike every
vCPU reads the same host-derived TSC, so stamps from different CPUs compare.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import KitError
from .guest import StatsSnapshot
from .table import Tabular

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["Bringup"]


@dataclass(frozen=True)
class Bringup(Tabular):
    """Milliseconds from the first INIT IPI to each CPU reaching C (CPU 0: negative, it was first)."""

    up_ms: tuple[float, ...]

    @property
    def cpus(self) -> int:
        return len(self.up_ms)

    @property
    def total_ms(self) -> float:
        """From the first INIT IPI to the last AP up (0 with one CPU)."""
        return max(self.up_ms[1:], default=0.0)

    @classmethod
    def from_stats(cls, snap: StatsSnapshot) -> "Bringup":
        if not snap.valid or not snap.tsc_hz or "up_tsc" not in snap.fields:
            raise KitError("the guest's statistics block has no bring-up stamps (stage 'cores' or later)")
        start = snap.cpus[0]["sipi_tsc"] or snap.cpus[0]["up_tsc"]
        return cls(tuple(1e3 * (c["up_tsc"] - start) / snap.tsc_hz for c in snap.cpus))

    def figure(self) -> "go.Figure":
        import plotly.graph_objects as go

        fig = go.Figure(go.Bar(x=list(self.up_ms), y=[f"CPU {n}" for n in range(self.cpus)],
                               orientation="h", uid="bringup", marker_color="#1f77b4",
                               hovertemplate="CPU %{y}: up at %{x:.2f} ms<extra></extra>"))
        fig.update_layout(title=f"{self.cpus} CPUs up in {self.total_ms:.1f} ms of guest time",
                          xaxis_title="ms after the first INIT IPI (guest TSC)",
                          yaxis=dict(autorange="reversed"), template="plotly_white",
                          height=120 + 22 * self.cpus, margin=dict(l=70, r=20, t=50, b=50))
        return fig

    columns = {"cpu": "CPU", "up_ms": "up at, ms after the first INIT IPI"}

    @property
    def title(self) -> str:
        return f"{self.cpus} CPUs up in {self.total_ms:.2f} ms of guest time"

    def table(self) -> list[dict[str, object]]:
        return [{"cpu": n, "up_ms": round(ms, 2)} for n, ms in enumerate(self.up_ms)]
