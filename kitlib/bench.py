"""Benchmarks: two things compared in one run, written as JSON.

Tests check behaviour; figures come from here.  Each benchmark measures the
subject beside a reference on the same machine, in the same run, interleaved,
so a busy or slow host moves both and their ratio stays meaningful.

A benchmark is one function registered with ``@benchmark``: its name is the
function's (``bench_idle_lateness`` is ``idle-lateness``), named after the
stage of the lesson it serves; its keyword parameters and their defaults are
what can be changed; its docstring's first line is its summary and a
``name: text`` line documents each parameter; ``headline`` picks the rows
printed from its JSON, and ``tables`` (optional) the further tables printed
under it.  ``kit bench`` derives its list, options and help from
the registry, so adding a benchmark is adding its function.

While a benchmark runs, what it prints is progress: ``run_bench`` sends it
to stderr, each line led by the benchmark's name (``boot: run 3 of 9``).
The lesson functions it calls print their own progress the same way.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

from . import benchnet
from .build import build, probe
from .calibrate import Calibration, calibrate
from .cores import Bringup
from .errors import KitError
from .experiment import Phase, compare_idle, measure
from .idle import compare_lateness
from .idlevms import measure_idle_vms
from .paths import root
from .poll import REACTION, compare_reaction
from .protocol import IDLE_POLICIES
from .qemu import qemu_version, resolve_accel
from .spinlocks import compare_locks
from .table import Tabular, json_safe
from .vm import VM

Data = dict[str, object]
Rows = list[dict[str, object]]

# Options every benchmark has on the command line besides its own parameters.
RESERVED = ("out", "list", "help")


@dataclass(frozen=True)
class Param:
    """A benchmark's keyword parameter: its default gives its type."""

    name: str
    default: object
    help: str

    @property
    def many(self) -> bool:
        """A tuple default takes one value or more."""
        return isinstance(self.default, tuple)

    @property
    def kind(self) -> type:
        """The type of one value (of the default's items, for a tuple)."""
        return type(self.default[0]) if self.many else type(self.default)

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")

    def shown(self) -> str:
        """The default as typed on the command line."""
        return " ".join(map(str, self.default)) if self.many else str(self.default)


@dataclass(frozen=True)
class Benchmark:
    """A registered benchmark: what it measures, for which lesson, and how."""

    name: str
    stage: str
    summary: str
    params: tuple[Param, ...]
    measure: Callable[..., Data]
    headline: Callable[[Data], Rows]
    columns: Mapping[str, str]
    tables: Callable[[Data], Sequence[Tabular]] | None = None


REGISTRY: dict[str, Benchmark] = {}


def benchmark(*, stage: str, headline: Callable[[Data], Rows], columns: Mapping[str, str] | None = None,
              tables: Callable[[Data], Sequence[Tabular]] | None = None,
              ) -> Callable[[Callable[..., Data]], Callable[..., Data]]:
    """Register a ``bench_<name>`` function as the benchmark ``<name>``
    (underscores become dashes) for the lesson of ``stage``; ``tables`` gives
    the tables printed under the headline, if it has more than one."""

    def register(fn: Callable[..., Data]) -> Callable[..., Data]:
        if not fn.__name__.startswith("bench_"):
            raise TypeError(f"{fn.__name__}: a benchmark's function is named bench_<name>")
        name = fn.__name__.removeprefix("bench_").replace("_", "-")
        if name in REGISTRY or name in ("list", "all"):
            raise TypeError(f"benchmark {name!r} already exists or names a command")
        summary, helps = _docs(fn)
        params = []
        for p in inspect.signature(fn).parameters.values():
            if p.default is p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
                raise TypeError(f"{name}: parameter {p.name!r} needs a default and a name")
            if p.name in RESERVED or p.name not in helps:
                raise TypeError(f"{name}: parameter {p.name!r} is reserved or has no "
                                f"'{p.name}: ...' line in the docstring")
            if isinstance(p.default, tuple) and not p.default:
                raise TypeError(f"{name}: parameter {p.name!r} needs a non-empty default")
            params.append(Param(p.name, p.default, helps[p.name]))
        REGISTRY[name] = Benchmark(name, stage, summary, tuple(params), fn, headline, dict(columns or {}), tables)
        return fn

    return register


