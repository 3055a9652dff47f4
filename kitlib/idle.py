"""What a halting core costs in reaction, measured by the guest's own clock
(lesson 05).

The lateness app (``app=lateness``, stage idle) has a thread on every core
sleep to random deadlines and time, with the TSC, how late it runs again
(lateness = the TSC when the thread runs again - its deadline), so the
host's sampling does not blur it; the guest prints one line of percentiles.

``compare_lateness`` boots one VM per setup, in turn, and puts the host's
CPU beside each result, since the point is the trade: microseconds of
reaction against a host core.  :class:`Latency` and
:class:`LatencyComparison` serve lesson 06's reaction times too (poll.py).

Two views of a result for the lessons: :func:`tails` sets a spinning
setup's tail (p99) beside a halting one's, with how long the spinning
vCPUs waited for a host core meanwhile (what decides it); :func:`tick_cost`
turns lesson 05's tick-rate run into host CPU against timer interrupts.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from . import protocol
from .build import Image
from .results import Experiment
from .session import Session
from .table import Tabular, json_safe

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["Latency", "LatencyComparison", "compare_lateness", "LATENESS", "PERCENTILES",
           "Tails", "tails", "TickCost", "tick_cost"]

PERCENTILES = ("p50", "p90", "p99", "max")
_SHADES = ("#9ecae1", "#4292c6", "#08519c", "#08306b")     # light to dark: the tail darkens

# The setups the lesson compares.  Labels name the idea; values are command lines.
LATENESS = {"spin": "idle=spin tick=none", "hlt, tickless": "idle=hlt tick=none",
            "hlt, 100 Hz tick": "idle=hlt tick=100"}


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
    # the host's scheduler meanwhile, per vCPU: % of the time it ran, and % it was
    # runnable (running or waiting for a host core); over ``seconds`` of host time
    ran: dict[int, float] = field(default_factory=dict, repr=False)
    wanted: dict[int, float] = field(default_factory=dict, repr=False)
    seconds: float = math.nan
    period_us: float = math.nan     # prodcons: the time between messages

    @classmethod
    def parse(cls, label: str, line: str, **extra: object) -> "Latency":
        """Read a guest line such as ``lateness: n=900 min=1 p50=12 p90=30 p99=80 max=95 ns``."""
        p = protocol.percentiles(line)
        us = [getattr(p, f"{k}_ns") / 1000.0 for k in PERCENTILES]
        return cls(label, p.n, *us, sent=p.sent, line=line.strip(), **extra)

    @property
    def missed(self) -> int:
        """prodcons: messages the consumer never saw (overwritten before it looked)."""
        return (self.sent - self.n) if self.sent is not None else 0

    def waited_pct(self, cpus: Iterable[int] | None = None) -> float:
        """% of their runnable time that the vCPUs ``cpus`` (all: None) spent
        waiting for a host core: about 0 on a host with a free core for each,
        more the more the host's other work outnumbers its cores."""
        chosen = [c for c in (self.wanted if cpus is None else cpus) if c in self.wanted and c in self.ran]
        wanted = sum(self.wanted[c] for c in chosen)
        if not chosen or wanted <= 0:
            return math.nan
        return 100.0 * max(0.0, wanted - sum(self.ran[c] for c in chosen)) / wanted

    def waited_s(self) -> float:
        """Seconds that the vCPUs together were runnable but not running."""
        if math.isnan(self.seconds) or not self.wanted:
            return math.nan
        return sum(max(0.0, w - self.ran.get(c, w)) for c, w in self.wanted.items()) / 100.0 * self.seconds

    def missed_allowed(self, slack: float = 0.03) -> int:
        """prodcons: the most messages a consumer that keeps up may miss.

        A message is lost when the consumer does not look between it and the
        next one.  The producer sends each at a period boundary, so the gap is
        a period, or less when the producer's own wake-up came late; either
        way, for each lost message the consumer's or the producer's vCPU was
        kept from running, while it asked to, for a period in all.  So a
        consumer that looks whenever its vCPU runs misses at most ``slack`` of
        the messages (TCG's own stalls) plus the time the vCPUs waited for a
        host core, in periods: a bound from this run's own measurements,
        which a busy host raises as it delays the guest."""
        if self.sent is None:
            return 0
        waited = self.waited_s()
        extra = 0 if math.isnan(waited) or math.isnan(self.period_us) else waited / (self.period_us / 1e6)
        return int(slack * self.sent + extra)

    @property
    def keeps_up(self) -> bool:
        """prodcons: the consumer missed no more than :meth:`missed_allowed`."""
        return self.missed <= self.missed_allowed()

    def missed_verdict(self) -> str:
        """prodcons: the messages missed against the bound, and why, in English."""
        waited = self.waited_s()
        why = ("the host's scheduler was not read" if math.isnan(waited) else
               f"the vCPUs waited {1000 * waited:,.0f} ms for a host core over {self.seconds:.1f} s of traffic")
        verdict = "within" if self.keeps_up else "more than"
        return (f"{self.label}: saw {self.n} of {self.sent} messages, missed {self.missed}, {verdict} the "
                f"{self.missed_allowed()} a consumer that keeps up may miss here ({why})")


