"""Benchmarks: two things compared in one run, written as JSON.

Tests check behaviour; figures come from here.  Each benchmark measures the
subject beside a reference on the same machine, in the same run, interleaved,
so a busy or slow host moves both and their ratio stays meaningful.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .build import build, probe
from .calibrate import Calibration, calibrate
from .experiment import Phase, compare_idle, measure
from .spinlocks import compare_locks
from .paths import root
from .qemu import qemu_version, resolve_accel
from .cores import Bringup
from .vm import VM
from .idle import compare_lateness
from .poll import REACTION, compare_reaction


@dataclass(frozen=True)
class BenchResult:
    name: str
    data: dict[str, object]
    path: Path

    def __str__(self) -> str:
        return json.dumps(self.data, indent=2) + f"\nwritten to {self.path}"


def host_info() -> dict[str, object]:
    """What the figures depend on: the host, QEMU, the accelerator."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "host_cpus": os.cpu_count(), "host_cpu_model": model, "kernel": platform.release(),
            "qemu": qemu_version(), "accel": resolve_accel("auto"), "machine": "pc"}


def bench_boot(runs: int = 9, *, stage: str = "boot") -> dict[str, object]:
    """Median time from starting QEMU to ``kit: ready``, beside a floor guest
    that exits at its first instruction (so the difference is the kernel's own
    boot, not QEMU's and the firmware's start-up)."""
    kernel, floor = build(stage), probe("exit")
    ready, exits = [], []
    for _ in range(runs):                      # interleaved: drift hits both alike
        t0 = time.monotonic()
        with VM(floor) as vm:
            vm.wait_exit(timeout=30)
        exits.append(time.monotonic() - t0)
        t0 = time.monotonic()
        with VM(kernel, append="idle=hlt") as vm:
            vm.wait_ready()
            ready.append(time.monotonic() - t0)
    med_ready, med_exit = statistics.median(ready), statistics.median(exits)
    return {"benchmark": "boot", "stage": stage, "runs": runs,
            "ready_ms_median": round(1e3 * med_ready, 2),
            "floor_exit_ms_median": round(1e3 * med_exit, 2),
            "ratio": round(med_ready / med_exit, 3),
            "kernel_ms_over_floor": round(1e3 * (med_ready - med_exit), 2),
            "ready_ms": [round(1e3 * x, 2) for x in ready],
            "floor_exit_ms": [round(1e3 * x, 2) for x in exits]}


def bench_idle(seconds: float = 5.0, *, stage: str = "boot") -> dict[str, object]:
    """Host CPU of the spin and hlt idle loops beside the calibrated floor and ceiling."""
    cal = calibrate(seconds=seconds, fresh=True, progress=False)
    run = compare_idle(build(stage), ("spin", "hlt"), seconds=seconds, show=False, progress=False)
    spin, hlt = run["spin"], run["hlt"]
    span = cal.ceiling_vcpu - cal.floor_vcpu
    return {"benchmark": "idle", "stage": stage, "seconds": seconds,
            **_floor_and_ceiling(cal),
            "spin": {"vcpu_pct": round(spin.vcpu[0], 2), "total_pct": round(spin.total, 2),
                     "guest_halted_pct": round(100 * spin.halted[0], 2)},
            "hlt": {"vcpu_pct": round(hlt.vcpu[0], 3), "total_pct": round(hlt.total, 3),
                    "guest_halted_pct": round(100 * hlt.halted[0], 2)},
            "spin_position": round((spin.vcpu[0] - cal.floor_vcpu) / span, 3) if span else None,
            "hlt_position": round((hlt.vcpu[0] - cal.floor_vcpu) / span, 4) if span else None}


def _floor_and_ceiling(cal: Calibration) -> dict[str, object]:
    return {"floor": {"vcpu_pct": round(cal.floor_vcpu, 3), "total_pct": round(cal.floor_total, 3)},
            "ceiling": {"vcpu_pct": round(cal.ceiling_vcpu, 2), "total_pct": round(cal.ceiling_total, 2)}}


def bench_smp(runs: int = 3, cpus: Sequence[int] = (1, 4, 16)) -> dict[str, object]:
    """Guest time from the first INIT IPI to the last ``kit: cpu n up``, by CPU count."""
    image = build("cores")
    out: dict[str, object] = {"benchmark": "smp", "stage": "cores", "runs": runs, "cpus": {}}
    for n in cpus:
        totals, last = [], None
        for _ in range(runs):
            with VM(image, cpus=n, append="idle=hlt", boot_timeout=180) as vm:
                vm.wait_ready()
                last = Bringup.from_stats(vm.stats())
            totals.append(last.total_ms)
        out["cpus"][str(n)] = {"bringup_ms_median": round(statistics.median(totals), 3),
                               "bringup_ms": [round(x, 3) for x in totals],
                               "up_ms_last_run": [round(x, 3) for x in last.up_ms]}
    return out


