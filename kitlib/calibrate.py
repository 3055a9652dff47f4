"""The host's floor and ceiling: what a VM costs this host when it does
nothing at all, and when it spins.

Every claim a lesson makes about host CPU is relative to these two numbers,
measured on the machine at hand, because the same guest costs different
amounts on different hosts (TCG or KVM, nested or not, a busy or quiet host).
The floor guest executes ``cli; hlt``: its vCPU sleeps for good and no
interrupt can wake it.  The ceiling guest executes ``jmp .``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .build import probe
from .experiment import Experiment, Phase, measure
from .table import Tabular

_cache: dict[tuple[float, float], "Calibration"] = {}


@dataclass(frozen=True)
class Calibration(Tabular):
    """Host CPU, % of one host core, of the floor and ceiling guests."""

    floor_vcpu: float
    floor_total: float
    ceiling_vcpu: float
    ceiling_total: float

    @property
    def floor(self) -> float:
        """The floor of the whole QEMU process."""
        return self.floor_total

    @property
    def ceiling(self) -> float:
        """The ceiling of one spinning vCPU thread."""
        return self.ceiling_vcpu

    @classmethod
    def from_experiment(cls, run: Experiment) -> "Calibration":
        floor, ceiling = run["floor"], run["ceiling"]
        return cls(floor.vcpu[0], floor.total, ceiling.vcpu[0], ceiling.total)

    title = "Calibration: what a VM costs this host, % of one host core"
    columns = {"guest": "guest", "vcpu_pct": "vCPU thread, %", "total_pct": "QEMU total, %"}

    def table(self) -> list[dict[str, object]]:
        return [{"guest": "floor (cli; hlt)", "vcpu_pct": round(self.floor_vcpu, 2),
                 "total_pct": round(self.floor_total, 2)},
                {"guest": "ceiling (jmp .)", "vcpu_pct": round(self.ceiling_vcpu, 1),
                 "total_pct": round(self.ceiling_total, 1)}]

    def notes(self) -> list[str]:
        return [f"claims are made against the floor {self.floor:.2f} % (QEMU total) "
                f"and the ceiling {self.ceiling:.1f} % (one spinning vCPU thread)"]


def calibrate(*, seconds: float = 3.0, settle: float = 0.5, fresh: bool = False,
              progress: bool = True) -> Calibration:
    """Measure the floor and ceiling guests (cached for this Python process)."""
    key = (seconds, settle)
    if not fresh and key in _cache:
        return _cache[key]
    run = measure("calibration", [Phase("floor", probe("halt"), ready=False),
                                  Phase("ceiling", probe("spin"), ready=False)],
                  seconds=seconds, settle=settle, progress=progress)
    _cache[key] = Calibration.from_experiment(run)
    return _cache[key]