def _r(x: float) -> float:
    return x if math.isnan(x) else round(x, 1)


@dataclass(frozen=True)
class LatencyComparison(Tabular):
    """Several setups' Latency, and for prodcons the host-CPU timeline."""

    title: str
    results: tuple[Latency, ...]
    experiment: Experiment | None = field(default=None, repr=False)

    columns = {"setup": "setup", "n": "wake-ups", "sent": "messages sent", "seen": "seen",
               "p50_us": "p50, µs", "p90_us": "p90, µs", "p99_us": "p99, µs", "max_us": "max, µs",
               "quiet_host_pct": "QEMU while quiet, %", "host_pct": "QEMU while measuring, %",
               "after_host_pct": "QEMU after the traffic, %"}

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

    def figure(self) -> "go.Figure":
        """Percentiles per setup, on a log axis (they span microseconds to
        milliseconds), each setup labelled with what it cost the host."""
        import plotly.graph_objects as go

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
        return json_safe(out)


def compare_lateness(image: Image, setups: Mapping[str, str] = LATENESS, *, cpus: int = 2,
                     sleeps: int = 300, progress: bool = True) -> LatencyComparison:
    """Timer-wake lateness for each setup (a command line): one VM each, ``sleeps``
    random sleeps (0.2 to 3 ms) on every core, and QEMU's host CPU meanwhile."""
    title = f"timer-wake lateness, {cpus} vCPUs"
    results = []
    with Session(title, cpus, progress=progress) as s:
        for label, append in setups.items():
            s.say(f"{label}: {sleeps} sleeps on each of {cpus} cores ({append})")
            vm = s.boot(image, append=f"app=lateness sleeps={sleeps} {append}")
            s.phase(label, vm)
            line = vm.expect(protocol.LATENESS_LINE, timeout=60 + sleeps * 0.05, exact=False)
            s.stop(vm)
            results.append(Latency.parse(label, line, host_pct=s.host_pct(label), **scheduled(s, label)))
    return LatencyComparison(title, tuple(results))


def scheduled(s: Session, label: str) -> dict[str, object]:
    """What the host's scheduler did to the vCPUs in phase ``label`` (ended):
    Latency's ``ran``, ``wanted`` and ``seconds``, over all of its samples."""
    p = s.result(label, settle=0)
    t0, t1 = s.span(label)
    return {"ran": dict(p.vcpu), "wanted": dict(p.wanted), "seconds": t1 - t0}


# -- the tails ---------------------------------------------------------------

WAITED_PCT = 5.0    # the spinning vCPUs waited at least this share for a host core: outnumbered
# A median speaks for the wake-ups the host did not delay only while far fewer than half of them
# fell in a wait for a host core: a spinning vCPU's median is judged below this share.
MEDIAN_WAITED_PCT = 30.0
# A consumer that keeps looking at a variable is judged at its median only while its vCPU had its
# host core all along.  The producer's vCPU wakes to send each message, and on a host with no free
# core that wake-up takes a core from someone at that very moment, often the looking consumer's, so
# the consumer loses its core just when messages come: in lesson 6's run (2 vCPUs, 2-core host) the
# spinning consumer's vCPU waited 0.0 % of its time on a quiet host (median 1 to 3 µs) and 1.5 to
# 4.7 % beside one CPU-bound process (median 15 to 42 µs, as late as a halted consumer's).
LOOKING_WAITED_PCT = 1.0


