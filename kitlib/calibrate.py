"""The host's floor and ceiling: what a VM costs this host when it does
nothing at all, and when it spins.

Every claim a lesson makes about host CPU is relative to these two numbers,
measured on the machine at hand, because the same guest costs different
amounts on different hosts (TCG or KVM, nested or not, a busy or quiet host).
The floor guest executes ``cli; hlt``: its vCPU sleeps for good and no
interrupt can wake it.  The ceiling guest executes ``jmp .``.

A calibration is checked where it is made, by what load does not change:
the floor's vCPU thread asks for (is runnable) almost none of the time, the
ceiling's all of it, and the floor lies far below the ceiling.

From stage net on, a VM has a network card on QEMU's user network, whose
timers wake QEMU's main thread about twice a second even when the guest
sleeps for good (libslirp's slow timer, while a forwarded port listens).
``calibrate(net=True)`` boots both probes with the same card and back-end
as ``VM(net=True)``, so "back at the floor" is judged against a floor that
pays for those wake-ups too.  An
accelerator that does not really halt a ``cli; hlt`` vCPU (KVM nested inside
a software-virtualised host can spin it) fails that check rather than
giving every lesson a floor as high as its ceiling.
"""

from __future__ import annotations

import dataclasses
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
BUSY_CEILING = 85.0     # a ceiling below this (% of a core) was measured on a busy host

def _round(x: float, digits: int) -> float:
    return x if math.isnan(x) else round(x, digits)


_cache: dict[tuple[float, float, bool], "Calibration"] = {}


@dataclass(frozen=True)
class Calibration(Tabular):
    """Host CPU, % of one host core, of the floor and ceiling guests."""

    floor_vcpu: float
    floor_total: float
    ceiling_vcpu: float
    ceiling_total: float
    floor_wanted: float = math.nan      # % of the time each probe's vCPU thread was runnable
    ceiling_wanted: float = math.nan    # (running or waiting for a core; NaN: not measured)
    floor_main: float = math.nan        # % of a host core, the floor's QEMU main thread
    net: bool = False                   # measured with the network card on the user network

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
                   floor.wanted.get(0, math.nan), ceiling.wanted.get(0, math.nan), floor.main)

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

    @property
    def title(self) -> str:                     # type: ignore[override]
        return ("Calibration: what a VM costs this host, % of one host core"
                + (", with a network card on QEMU's user network" if self.net else ""))

    columns = {"guest": "guest", "vcpu_pct": "vCPU thread, %", "runnable_pct": "vCPU runnable, %",
               "total_pct": "QEMU total, %"}

    @property
    def busy(self) -> bool:
        """Whether the host was busy: the spinning probe asked for a whole
        core (runnable) and got well under one."""
        return self.ceiling < BUSY_CEILING

    def table(self) -> list[dict[str, object]]:
        return [{"guest": "floor (cli; hlt)", "vcpu_pct": round(self.floor_vcpu, 2),
                 "runnable_pct": _round(self.floor_wanted, 1), "total_pct": round(self.floor_total, 2)},
                {"guest": "ceiling (jmp .)", "vcpu_pct": round(self.ceiling_vcpu, 1),
                 "runnable_pct": _round(self.ceiling_wanted, 1), "total_pct": round(self.ceiling_total, 1)}]

    def notes(self) -> list[str]:
        said = [f"claims are made against the floor {self.floor:.2f} % (QEMU total) "
                f"and the ceiling {self.ceiling:.1f} % (one spinning vCPU thread)"]
        if self.busy:
            said.append(f"the host was busy: the spinning vCPU asked for a whole core (runnable "
                        f"{self.ceiling_wanted:.0f} % of the time) and got {self.ceiling:.0f} %")
        if self.net:
            said.append(f"both probes had the network card; the floor's QEMU main thread "
                        f"{self.floor_main:.2f} %")
        return said

    def __repr__(self) -> str:
        """One line, rounded, with units (a tuple or list shows this)."""
        runnable = ("" if math.isnan(self.ceiling_wanted)
                    else f", runnable {self.ceiling_wanted:.0f} %")
        return (f"Calibration(floor {self.floor:.2f} % of a host core (QEMU total), "
                f"ceiling {self.ceiling:.1f} % (one spinning vCPU thread{runnable})"
                f"{', host busy' if self.busy else ''}{', with the network card' if self.net else ''})")

    def _repr_pretty_(self, p, cycle: bool) -> None:
        p.text(repr(self))


def calibrate(*, seconds: float = 3.0, settle: float = 0.5, fresh: bool = False,
              progress: bool = True, net: bool = False) -> Calibration:
    """Measure the floor and ceiling guests (cached for this Python process);
    CalibrationError if what they measured cannot be a floor and a ceiling.
    ``net`` boots them with the network card, as ``VM(net=True)`` does."""
    key = (seconds, settle, net)
    if not fresh and key in _cache:
        return _cache[key]
    run = measure("calibration" + (" with the network card" if net else ""),
                  [Phase("floor", probe("halt"), ready=False, net=net),
                   Phase("ceiling", probe("spin"), ready=False, net=net)],
                  seconds=seconds, settle=settle, progress=progress)
    _cache[key] = dataclasses.replace(Calibration.from_experiment(run), net=net).check()
    return _cache[key]