def bench_locks(seconds: float = 2.0, cpus: int = 4) -> dict[str, object]:
    """Throughput, fairness and host CPU of each lock kind, with and without pause, in one run."""
    run = compare_locks(build("spinlocks"), cpus=cpus, seconds=seconds, show=False, progress=False)
    return {"benchmark": "locks", "stage": "spinlocks", "cpus": cpus, "seconds": seconds,
            "results": run.table()}


def bench_ticks(seconds: float = 4.0, cpus: int = 2,
                rates: Sequence[str] = ("none", "100", "250", "1000")) -> dict[str, object]:
    """Host CPU of idle cores (no thread at all, idle=hlt) against the timer tick's rate,
    beside the calibrated floor: what each tick costs when there is nothing to do."""
    cal = calibrate(seconds=seconds, fresh=True, progress=False)
    image = build("sched")
    phases = [Phase(f"tick={r}", image, f"idle=hlt tick={r}", cpus) for r in rates]
    run = measure("idle cores against the tick rate", phases, seconds=seconds, progress=False)
    rows = []
    for r in rates:
        p = run[f"tick={r}"]
        irqs = sum(v for v in p.rates.get("timer_irqs", {}).values())
        over = p.total - cal.floor_total
        rows.append({"tick": r, "total_pct": round(p.total, 3), "over_floor_pct": round(over, 3),
                     "timer_irqs_per_s": round(irqs, 1),
                     "host_us_per_tick": round(1e4 * over / irqs, 1) if irqs else None})
    return {"benchmark": "ticks", "stage": "sched", "cpus": cpus, "seconds": seconds,
            "floor_total_pct": round(cal.floor_total, 3), "results": rows}


def bench_policies(seconds: float = 4.0, cpus: int = 4) -> dict[str, object]:
    """Host CPU of ``cpus`` cores whose threads all sleep (for a second at a time),
    for idle=spin and idle=hlt tickless, beside the calibrated floor and ceiling."""
    asleep = "app=sleepers sleep=1000 tick=none"
    cal = calibrate(seconds=seconds, fresh=True, progress=False)
    run = compare_idle(build("idle"), ("spin", "hlt"), cpus=cpus, append=asleep, seconds=seconds,
                       show=False, progress=False)
    out = {}
    for policy in ("spin", "hlt"):
        p = run[policy]
        out[policy] = {"total_pct": round(p.total, 3), "over_floor_pct": round(p.total - cal.floor_total, 3),
                       "vcpu_pct": {str(k): round(v, 3) for k, v in p.vcpu.items()},
                       "vcpu_runnable_pct": {str(k): round(v, 1) for k, v in p.wanted.items()}}
    return {"benchmark": "policies", "stage": "idle", "cpus": cpus, "seconds": seconds,
            "append": asleep,
            **_floor_and_ceiling(cal),
            **out}


def bench_lateness(sleeps: int = 500, cpus: int = 2) -> dict[str, object]:
    """Timer-wake lateness percentiles (guest TSC) and host CPU: spin, hlt tickless,
    hlt on a 100 Hz tick, in one run."""
    run = compare_lateness(build("idle"), cpus=cpus, sleeps=sleeps, progress=False)
    return {"benchmark": "lateness", "stage": "idle", "cpus": cpus, "sleeps_per_core": sleeps,
            **run.to_dict()}


def bench_reaction(n: int = 300, cpus: int = 2, periods_us: Sequence[int] = (10_000, 200)) -> dict[str, object]:
    """Producer-to-consumer reaction percentiles (guest TSC) and host CPU, quiet and
    under traffic and after it, for spin, Toro's API and the kit's API, at each message period.

    At least ``n`` messages, and at least two seconds of them, so that the
    host samples the traffic.  Toro's API runs only at periods of a tick or
    more: it needs a periodic tick, and on a ticking core the producer's
    sleeps end at ticks, so it could not send faster."""
    cal = calibrate(fresh=True, progress=False)
    image = build("poll")
    runs, notes = {}, []
    for period in periods_us:
        setups = dict(REACTION)
        if period < 10_000:
            del setups["Toro's API"]
            notes.append(f"period {period} us: no Toro's API (its tick=100 would pace the producer at 10 ms)")
        count = max(n, round(2e6 / period))
        runs[str(period)] = {"messages": count, **compare_reaction(
            image, setups, cpus=cpus, period_us=period, n=count, quiet=2.0, after=2.0, show=False,
            progress=False).to_dict()}
    return {"benchmark": "reaction", "stage": "poll", "cpus": cpus,
            "floor_total_pct": round(cal.floor_total, 3), "notes": notes, "by_period_us": runs}


BENCHMARKS = {"boot": bench_boot, "idle": bench_idle, "smp": bench_smp, "locks": bench_locks,
              "ticks": bench_ticks, "policies": bench_policies, "lateness": bench_lateness,
              "reaction": bench_reaction}


def run_bench(name: str, out: Path | None = None, **options: object) -> BenchResult:
    """Run one benchmark and write its JSON (``results/bench-<name>.json``)."""
    data = {**BENCHMARKS[name](**options), "host": host_info()}
    path = out or root() / "results" / f"bench-{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return BenchResult(name, data, path)