def _docs(fn: Callable[..., object]) -> tuple[str, dict[str, str]]:
    """The docstring's first line, and its ``name: text`` lines."""
    doc = inspect.getdoc(fn) or ""
    lines = doc.splitlines()
    helps = dict(re.findall(r"^(\w+): (.+)$", doc, re.M))
    return (lines[0] if lines else fn.__name__), helps


# --- running one -------------------------------------------------------------------------

@dataclass(frozen=True)
class BenchResult(Tabular):
    """One benchmark's JSON, where it was written, and its headline as a table."""

    bench: Benchmark
    data: Data
    path: Path

    @property
    def name(self) -> str:
        return self.bench.name

    @property
    def title(self) -> str:                     # type: ignore[override]
        return f"{self.bench.name}: {self.bench.summary}"

    @property
    def columns(self) -> Mapping[str, str]:     # type: ignore[override]
        return self.bench.columns

    def table(self) -> Rows:
        """The headline rows, without the columns no row has a figure for."""
        rows = self.bench.headline(self.data)
        empty = {k for r in rows for k in r} - {k for r in rows for k, v in r.items() if v is not None}
        return [{k: v for k, v in r.items() if k not in empty} for r in rows]

    def notes(self) -> list[str]:
        return [*map(str, self.data.get("notes", ())), f"all figures: {self.path}"]

    def more(self) -> Sequence[Tabular]:
        """The tables under the headline (none for most benchmarks)."""
        return self.bench.tables(self.data) if self.bench.tables else ()

    def __str__(self) -> str:
        return "\n\n".join([super().__str__(), *map(str, self.more())])

    def _repr_html_(self) -> str:
        return "".join([super()._repr_html_(), *(t._repr_html_() for t in self.more())])


class _Progress(io.TextIOBase):
    """A text stream that leads every line with ``prefix`` (``boot: ``)."""

    def __init__(self, out: TextIO | None, prefix: str) -> None:
        self._out, self._prefix, self._fresh = out, prefix, True

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        if self._out is not None:
            for piece in s.splitlines(keepends=True):
                self._out.write(self._prefix + piece if self._fresh else piece)
                self._fresh = piece.endswith("\n")
            self._out.flush()
        return len(s)


def host_info() -> Data:
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


def default_path(name: str) -> Path:
    return root() / "results" / f"bench-{name}.json"


def run_bench(name: str, out: Path | None = None, *, progress: bool = True,
              **options: object) -> BenchResult:
    """Run one benchmark and write its JSON (``results/bench-<name>.json``, or ``out``).

    ``options`` are the benchmark's parameters; progress goes to stderr."""
    if name not in REGISTRY:
        raise KitError(f"no benchmark {name!r} (benchmarks: {', '.join(REGISTRY)})")
    bench = REGISTRY[name]
    unknown = set(options) - {p.name for p in bench.params}
    if unknown:
        raise KitError(f"benchmark {name!r} takes no {', '.join(sorted(unknown))} "
                       f"(it takes: {', '.join(p.name for p in bench.params) or 'nothing'})")
    with contextlib.redirect_stdout(_Progress(sys.stderr if progress else None, f"{name}: ")):
        figures = bench.measure(**options)
    data = json_safe({"benchmark": name, **figures, "host": host_info()})
    path = out or default_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return BenchResult(bench, data, path)


# --- the benchmarks, one a lesson (two for lesson 5) -------------------------------------

