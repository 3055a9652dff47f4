"""What a halting core costs in reaction, measured by the guest's own clock.

Two guest apps time their wake-ups with the TSC, so the host's sampling
does not blur them, and each prints one line of percentiles:

- ``app=lateness`` (stage idle): a thread a core sleeps to random deadlines;
  lateness = the TSC when the thread runs again - its deadline.
- ``app=prodcons`` (stage poll): a producer on one core stamps a variable
  with the TSC; reaction = the TSC when the consumer on another core sees
  the new value - the stamp.

``compare_lateness`` and ``compare_reaction`` boot one VM per setup, in
turn, and put the host's CPU beside each result, since the point is the
trade: microseconds of reaction against a host core.
"""

from __future__ import annotations

import html
import math
import re
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import plotly.graph_objects as go

from .build import Image
from .experiment import Experiment, _json_safe, summarise
from .hostcpu import Sampler, read_process_ns
from .plot import LivePlot
from .vm import VM

__all__ = ["Latency", "LatencyComparison", "compare_lateness", "compare_reaction", "LATENESS", "REACTION"]

PERCENTILES = ("p50", "p90", "p99", "max")
_SHADES = ("#9ecae1", "#4292c6", "#08519c", "#08306b")     # light to dark: the tail darkens

# The setups the lessons compare.  Labels name the idea; values are command lines.
LATENESS = {"spin": "idle=spin tick=none", "hlt, tickless": "idle=hlt tick=none",
            "hlt, 100 Hz tick": "idle=hlt tick=100"}
REACTION = {"spin": "poll=spin", "Toro's API": "poll=toro tick=100", "kit's API": "poll=wait",
            "kit's API + haltpoll": "poll=wait haltpoll=400"}


@dataclass(frozen=True)
class Latency:
    """One setup's percentiles, in microseconds (NaN: no sample), and its host CPU."""

    label: str
    n: int                          # wake-ups measured (prodcons: messages the consumer saw)
    p50_us: float
    p90_us: float
    p99_us: float
    max_us: float
    sent: int | None = None         # prodcons: messages sent; n < sent means some were missed
    host_pct: float = math.nan      # QEMU, % of one host core, while the guest measured
    quiet_pct: float = math.nan     # prodcons: QEMU, % of one host core, before the traffic
    after_pct: float = math.nan     # prodcons: the same once the traffic has stopped (if measured)
    line: str = field(default="", repr=False)

    @classmethod
    def parse(cls, label: str, line: str, **extra: object) -> "Latency":
        """Read a guest line such as ``lateness: n=900 min=1 p50=12 p90=30 p99=80 max=95 ns``."""
        fields = dict(re.findall(r"(\w+)=(\S+)", line))
        if "n" not in fields and "seen" not in fields:
            raise ValueError(f"not a percentile line: {line!r}")

        def us(key: str) -> float:
            v = fields.get(key, "-")
            return math.nan if v == "-" else int(v) / 1000.0

        n = int(fields.get("seen", fields.get("n", "0")))
        sent = int(fields["sent"]) if "sent" in fields else None
        return cls(label, n, *(us(k) for k in PERCENTILES), sent=sent, line=line.strip(), **extra)

    @property
    def missed(self) -> int:
        """prodcons: messages the consumer never saw (overwritten before it looked)."""
        return (self.sent - self.n) if self.sent is not None else 0


@dataclass(frozen=True)
class LatencyComparison:
    """Several setups' Latency, and for prodcons the host-CPU timeline."""

    title: str
    results: tuple[Latency, ...]
    experiment: Experiment | None = field(default=None, repr=False)

    def __getitem__(self, label: str) -> Latency:
        for r in self.results:
            if r.label == label:
                return r
        raise KeyError(f"no setup {label!r} (setups: {', '.join(r.label for r in self.results)})")

    def table(self) -> list[dict[str, object]]:
        rows = []
        for r in self.results:
            row: dict[str, object] = {"setup": r.label}
            if r.sent is not None:
                row.update(sent=r.sent, seen=r.n)
            else:
                row["n"] = r.n
            row.update({f"{k}_us": _r(getattr(r, f"{k}_us")) for k in PERCENTILES})
            if not math.isnan(r.quiet_pct):
                row["quiet_host_pct"] = _r(r.quiet_pct)
            row["host_pct"] = _r(r.host_pct)
            if not math.isnan(r.after_pct):
                row["after_host_pct"] = _r(r.after_pct)
            rows.append(row)
        return rows

    def figure(self) -> go.Figure:
        """Percentiles per setup, on a log axis (they span microseconds to
        milliseconds), each setup labelled with what it cost the host."""
        x = [f"{r.label}<br>QEMU {r.host_pct:.1f} %" if not math.isnan(r.host_pct) else r.label
             for r in self.results]
        fig = go.Figure()
        for k, colour in zip(PERCENTILES, _SHADES):
            fig.add_bar(name=k, uid=f"latency-{k}", x=x, marker_color=colour,
                        y=[getattr(r, f"{k}_us") for r in self.results])
        fig.update_layout(title=self.title, barmode="group", height=380, template="plotly_white",
                          yaxis=dict(type="log", title="microseconds (log)"),
                          legend=dict(orientation="h", y=-0.2), margin=dict(l=60, r=20, t=50, b=40))
        return fig

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"title": self.title,
                                  "results": [{k: v for k, v in asdict(r).items() if k != "line"}
                                              for r in self.results]}
        if self.experiment is not None:
            out["timeline"] = self.experiment.to_dict()
        return _json_safe(out)

    def __str__(self) -> str:
        rows = self.table()
        keys = list(dict.fromkeys(k for r in rows for k in r))
        width = max(len(str(r["setup"])) for r in rows) if rows else 5
        lines = [self.title, "  ".join(f"{k:>{width if k == 'setup' else 10}}" for k in keys)]
        for r in rows:
            lines.append("  ".join(f"{_s(r.get(k)):>{width if k == 'setup' else 10}}" for k in keys))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = self.table()
        keys = list(dict.fromkeys(k for r in rows for k in r))
        head = "".join(f"<th>{html.escape(_HEAD.get(k, k))}</th>" for k in keys)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(_s(r.get(k)))}</td>" for k in keys) + "</tr>"
                       for r in rows)
        return f"<h4>{html.escape(self.title)}</h4><table><tr>{head}</tr>{body}</table>"


