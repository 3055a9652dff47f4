"""The host's floor and ceiling: what a VM costs this host when it does
nothing at all, and when it spins.

Every claim a lesson makes about host CPU is relative to these two numbers,
measured on the machine at hand, because the same guest costs different
amounts on different hosts (TCG or KVM, nested or not, a busy or quiet host).
The floor guest executes ``cli; hlt``: its vCPU sleeps for good and no
interrupt can wake it.  The ceiling guest executes ``jmp .``.

A calibration is checked where it is made, by what load does not change:
the floor's vCPU thread asks for (is runnable) almost none of the time, the
ceiling's all of it, and the floor lies far below the ceiling.  An
accelerator that does not really halt a ``cli; hlt`` vCPU (KVM nested inside
a software-virtualised host can spin it) fails that check rather than
giving every lesson a floor as high as its ceiling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .build import probe
from .errors import CalibrationError
from .experiment import Experiment, Phase, measure
from .table import Tabular

__all__ = ["Calibration", "calibrate"]

FLOOR_SHARE = 0.25      # the floor is at most this share of the ceiling
FLOOR_WANTED = 25.0     # % of the time the floor's vCPU thread may be runnable, at most
CEILING_WANTED = 80.0   # % of the time the ceiling's vCPU thread is runnable, at least

_cache: dict[tuple[float, float], "Calibration"] = {}


@dataclass(frozen=True)
class Calibration(Tabular):
    """Host CPU, % of one host core, of the floor and ceiling guests."""

    floor_vcpu: float
    floor_total: float
    ceiling_vcpu: float
    ceiling_total: float
    floor_wanted: float = math.nan      # % of the time each probe's vCPU thread was runnable
    ceiling_wanted: float = math.nan    # (running or waiting for a core; NaN: not measured)

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
        return cls(floor.vcpu[0], floor.total, ceiling.vcpu[0], ceiling.total,
                   floor.wanted.get(0, math.nan), ceiling.wanted.get(0, math.nan))

    def problems(self) -> list[str]:
        """What makes this calibration impossible; empty when it can be right."""
        found = []
        if not self.floor < FLOOR_SHARE * self.ceiling:
            found.append(f"the floor {self.floor:.2f} % is not far below the ceiling {self.ceiling:.1f} %")
        if self.floor_wanted > FLOOR_WANTED:
            found.append(f"the floor guest's vCPU was runnable {self.floor_wanted:.0f} % of the time, "
                         "so it did not halt")
        if self.ceiling_wanted < CEILING_WANTED:
            found.append(f"the ceiling guest's vCPU was runnable only {self.ceiling_wanted:.0f} % of "
                         "the time, where a spinning vCPU asks for all of it")
        return found

    def check(self) -> "Calibration":
        """Return self, or raise CalibrationError if it cannot be right."""
        found = self.problems()
        if found:
            raise CalibrationError(found)
        return self

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
    """Measure the floor and ceiling guests (cached for this Python process);
    CalibrationError if what they measured cannot be a floor and a ceiling."""
    key = (seconds, settle)
    if not fresh and key in _cache:
        return _cache[key]
    run = measure("calibration", [Phase("floor", probe("halt"), ready=False),
                                  Phase("ceiling", probe("spin"), ready=False)],
                  seconds=seconds, settle=settle, progress=progress)
    _cache[key] = Calibration.from_experiment(run).check()
    return _cache[key]