def _boot_rows(d: Data) -> Rows:
    return [{"guest": f"kernel ({d['stage']}) to kit: ready", "ms": d["ready_ms_median"]},
            {"guest": "floor guest, exits at once", "ms": d["floor_exit_ms_median"]},
            {"guest": "kernel over floor", "ms": d["kernel_ms_over_floor"], "ratio": d["ratio"]}]


@benchmark(stage="boot", headline=_boot_rows,
           columns={"guest": "guest", "ms": "median ms", "ratio": "ratio"})
def bench_boot(runs: int = 9, stage: str = "boot") -> Data:
    """Median time from starting QEMU to `kit: ready`, beside a guest that exits at once.

    The floor guest exits at its first instruction, so the difference is the
    kernel's own boot, not QEMU's and the firmware's start-up.

    runs: boots of each guest, interleaved so that drift hits both alike
    stage: the kernel stage to boot
    """
    kernel, floor = build(stage), probe("exit")
    ready, exits = [], []
    for i in range(runs):
        print(f"run {i + 1} of {runs}")
        t0 = time.monotonic()
        with VM(floor) as vm:
            vm.wait_exit(timeout=30)
        exits.append(time.monotonic() - t0)
        t0 = time.monotonic()
        with VM(kernel, append="idle=hlt") as vm:
            vm.wait_ready()
            ready.append(time.monotonic() - t0)
    med_ready, med_exit = statistics.median(ready), statistics.median(exits)
    return {"stage": stage, "runs": runs,
            "ready_ms_median": round(1e3 * med_ready, 2),
            "floor_exit_ms_median": round(1e3 * med_exit, 2),
            "ratio": round(med_ready / med_exit, 3),
            "kernel_ms_over_floor": round(1e3 * (med_ready - med_exit), 2),
            "ready_ms": [round(1e3 * x, 2) for x in ready],
            "floor_exit_ms": [round(1e3 * x, 2) for x in exits]}


def _floor_and_ceiling(cal: Calibration) -> Data:
    return {"floor": {"vcpu_pct": round(cal.floor_vcpu, 3), "total_pct": round(cal.floor_total, 3)},
            "ceiling": {"vcpu_pct": round(cal.ceiling_vcpu, 2), "total_pct": round(cal.ceiling_total, 2)}}


def _guests(d: Data, keys: Sequence[str]) -> Rows:
    """A row for the floor, the ceiling and each of ``keys``: the guests one run compared."""
    return [{"guest": k, **{f: v for f, v in d[k].items() if not isinstance(v, dict)}}
            for k in ("floor", "ceiling", *keys)]


def _boot_idle_rows(d: Data) -> Rows:
    rows = _guests(d, IDLE_POLICIES)
    for r in rows:
        r["position"] = d.get(f"{r['guest']}_position")
    return rows


@benchmark(stage="boot", headline=_boot_idle_rows,
           columns={"guest": "guest", "vcpu_pct": "vCPU %", "total_pct": "QEMU %",
                    "guest_halted_pct": "guest halted %", "position": "floor (0) to ceiling (1)"})
def bench_boot_idle(seconds: float = 5.0, stage: str = "boot") -> Data:
    """Host CPU of the spin and hlt idle loops beside the calibrated floor and ceiling.

    seconds: seconds each guest is measured
    stage: the kernel stage to boot
    """
    cal = calibrate(seconds=seconds, fresh=True)
    run = compare_idle(build(stage), IDLE_POLICIES, seconds=seconds, show=False)
    spin, hlt = run["spin"], run["hlt"]
    span = cal.ceiling_vcpu - cal.floor_vcpu
    return {"stage": stage, "seconds": seconds,
            **_floor_and_ceiling(cal),
            "spin": {"vcpu_pct": round(spin.vcpu[0], 2), "total_pct": round(spin.total, 2),
                     "guest_halted_pct": round(100 * spin.halted[0], 2)},
            "hlt": {"vcpu_pct": round(hlt.vcpu[0], 3), "total_pct": round(hlt.total, 3),
                    "guest_halted_pct": round(100 * hlt.halted[0], 2)},
            "spin_position": round((spin.vcpu[0] - cal.floor_vcpu) / span, 3) if span else None,
            "hlt_position": round((hlt.vcpu[0] - cal.floor_vcpu) / span, 4) if span else None}


