"""Experiments: boot one VM after another, measure each for a while, and keep
every sample on one time axis.

This is what the lessons, ``kit demo`` and ``kit bench idle`` run: a list of
phases (an image and its command line), each booted, left to settle, and
sampled by the host-CPU sampler; the result holds the samples, a summary per
phase and a static figure.
"""

from __future__ import annotations

import html
import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import plotly.graph_objects as go

from .build import Image
from .errors import KitError
from .hostcpu import Sample, Sampler
from .plot import LivePlot
from .vm import VM


@dataclass(frozen=True)
class Phase:
    """One VM to boot and measure: ``label`` names it on the plot."""

    label: str
    image: Image
    append: str = ""
    cpus: int = 1
    ready: bool = True          # wait for "kit: ready" (calibration probes print nothing)
    verdict: str | None = None  # a console line that must follow the window (e.g. "locks: OK")


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

    @property
    def vcpu_mean(self) -> float:
        """The mean over vCPU threads of their % of a host core."""
        return statistics.fmean(self.vcpu.values()) if self.vcpu else math.nan


def summarise(label: str, cpus: int, samples: Sequence[Sample], settle: int) -> PhaseResult:
    """Average a phase's samples, skipping the first ``settle`` of them."""
    kept = list(samples[settle:]) or list(samples)

    def mean(values: list[float]) -> float:
        values = [v for v in values if not math.isnan(v)]
        return statistics.fmean(values) if values else math.nan

    per_cpu = lambda key: {n: mean([getattr(s, key).get(n, math.nan) for s in kept]) for n in range(cpus)}
    names = {name for s in kept for name in s.rates}
    rates = {name: {n: mean([s.rates.get(name, {}).get(n, math.nan) for s in kept]) for n in range(cpus)}
             for name in sorted(names)}
    return PhaseResult(label, cpus, len(kept), per_cpu("vcpu"), mean([s.total for s in kept]),
                       per_cpu("halted"), per_cpu("idle_rate"), rates, per_cpu("wanted"))


@dataclass(frozen=True)
class Experiment:
    """What :func:`measure` saw: a summary per phase and every sample."""

    title: str
    phases: tuple[PhaseResult, ...]
    samples: tuple[Sample, ...] = field(repr=False)
    floor: float | None = None
    ceiling: float | None = None
    guest: str = "halted"       # the figure's lower panel (LivePlot's guest=)

    def __getitem__(self, label: str) -> PhaseResult:
        for p in self.phases:
            if p.label == label:
                return p
        raise KeyError(f"no phase {label!r} (phases: {', '.join(p.label for p in self.phases)})")

    def figure(self) -> go.Figure:
        cpus = max((p.cpus for p in self.phases), default=1)
        plot = LivePlot(self.title, cpus, floor=self.floor, ceiling=self.ceiling, guest=self.guest,
                        live=False)
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

    def to_dict(self) -> dict[str, object]:
        return _json_safe({"title": self.title, "floor_pct": self.floor, "ceiling_pct": self.ceiling,
                           "phases": [asdict(p) for p in self.phases]})

    def __str__(self) -> str:
        head = f"{'phase':<10} {'cpu':>3} {'vCPU %':>8} {'QEMU %':>8} {'halted %':>9} {'idle passes/s':>14}"
        lines = [self.title, head]
        for r in self.table():
            lines.append(f"{r['phase']:<10} {r['cpu']:>3} {r['vcpu_pct']:>8.1f} {r['total_pct']:>8.1f} "
                         f"{_fmt(r['guest_halted_pct']):>9} {_fmt(r['idle_passes_per_s']):>14}")
        if self.floor is not None:
            lines.append(f"calibrated floor {self.floor:.2f} %, ceiling {self.ceiling:.1f} % of a host core")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        cells = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in r.values()) + "</tr>"
            for r in self.table())
        head = "".join(f"<th>{h}</th>" for h in
                       ("phase", "CPU", "vCPU thread, % of a host core", "QEMU total, %",
                        "guest: time halted, %", "idle passes / s"))
        note = (f"<p>Calibrated on this host: floor {self.floor:.2f} %, ceiling {self.ceiling:.1f} % "
                "of one core.</p>" if self.floor is not None else "")
        return f"<h4>{html.escape(self.title)}</h4><table><tr>{head}</tr>{cells}</table>{note}"