@dataclass(frozen=True)
class Tails(Tabular):
    """A spinning setup's tail beside a halting one's, in one run, and whether
    the spinning vCPUs outnumbered the host cores free for them.

    A spinning vCPU is runnable all the time.  When the host has fewer free
    cores than runnable threads, its scheduler takes the core away from a
    vCPU for a time slice (milliseconds) now and then, and every wake-up
    that falls due meanwhile waits for the slice to end.  A halted vCPU
    asks for a core only when an interrupt comes, and a thread that has
    slept gets a core soon.  So when the spinning vCPUs waited for a host
    core for more than ``WAITED_PCT`` % of their time (more than the 1 % of
    wake-ups a p99 leaves out), spinning should have the longer tail: a
    higher p99, or a higher p90 (a p99 of a few hundred samples is a few
    samples, and on a host that busy a halted vCPU's wake-up may wait too)."""

    spin: Latency
    halt: Latency
    cpus: tuple[int, ...] | None = None     # the spinning vCPUs that matter (None: all)

    columns = {"setup": "setup", "p50_us": "p50, µs", "p90_us": "p90, µs", "p99_us": "p99, µs", "max_us": "max, µs",
               "waited_pct": "vCPUs waited for a host core, % of their runnable time"}

    @property
    def title(self) -> str:
        return f"the tail: {self.spin.label} beside {self.halt.label}"

    @property
    def waited_pct(self) -> float:
        """How long the spinning vCPUs waited for a host core, % of their runnable time."""
        return self.spin.waited_pct(self.cpus)

    @property
    def outnumbered(self) -> bool:
        """Whether the spinning vCPUs outnumbered the host cores free for them."""
        return not math.isnan(self.waited_pct) and self.waited_pct >= WAITED_PCT

    @property
    def ratio(self) -> float:
        """The spinning p99 over the halting p99."""
        return self.spin.p99_us / self.halt.p99_us if self.halt.p99_us > 0 else math.nan

    @property
    def holds(self) -> bool:
        """Spinning has the longer tail, or the host gave its vCPUs a core each
        (then the run says nothing about the claim)."""
        return not self.outnumbered or self.longer

    @property
    def longer(self) -> bool:
        """Spinning has the longer tail: a higher p99 or a higher p90."""
        return self.spin.p99_us > self.halt.p99_us or self.spin.p90_us > self.halt.p90_us

    def verdict(self) -> str:
        """What this run says, in English."""
        spin, halt = self.spin, self.halt
        measured = (f"p99 {spin.p99_us:,.0f} µs for {spin.label} against {halt.p99_us:,.0f} µs for "
                    f"{halt.label} ({self.ratio:.1f} times), p90 {spin.p90_us:,.0f} µs against "
                    f"{halt.p90_us:,.0f} µs")
        if math.isnan(self.waited_pct):
            return f"{measured}; the host's scheduler was not read, so this run cannot tell why"
        waited = f"the spinning vCPUs waited for a host core {self.waited_pct:.1f} % of their runnable time"
        if not self.outnumbered:
            return (f"{waited}, under {WAITED_PCT:g} %: here they did not outnumber the free host cores, "
                    f"so this run does not test the claim; measured {measured}")
        if self.holds:
            return f"{waited}: they outnumbered the free host cores, and spinning has the longer tail: {measured}"
        return (f"{waited}: they outnumbered the free host cores, yet spinning does not have the longer tail, "
                f"expected it to: {measured}")

    def table(self) -> list[dict[str, object]]:
        rows = []
        for r, waited in ((self.spin, self.waited_pct), (self.halt, self.halt.waited_pct(self.cpus))):
            rows.append({"setup": r.label, "p50_us": _r(r.p50_us), "p90_us": _r(r.p90_us), "p99_us": _r(r.p99_us),
                         "max_us": _r(r.max_us), "waited_pct": _r(waited)})
        return rows

    def notes(self) -> list[str]:
        return [self.verdict()]


def tails(results: LatencyComparison, spin: str, halt: str, cpus: Iterable[int] | None = None) -> Tails:
    """Setup ``spin``'s tail beside setup ``halt``'s, from one comparison;
    ``cpus``: the vCPUs whose spinning matters (lesson 06: the consumer's)."""
    return Tails(results[spin], results[halt], None if cpus is None else tuple(cpus))


# -- what a tick costs -------------------------------------------------------