def _cores_rows(d: Data) -> Rows:
    return [{"cpus": int(n), "median": c["bringup_ms_median"], "min": min(c["bringup_ms"]),
             "max": max(c["bringup_ms"])} for n, c in d["cpus"].items()]


@benchmark(stage="cores", headline=_cores_rows,
           columns={"cpus": "vCPUs", "median": "bring-up ms, median", "min": "min", "max": "max"})
def bench_cores(runs: int = 3, cpus: tuple[int, ...] = (1, 4, 16)) -> Data:
    """Guest time from the first INIT IPI to the last `kit: cpu n up`, by vCPU count.

    runs: boots at each vCPU count
    cpus: the vCPU counts
    """
    image = build("cores")
    out: Data = {"stage": "cores", "runs": runs, "cpus": {}}
    for n in cpus:
        totals, last = [], None
        for i in range(runs):
            print(f"{n} vCPUs, run {i + 1} of {runs}")
            with VM(image, cpus=n, append="idle=hlt", boot_timeout=180) as vm:
                vm.wait_ready()
                last = Bringup.from_stats(vm.stats())
            totals.append(last.total_ms)
        out["cpus"][str(n)] = {"bringup_ms_median": round(statistics.median(totals), 3),
                               "bringup_ms": [round(x, 3) for x in totals],
                               "up_ms_last_run": [round(x, 3) for x in last.up_ms]}
    return out


@benchmark(stage="spinlocks", headline=lambda d: d["results"],
           columns={"lock": "lock", "pause": "pause", "acquisitions_per_s": "acquisitions/s",
                    "fairness": "fairness", "spins_per_acquisition": "spins/acq.",
                    "vcpu_pct_mean": "vCPU % (mean)", "total_pct": "QEMU %"})
def bench_spinlocks(seconds: float = 2.0, cpus: int = 4) -> Data:
    """Throughput, fairness and host CPU of each lock kind, with and without pause, in one run.

    seconds: seconds each lock is measured
    cpus: vCPUs contending for the lock
    """
    run = compare_locks(build("spinlocks"), cpus=cpus, seconds=seconds, show=False)
    return {"stage": "spinlocks", "cpus": cpus, "seconds": seconds, "results": run.table()}


@benchmark(stage="sched", headline=lambda d: d["results"],
           columns={"tick": "tick (Hz)", "total_pct": "QEMU %", "over_floor_pct": "over floor %",
                    "timer_irqs_per_s": "timer IRQs/s", "host_us_per_tick": "host µs a tick"})
def bench_sched(seconds: float = 4.0, cpus: int = 2,
                rates: tuple[str, ...] = ("none", "100", "250", "1000")) -> Data:
    """Host CPU of idle cores against the timer tick's rate, beside the calibrated floor.

    Cores with no thread at all and idle=hlt: what each tick costs when there
    is nothing to do.

    seconds: seconds each tick rate is measured
    cpus: vCPUs, all idle
    rates: tick rates in Hz, or none (tickless)
    """
    cal = calibrate(seconds=seconds, fresh=True)
    image = build("sched")
    phases = [Phase(f"tick={r}", image, f"idle=hlt tick={r}", cpus) for r in rates]
    run = measure("idle cores against the tick rate", phases, seconds=seconds)
    rows = []
    for r in rates:
        p = run[f"tick={r}"]
        irqs = sum(v for v in p.rates.get("timer_irqs", {}).values())
        over = p.total - cal.floor_total
        rows.append({"tick": r, "total_pct": round(p.total, 3), "over_floor_pct": round(over, 3),
                     "timer_irqs_per_s": round(irqs, 1),
                     "host_us_per_tick": round(1e4 * over / irqs, 1) if irqs else None})
    return {"stage": "sched", "cpus": cpus, "seconds": seconds,
            "floor_total_pct": round(cal.floor_total, 3), "results": rows}