_HEAD = {"setup": "setup", "n": "wake-ups", "sent": "messages sent", "seen": "seen",
         "p50_us": "p50, µs", "p90_us": "p90, µs", "p99_us": "p99, µs", "max_us": "max, µs",
         "quiet_host_pct": "QEMU while quiet, %", "host_pct": "QEMU while measuring, %",
         "after_host_pct": "QEMU after the traffic, %"}


def _r(x: float) -> float:
    return x if math.isnan(x) else round(x, 1)


def _s(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "-" if math.isnan(v) else f"{v:,.1f}"
    return str(v)


LATENESS_LINE = re.compile(r"^lateness: n=[^\n]*\n", re.M)
REACTION_LINE = re.compile(r"^prodcons: poll=\S+ sent=[^\n]*\n", re.M)


def compare_lateness(image: Image, setups: Mapping[str, str] = LATENESS, *, cpus: int = 2,
                     sleeps: int = 300, progress: bool = True) -> LatencyComparison:
    """Timer-wake lateness for each setup (a command line): one VM each, ``sleeps``
    random sleeps (0.2 to 3 ms) on every core, and QEMU's host CPU meanwhile."""
    results = []
    for label, append in setups.items():
        if progress:
            print(f"{label}: {sleeps} sleeps on each of {cpus} cores ({append})", flush=True)
        with VM(image, cpus=cpus, append=f"app=lateness sleeps={sleeps} {append}") as vm:
            vm.wait_ready()
            t0, ns0 = time.monotonic(), read_process_ns(vm.pid)
            line = vm.expect(LATENESS_LINE, timeout=60 + sleeps * 0.05, exact=False)
            host = 100.0 * (read_process_ns(vm.pid) - ns0) / (1e9 * (time.monotonic() - t0))
        results.append(Latency.parse(label, line, host_pct=host))
    return LatencyComparison(f"timer-wake lateness, {cpus} vCPUs", tuple(results))


def compare_reaction(image: Image, setups: Mapping[str, str] = REACTION, *, cpus: int = 2,
                     period_us: int = 10_000, n: int = 200, quiet: float = 3.0, after: float = 0.0,
                     settle: float = 0.5, hz: float = 10.0, floor: float | None = None,
                     ceiling: float | None = None, show: bool = True,
                     progress: bool = True) -> LatencyComparison:
    """Producer-to-consumer reaction for each setup, and QEMU's host CPU while the
    consumer waits with nothing coming (``quiet`` seconds), under the traffic
    (``n`` messages, one every ``period_us``) and, if ``after`` is given, for
    that many seconds once the traffic has stopped: all on one time axis."""
    title = f"producer to consumer: {', '.join(setups)}"
    plot = LivePlot(title, cpus, floor=floor, ceiling=ceiling)
    if show:
        plot.display_live()
    skip = round(settle * hz)
    results, phases = [], []
    with Sampler(hz) as sampler:
        sampler.subscribe(plot)
        for label, append in setups.items():
            if progress:
                print(f"{label}: quiet {quiet:g} s, then {n} messages every {period_us} µs ({append})",
                      flush=True)
            cmd = f"app=prodcons period={period_us} n={n} start={round(1000 * quiet)} {append}"
            with VM(image, cpus=cpus, append=cmd) as vm:
                vm.wait_ready()
                sampler.watch(vm, f"{label}: quiet")
                vm.expect("prodcons: traffic", timeout=quiet + 30)
                sampler.watch(vm, f"{label}: traffic")
                line = vm.expect(REACTION_LINE, timeout=30 + n * period_us / 1e6 * 3, exact=False)
                if after:
                    sampler.watch(vm, f"{label}: after")
                    time.sleep(settle + after)
                sampler.unwatch()
            q = summarise(f"{label}: quiet", cpus, sampler.phase_samples(f"{label}: quiet"), skip)
            t = summarise(f"{label}: traffic", cpus, sampler.phase_samples(f"{label}: traffic"), 0)
            phases += [q, t]
            extra = {}
            if after:
                a = summarise(f"{label}: after", cpus, sampler.phase_samples(f"{label}: after"), skip)
                phases.append(a)
                extra["after_pct"] = a.total
            results.append(Latency.parse(label, line, host_pct=t.total, quiet_pct=q.total, **extra))
        samples = tuple(sampler.samples)
    plot.finish()
    run = Experiment(title, tuple(phases), samples, floor, ceiling)
    return LatencyComparison(f"producer-to-consumer reaction, {cpus} vCPUs, a message every "
                             f"{period_us} µs", tuple(results), run)