def measure(title: str, phases: Sequence[Phase], *, seconds: float = 4.0, settle: float = 0.5,
            hz: float = 10.0, plot: LivePlot | None = None, floor: float | None = None,
            ceiling: float | None = None, progress: bool = True) -> Experiment:
    """Boot each phase's VM in turn, sample it for ``settle + seconds``, stop it.

    ``plot`` (a LivePlot) is fed as samples arrive; the summaries skip the
    first ``settle`` seconds of each phase, when the VM has just booted.
    """
    skip = round(settle * hz)
    results = []
    with Sampler(hz) as sampler:
        if plot is not None:
            sampler.subscribe(plot)
        for phase in phases:
            if progress:
                print(f"{phase.label}: booting {phase.image.stage} "
                      f"{phase.append or '(default command line)'}, measuring {seconds:g} s",
                      flush=True)
            with VM(phase.image, cpus=phase.cpus, append=phase.append) as vm:
                if phase.ready:
                    vm.wait_ready()
                sampler.watch(vm, phase.label)
                time.sleep(settle + seconds)
                sampler.unwatch()
                if phase.verdict is not None:
                    _await_verdict(vm, phase)
            results.append(summarise(phase.label, phase.cpus, sampler.phase_samples(phase.label), skip))
        samples = tuple(sampler.samples)
    if plot is not None:
        plot.finish()
    return Experiment(title, tuple(results), samples, floor, ceiling, plot.guest if plot is not None else "halted")


def _await_verdict(vm: VM, phase: Phase) -> None:
    """Wait for the phase's verdict line; a ``FAIL`` line in its place is an error."""
    failed = phase.verdict.split(":")[0] + ": FAIL"
    seen = vm.expect([phase.verdict, failed], timeout=30)
    if seen != phase.verdict:
        line = vm.console[vm.console.rfind(failed):].splitlines()[0]
        raise KitError(f"{phase.label}: the guest reported {line!r}\n{vm.tail()}")


def _json_safe(x: object) -> object:
    """NaN (unknown) as None, so the dict is valid JSON."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    return x


def _pct(fraction: float) -> float:
    return math.nan if math.isnan(fraction) else round(100.0 * fraction, 2)


def _round(x: float) -> float:
    return x if math.isnan(x) else round(x)


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return "n/a" if math.isnan(v) else f"{v:,.1f}" if abs(v) < 1e4 else f"{v:,.0f}"
    return str(v)


def compare_idle(image: Image, policies: Sequence[str] = ("spin", "hlt"), *, cpus: int = 1,
                 append: str = "", seconds: float = 4.0, settle: float = 0.5,
                 floor: float | None = None, ceiling: float | None = None, guest: str = "halted",
                 show: bool = True, progress: bool = True) -> Experiment:
    """Boot ``image`` once per idle policy and measure each on one time axis.

    ``append`` adds to each command line (``"app=sleepers"``); ``guest``
    picks the plot's lower panel (see LivePlot).  With ``show`` the live
    plot is displayed first (in JupyterLab it updates as the samples
    arrive; headless, the static figure is left to the result).
    """
    title = f"{image.stage}: idle=" + " then idle=".join(policies) + (f" ({append})" if append else "")
    plot = LivePlot(title, cpus, floor=floor, ceiling=ceiling, guest=guest)
    if show:
        plot.display_live()
    phases = [Phase(p, image, f"idle={p} {append}".strip(), cpus) for p in policies]
    return measure(title, phases, seconds=seconds, settle=settle, plot=plot, floor=floor,
                   ceiling=ceiling, progress=progress)


def drive(image: Image, commands: Sequence[str], *, cpus: int = 1, append: str = "",
          seconds: float = 4.0, settle: float = 0.5, hz: float = 10.0, floor: float | None = None,
          ceiling: float | None = None, guest: str = "halted", show: bool = True,
          progress: bool = True) -> Experiment:
    """Boot ``image`` once and type ``commands`` on its console one after another
    (``"idle hlt"``, ``"tick 1000"``), measuring ``settle + seconds`` after each.

    One VM, one time axis: each phase is named by the command that started
    it, the first by the boot command line.  The kernel must listen on its
    console (stage idle on); a command it refuses is a KitError.
    """
    labels = ["boot"]                   # the title carries the command line
    for c in commands:
        label, k = c, 2
        while label in labels:
            label, k = f"{c} ({k})", k + 1
        labels.append(label)
    title = (f"{image.stage}, {cpus} vCPU{'s' if cpus > 1 else ''}, {append or 'default command line'}: "
             + " -> ".join(commands))
    plot = LivePlot(title, cpus, floor=floor, ceiling=ceiling, guest=guest)
    if show:
        plot.display_live()
    skip = round(settle * hz)
    with Sampler(hz) as sampler:
        sampler.subscribe(plot)
        with VM(image, cpus=cpus, append=append) as vm:
            vm.wait_ready()
            for i, label in enumerate(labels):
                if i > 0:
                    answer = vm.command(commands[i - 1])
                    if progress:
                        print(f"typed {commands[i - 1]!r}, the guest answered {answer!r}", flush=True)
                elif progress:
                    print(f"booted {image.stage} {append or '(default command line)'}, "
                          f"measuring {seconds:g} s a step", flush=True)
                sampler.watch(vm, label)
                time.sleep(settle + seconds)
            sampler.unwatch()
        results = tuple(summarise(label, cpus, sampler.phase_samples(label), skip) for label in labels)
        samples = tuple(sampler.samples)
    plot.finish()
    return Experiment(title, results, samples, floor, ceiling, guest)