def _idle_rows(d: Data) -> Rows:
    rows = _guests(d, IDLE_POLICIES)
    for r, k in zip(rows, ("floor", "ceiling", *IDLE_POLICIES)):
        for f in ("vcpu_pct", "vcpu_runnable_pct"):
            if isinstance(d[k].get(f), dict):
                r[f] = statistics.fmean(d[k][f].values())
    return rows


@benchmark(stage="idle", headline=_idle_rows,
           columns={"guest": "guest", "total_pct": "QEMU %", "over_floor_pct": "over floor %",
                    "vcpu_pct": "vCPU % (mean)", "vcpu_runnable_pct": "vCPU runnable % (mean)"})
def bench_idle(seconds: float = 4.0, cpus: int = 4) -> Data:
    """Host CPU of cores whose threads all sleep, idle=spin against idle=hlt tickless.

    Every thread sleeps a second at a time; beside the calibrated floor and ceiling.

    seconds: seconds each idle policy is measured
    cpus: vCPUs, each with its sleeping threads
    """
    asleep = "app=sleepers sleep=1000 tick=none"
    cal = calibrate(seconds=seconds, fresh=True)
    run = compare_idle(build("idle"), IDLE_POLICIES, cpus=cpus, append=asleep, seconds=seconds,
                       show=False)
    out = {}
    for policy in IDLE_POLICIES:
        p = run[policy]
        out[policy] = {"total_pct": round(p.total, 3), "over_floor_pct": round(p.total - cal.floor_total, 3),
                       "vcpu_pct": {str(k): round(v, 3) for k, v in p.vcpu.items()},
                       "vcpu_runnable_pct": {str(k): round(v, 1) for k, v in p.wanted.items()}}
    return {"stage": "idle", "cpus": cpus, "seconds": seconds,
            "append": asleep,
            **_floor_and_ceiling(cal),
            **out}


def _idle_vms_rows(d: Data) -> Rows:
    rows: Rows = [{"setup": "floor guest (cli; hlt), alone", "vms": 1, "total_pct": d["floor"]["total_pct"]}]
    for key, label in (("alone", "one VM alone"), ("sampled", f"one VM, sampled at {d['sample_hz']:g} Hz"),
                       ("together", f"{d['vms']} VMs at once, each (mean)")):
        m = d[key]["mean_per_vm"]
        rows.append({"setup": label, "vms": d[key]["vms"], "total_pct": m["total_pct"],
                     "runnable_pct": m["runnable_pct"], "halted_pct": round(100 * m["halted"], 1),
                     "rss_mb": m["rss_mb"], "pss_mb": m["pss_mb"], "ram_file_mb": m["ram_file_mb"],
                     "python_pct": d[key]["python_pct"]})
    rows.append({"setup": f"{d['vms']} VMs at once, all", "vms": d["vms"],
                 "total_pct": d["together"]["total_pct_all"]})
    return rows


@benchmark(stage="idle", headline=_idle_vms_rows,
           columns={"setup": "setup", "vms": "VMs", "total_pct": "QEMU % of a core",
                    "runnable_pct": "vCPUs runnable %", "halted_pct": "guest halted %",
                    "rss_mb": "RSS MiB", "pss_mb": "PSS MiB", "ram_file_mb": "guest RAM touched MiB",
                    "python_pct": "Python %"})