@dataclass(frozen=True)
class TickCost(Tabular):
    """Host CPU against the timer's interrupt rate, each rate beside the
    tickless run of the same VM: what the ticks alone cost."""

    title: str
    rows: tuple[dict[str, float], ...]      # label, hz, irqs_per_s, total_pct, over_pct, us_per_tick

    columns = {"label": "setting", "irqs_per_s": "timer interrupts / s (guest)",
               "total_pct": "QEMU, % of a host core", "over_pct": "over tickless, points",
               "us_per_tick": "host µs a tick"}

    def __getitem__(self, label: str) -> dict[str, float]:
        for r in self.rows:
            if r["label"] == label:
                return r
        raise KeyError(f"no setting {label!r} (settings: {', '.join(str(r['label']) for r in self.rows)})")

    def table(self) -> list[dict[str, object]]:
        return [{k: (round(v, 2) if isinstance(v, float) and not math.isnan(v) else v) for k, v in r.items()
                 if k in self.columns} for r in self.rows]

    def figure(self) -> "go.Figure":
        """Host CPU over tickless against interrupts a second, on an axis that fits them,
        beside the line of a cost in proportion to the rate."""
        import plotly.graph_objects as go

        ticked = [r for r in self.rows if r["irqs_per_s"] >= 1]
        top_x = max([r["irqs_per_s"] for r in ticked], default=1.0) * 1.1
        top_y = max([r["over_pct"] for r in self.rows] + [0.1]) * 1.25
        fig = go.Figure()
        if ticked:
            each = statistics.median(r["us_per_tick"] for r in ticked)
            x_end = min(top_x, 0.95 * top_y * 1e4 / each) if each > 0 else top_x
            fig.add_scatter(x=[0, x_end], y=[0, each * x_end / 1e4], mode="lines", uid="tick-proportional",
                            hoverinfo="skip", line=dict(color="#999", dash="dot", width=1))
            fig.add_annotation(x=x_end, y=each * x_end / 1e4, xanchor="right", yanchor="bottom",
                               showarrow=False, font=dict(size=11, color="#777"),
                               text=f"if every tick cost {each:.0f} µs (the median)")
        fig.add_scatter(x=[r["irqs_per_s"] for r in self.rows], y=[r["over_pct"] for r in self.rows],
                        mode="markers+text", uid="tick-cost", name="measured",
                        text=[f"{r['label']}: {r['us_per_tick']:.0f} µs a tick" if r["irqs_per_s"] >= 1
                              else str(r["label"]) for r in self.rows],
                        textposition=["middle right" if r["irqs_per_s"] < 0.5 * top_x else "middle left"
                                      for r in self.rows],
                        marker=dict(size=11, color="#1f77b4"))
        fig.update_layout(title=self.title, height=380, template="plotly_white", showlegend=False,
                          xaxis=dict(title="timer interrupts a second, all cores (guest's count)",
                                     range=[-0.03 * top_x, top_x]),
                          yaxis=dict(title="QEMU's host CPU over tickless (points of a core)",
                                     range=[min(0.0, *(r["over_pct"] for r in self.rows)) - 0.05 * top_y,
                                            top_y]),
                          margin=dict(l=70, r=20, t=50, b=50))
        return fig

    def to_dict(self) -> dict[str, object]:
        return json_safe({"title": self.title, "rows": list(self.rows)})


def tick_cost(run: Experiment, base: str = "tick none", counter: str = "timer_irqs",
              skip: Iterable[str] = ("boot",)) -> TickCost:
    """From a run with one phase per tick setting (``drive``'s ``"tick <Hz>"``
    commands, with ``guest=counter``), each setting's host CPU beside the
    tickless phase ``base`` of the same VM, and the host time a tick; the
    phases in ``skip`` (the one before the first command) are left out."""
    tickless = run[base].total
    rows = []
    for p in run.phases:
        if p.label in skip:
            continue
        irqs = sum(v for v in p.rates.get(counter, {}).values() if not math.isnan(v))
        over = p.total - tickless
        rows.append({"label": p.label, "irqs_per_s": irqs, "total_pct": p.total, "over_pct": over,
                     "us_per_tick": 1e4 * over / irqs if irqs >= 1 else math.nan})
    rows.sort(key=lambda r: r["irqs_per_s"])
    cpus = max((p.cpus for p in run.phases), default=1)
    return TickCost(f"what the ticks cost an idle VM of {cpus} vCPU{'s' if cpus > 1 else ''}", tuple(rows))