def bench_idle_vms(vms: int = 4, stage: str = "idle", cpus: int = 2, seconds: float = 10.0,
                   settle: float = 3.0) -> Data:
    """Host CPU and memory of each of N idle lesson VMs at once, beside one alone and the floor: students a node holds.

    Each VM boots the stage with idle=hlt and sits at its console, as a
    lesson left open does.  Host CPU counts every QEMU thread; memory is
    RSS, PSS (shared pages split among the QEMUs) and the guest RAM the
    guest touched in /dev/shm.  The VM alone is measured twice: unwatched,
    and sampled at 10 Hz as a lesson's live plot samples it, where the
    Python column is what the sampling costs the notebook's kernel.

    vms: idle VMs running at once
    stage: the kernel stage they boot
    cpus: vCPUs of each VM (lesson 05's console panel has 2)
    seconds: seconds over which host CPU is measured
    settle: seconds after the last VM is ready before measuring
    """
    if vms < 1 or cpus < 1:
        raise KitError(f"idle-vms: --vms {vms} and --cpus {cpus}: each must be 1 or more")
    cal = calibrate(seconds=min(seconds, 3.0), fresh=True)
    run = measure_idle_vms(build(stage), vms, cpus=cpus, seconds=seconds, settle=settle)
    each, pss = run.together.mean("total_pct"), run.together.mean("pss_mb")
    sampling = run.sampled.python_pct - run.alone.python_pct
    notes = [f"host CPU: each of {vms} idle VMs cost {each:.4f} % of a core (one alone: "
             f"{run.alone.mean('total_pct'):.4f} %; the floor guest: {cal.floor_total:.4f} %)",
             f"a lesson's live plot sampling one VM at {run.sample_hz:g} Hz costs its Python kernel "
             f"{sampling:.2f} % of a core more than an unwatched VM",
             f"memory: {pss:.1f} MiB PSS each (RSS {run.together.mean('rss_mb'):.1f} MiB counts QEMU's "
             "shared code once per VM); the student's Jupyter server and kernel come on top"]
    return {"stage": stage, "cpus": cpus, "vms": vms, "seconds": seconds, "settle": settle,
            "append": "idle=hlt", "sample_hz": run.sample_hz, **_floor_and_ceiling(cal),
            "alone": run.alone.to_dict(), "sampled": run.sampled.to_dict(), "together": run.together.to_dict(),
            "sampling_python_pct": round(sampling, 3),
            "vms_per_gib": round(1024 / pss, 1) if pss > 0 else None, "notes": notes}


_LATENCY_COLUMNS = {"label": "setup", "n": "n", "p50_us": "p50 µs", "p90_us": "p90 µs",
                    "p99_us": "p99 µs", "max_us": "max µs", "quiet_pct": "quiet QEMU %",
                    "host_pct": "QEMU %", "after_pct": "after QEMU %"}


@benchmark(stage="idle", headline=lambda d: d["results"], columns=_LATENCY_COLUMNS)
def bench_idle_lateness(sleeps: int = 500, cpus: int = 2) -> Data:
    """Timer-wake lateness percentiles (guest TSC) and host CPU: spin, hlt tickless, hlt on a 100 Hz tick.

    sleeps: random sleeps (0.2 to 3 ms) on each core
    cpus: vCPUs, each sleeping
    """
    run = compare_lateness(build("idle"), cpus=cpus, sleeps=sleeps)
    return {"stage": "idle", "cpus": cpus, "sleeps_per_core": sleeps, **run.to_dict()}


def _poll_rows(d: Data) -> Rows:
    return [{"period_us": int(period), **r} for period, run in d["by_period_us"].items()
            for r in run["results"]]


@benchmark(stage="poll", headline=_poll_rows,
           columns={"period_us": "every µs", "label": "setup", "sent": "sent", "n": "seen",
                    **{k: v for k, v in _LATENCY_COLUMNS.items() if k not in ("label", "n")}})
def bench_poll(messages: int = 300, cpus: int = 2, periods_us: tuple[int, ...] = (10_000, 200)) -> Data:
    """Producer-to-consumer reaction percentiles (guest TSC) and host CPU, quiet, under traffic and after.

    For spin, Toro's API and the kit's API, at each message period: at least
    ``messages``, and at least two seconds of them, so that the host samples
    the traffic.  Toro's API runs only at periods of a tick or more: it needs
    a periodic tick, and on a ticking core the producer's sleeps end at
    ticks, so it could not send faster.

    messages: the fewest messages at each period
    cpus: vCPUs (the producer on CPU 0, the consumer on CPU 1)
    periods_us: microseconds between two messages
    """
    cal = calibrate(fresh=True)
    image = build("poll")
    runs, notes = {}, []
    for period in periods_us:
        setups = dict(REACTION)
        if period < 10_000:
            del setups["Toro's API"]
            notes.append(f"period {period} us: no Toro's API (its tick=100 would pace the producer at 10 ms)")
        count = max(messages, round(2e6 / period))
        runs[str(period)] = {"messages": count, **compare_reaction(
            image, setups, cpus=cpus, period_us=period, n=count, quiet=2.0, after=2.0,
            show=False).to_dict()}
    return {"stage": "poll", "cpus": cpus,
            "floor_total_pct": round(cal.floor_total, 3), "notes": notes, "by_period_us": runs}


# --- stage net: the web server per idle policy (kitlib/benchnet.py) -----------------------

@benchmark(stage="net", headline=benchnet.headline, columns=benchnet.COLUMNS, tables=benchnet.tables)
def bench_net(policies: tuple[str, ...] = benchnet.SETUPS, rates: tuple[int, ...] = (10, 100, 1000),
              rate_seconds: float = 3.0, connections: tuple[int, ...] = (1, 16, 64), seconds: float = 3.0,
              warmup: float = 1.0, idle: float = 2.0, stress: float = 2.0, after: float = 4.0,
              grace: int = 200, haltpoll: int = 500, peer: bool = True, cpus: int = 2) -> Data:
    """The web server per idle policy in one run: latency and host CPU against the request rate, requests/s under wrk, time back at the floor, the kit's API against idle=spin.

    Each setup runs on a VM of its own: idle, then requests due at a steady
    rate (kitlib.loadgen's open loop, latency from each request's intended
    send time) at each rate, then wrk at each concurrency.  QEMU's host CPU
    is split into the vCPU threads and the main thread, which under TCG does
    the network's host side.  Then, for the kit's kernel, an HTTP stress and
    connections left half-open, and the seconds until QEMU is back at the
    floor, calibrated with the network card in the same run.  Last, the kit's
    API against idle=spin: host CPU and p50 latency at 100 requests/s,
    requests/s at 16 connections, each with its target and a verdict.

    policies: setups of the kit's kernel: wait (the kit's API, idle=hlt), spin (poll=spin idle=spin), toro (Toro's API of 2017, grace=), haltpoll (the kit's API with haltpoll=)
    rates: open-loop requests/s, one run each (the CPU-against-rate curve's points)
    rate_seconds: seconds of requests at each rate
    connections: wrk's concurrent connections, one run each (whole seconds)
    seconds: seconds each measured wrk run lasts
    warmup: seconds of wrk before each measured run (0: none)
    idle: seconds each setup is measured idle, and each calibration probe
    stress: seconds of HTTP stress before the time back at the floor is measured (0: no such part)
    after: seconds after the stress, and with half-open connections, in which QEMU should return to the floor (0: no such part)
    grace: Toro's API: milliseconds a poller finds nothing before it halts
    haltpoll: the haltpoll setup: microseconds the idle loop may spin before it halts
    peer: the Linux peer (kitlib.peer) too, at every rate and concurrency (--no-peer: without it)
    cpus: vCPUs of every VM (the kit's network thread runs on the last)
    """
    return benchnet.measure_net(policies=policies, rates=rates, rate_seconds=rate_seconds,
                                connections=connections, seconds=seconds, warmup=warmup, idle=idle,
                                stress=stress, after=after, grace=grace, haltpoll=haltpoll, peer=peer,
                                cpus=cpus)
