"""Toro's HTTP experiment, for every way of waiting (lesson 07).

The blog post "Reducing CPU usage on VMs that run Toro" (Toro's blog,
8 December 2017) loaded its VM's web server with HTTP and watched QEMU in
``top``: low while idle, high under the stress, low again a few seconds
after it.  It added that the VM sometimes "takes longer to turn off" when a
socket is not closed cleanly and ends by a timeout.  ``compare_net`` runs
that experiment on the kit's net stage, one VM a policy, all on one time
axis, in five phases:

1. ``idle``: nothing comes;
2. ``stress``: HTTP load over kept-alive connections (wrk, or a small
   closed-loop client of threads where wrk is missing);
3. ``after stress``: nothing again; how long until QEMU is back at the floor;
4. ``half-open``: connections that send half a request, or nothing, and a
   client that sends a request and goes silent (never reads, never closes):
   each stays open, as a client that vanished leaves it;
5. ``after half-open``: those connections still open and silent; does the VM
   return to the floor anyway?  With the kit's API it must: TCP's timers
   (the idle timeout, RFC 9293 3.8.1's user timeout in spirit) are
   deadlines the network thread sleeps until, not a reason to poll.

"Back at the floor" is the first moment from which QEMU's total stays within
``floor + margin`` for a whole second (``window``); None when that never
happens within the phase.  The floor is calibrated with the same network
card and back-end (``calibrate(net=True)``).  Every wait is bounded: the
load has its deadline (httpload.OVERRUN_S), a connection its timeout, a
phase its seconds.
"""

from __future__ import annotations

import math
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, TextIO
from urllib.parse import urlsplit

from .build import Image
from .errors import KitError, ToolNotFound
from .hostcpu import Sample
from .results import Experiment
from .session import Session
from .table import Tabular, json_safe
from .vm import VM

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["POLICIES", "PHASES", "HalfOpen", "PhaseFigures", "PolicyRun", "NetExperiment",
           "compare_net", "back_to_floor", "stress", "PeerSide", "beside_peer", "RatePoint", "RateCurve", "latency_by_rate"]

# The setups the lesson compares.  Labels name the idea; values are command lines.
POLICIES = {"kit's API": "poll=wait idle=hlt", "idle=spin": "poll=wait idle=spin",
            "Toro 2017": "poll=toro grace=200", "Toro, 2 s": "poll=toro grace=2000"}
PHASES = ("idle", "stress", "after stress", "half-open", "after half-open")

MARGIN = 2.0            # % of a host core above the floor that still counts as "at the floor"
WINDOW = 1.0            # seconds QEMU must stay there


# -- the load -------------------------------------------------------------------------------

@dataclass(frozen=True)
class LoadFigures:
    """What the stress phase's client reported."""

    tool: str
    connections: int
    requests: int
    seconds: float
    rps: float
    errors: int


def stress(url: str, seconds: float, connections: int = 4) -> LoadFigures:
    """HTTP load on ``url`` for ``seconds`` over ``connections`` kept-alive
    connections: wrk if it is installed, else loadgen's closed loop."""
    from . import httpload, loadgen

    try:
        r = httpload.wrk(url, connections=connections, threads=1, seconds=seconds, timeout_s=2)
    except ToolNotFound:
        c = loadgen.closed_loop(url, connections, seconds, timeout=2.0)
        return LoadFigures("closed loop (kitlib.loadgen)", connections, c.ok, c.duration_s,
                           c.ok / c.duration_s if c.duration_s > 0 else math.nan, c.errors)
    return LoadFigures("wrk", connections, r.requests, r.duration_s, r.rps, r.errors)


# -- connections that stay open -------------------------------------------------------------

HALF_REQUEST = b"GET / HTTP/1.1\r\nHost: kit\r\nUser-Ag"        # no end of header: the server waits
WHOLE_REQUEST = b"GET / HTTP/1.1\r\nHost: kit\r\n\r\n"


class HalfOpen:
    """Connections that stay open and say nothing more: ``partial`` send half a
    request, ``silent`` send nothing, ``vanished`` send a whole request and then
    neither read the answer nor close, as a client that went away without a FIN.

    Opened one after another (QEMU's user network listens with a backlog of
    1: many at once wait for SYN retries), each within ``timeout``; one that
    fails is counted in ``failed``, not raised.  ``close()`` resets them all
    (SO_LINGER 0: an RST, no FIN).
    """

    def __init__(self, url: str, *, partial: int = 2, silent: int = 2, vanished: int = 1,
                 timeout: float = 5.0) -> None:
        parts = urlsplit(url)
        self.address = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.plan = {"partial": partial, "silent": silent, "vanished": vanished}
        self.timeout = timeout
        self.sockets: list[socket.socket] = []
        self.failed = 0

    def open(self) -> "HalfOpen":
        for kind, n in self.plan.items():
            for _ in range(n):
                try:
                    s = socket.create_connection(self.address, timeout=self.timeout)
                    if kind == "partial":
                        s.sendall(HALF_REQUEST)
                    elif kind == "vanished":
                        s.sendall(WHOLE_REQUEST)
                except OSError:
                    self.failed += 1
                    continue
                self.sockets.append(s)
        return self

    def close(self) -> None:
        for s in self.sockets:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                s.close()
            except OSError:
                pass
        self.sockets.clear()

    @property
    def opened(self) -> int:
        return len(self.sockets)

    def __enter__(self) -> "HalfOpen":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- back at the floor ----------------------------------------------------------------------

def back_to_floor(samples: Sequence[Sample], start: float, level: float,
                  window: float = WINDOW) -> float | None:
    """Seconds from ``start`` (on the samples' time axis) until QEMU's total
    first stays at or below ``level`` for ``window`` seconds; None if it never
    does within ``samples``.  A sample covers the interval that ends at its
    ``t``."""
    if not samples:
        return None
    period = (samples[-1].t - samples[0].t) / (len(samples) - 1) if len(samples) > 1 else 0.1
    for i, s in enumerate(samples):
        begin = s.t - period
        run = [x for x in samples[i:] if x.t <= begin + window + period / 2]
        if run[-1].t < begin + window - period / 2:
            return None                         # the phase ends before a whole window fits
        if all(x.total <= level for x in run):
            return max(0.0, begin - start)
    return None


# -- results --------------------------------------------------------------------------------

@dataclass(frozen=True)
class PhaseFigures:
    """One phase of one policy: QEMU's host CPU (% of one host core) and the guest's rate."""

    phase: str
    seconds: float
    total: float                    # whole QEMU process, mean over the phase's settled samples
    vcpus: float                    # the vCPU threads together
    main: float                     # QEMU's main thread (the user network, the card's host side)
    last_s: float                   # whole QEMU process over the phase's last second
    rps: float                      # guest: HTTP requests answered a second (net_http_requests)
    conns_at_end: int | None        # guest: TCP connections open when the phase ended (net_conns_now)
    per_vcpu: dict[int, float] = field(default_factory=dict)


@dataclass(frozen=True)
class PolicyRun:
    """One policy through the five phases."""

    policy: str
    append: str
    phases: dict[str, PhaseFigures]
    back_after_stress_s: float | None       # None: not back at the floor within the phase
    back_after_half_open_s: float | None
    load: LoadFigures | None = None
    half_open: dict[str, int] = field(default_factory=dict)   # kind -> asked; "opened", "failed"

    def __getitem__(self, phase: str) -> PhaseFigures:
        return self.phases[phase]


def _s(x: float | None) -> object:
    return "never" if x is None else round(x, 1)


def _r(x: float, digits: int = 1) -> float:
    return x if math.isnan(x) else round(x, digits)


@dataclass(frozen=True)
class NetExperiment(Tabular):
    """Every policy's run, the floor they were judged against, and the timeline."""

    title: str
    floor: float
    margin: float
    runs: tuple[PolicyRun, ...]
    experiment: Experiment = field(repr=False)
    after_s: float = math.nan

    columns = {"policy": "policy", "idle": "idle, %", "stress": "stress, %", "stress_main": "of which main thread, %",
               "rps": "guest requests/s", "after": "after stress, %", "back_stress": "back at floor after stress, s",
               "half_open": "half-open, %", "back_half_open": "back at floor after half-open, s"}

    def __getitem__(self, policy: str) -> PolicyRun:
        for r in self.runs:
            if r.policy == policy:
                return r
        raise KeyError(f"no policy {policy!r} (policies: {', '.join(r.policy for r in self.runs)})")

    def table(self) -> list[dict[str, object]]:
        """One row a policy: QEMU's CPU per phase, % of one host core."""
        return [{"policy": r.policy, "idle": _r(r["idle"].total, 2), "stress": _r(r["stress"].total),
                 "stress_main": _r(r["stress"].main), "rps": _r(r["stress"].rps, 0),
                 "after": _r(r["after stress"].total, 2), "back_stress": _s(r.back_after_stress_s),
                 "half_open": _r(r["after half-open"].total, 2), "back_half_open": _s(r.back_after_half_open_s)}
                for r in self.runs]

    def notes(self) -> list[str]:
        said = [f"% of one host core, whole QEMU process; the floor (calibrated with the same network "
                f"card) {self.floor:.2f} %; back at the floor: QEMU stays within {self.floor + self.margin:.2f} % "
                f"for {WINDOW:g} s"]
        never = [f"{r.policy} ({p})" for r in self.runs for p, b in
                 (("after stress", r.back_after_stress_s), ("after half-open", r.back_after_half_open_s))
                 if b is None]
        if never:
            said.append("never back at the floor within the phase: " + ", ".join(never))
        return said

    def phases_table(self) -> Tabular:
        """Every policy and phase: vCPUs, main thread and total, guest requests/s, connections."""
        rows = [{"policy": r.policy, "phase": p.phase, "vcpus": _r(p.vcpus, 2), "main": _r(p.main, 2),
                 "total": _r(p.total, 2), "last_s": _r(p.last_s, 2), "rps": _r(p.rps, 0),
                 "conns": p.conns_at_end}
                for r in self.runs for p in r.phases.values()]
        return _Rows("QEMU's host CPU per phase, % of one host core", rows,
                     {"policy": "policy", "phase": "phase", "vcpus": "vCPU threads", "main": "main thread",
                      "total": "QEMU total", "last_s": "total, last second", "rps": "guest requests/s",
                      "conns": "guest connections at the end"})

    def figure(self) -> "go.Figure":
        """The timeline: vCPU threads, main thread and total above; guest requests/s below."""
        return self.experiment.figure()

    def to_dict(self) -> dict[str, object]:
        return json_safe({"title": self.title, "floor_pct": self.floor, "margin_pct": self.margin,
                          "window_s": WINDOW, "runs": [asdict(r) for r in self.runs],
                          "timeline": self.experiment.to_dict()})


class _Rows(Tabular):
    """A table of rows made elsewhere."""

    def __init__(self, title: str, rows: list[dict[str, object]], columns: Mapping[str, str]) -> None:
        self.title, self.rows, self.columns = title, rows, columns

    def table(self) -> list[dict[str, object]]:
        return self.rows


# -- the experiment -------------------------------------------------------------------------

def _conns(vm: VM) -> int | None:
    """The guest's TCP connections open now (net_conns_now, every CPU)."""
    try:
        snap = vm.stats()
    except KitError:
        return None
    if not snap.valid:
        return None
    return sum(c.get("net_conns_now", 0) for c in snap.cpus)


def _figures(s: Session, label: str, phase: str, conns: int | None) -> PhaseFigures:
    r = s.result(label)
    samples = s.sampler.phase_samples(label)
    last = [x.total for x in samples if x.t > samples[-1].t - WINDOW] if samples else []
    rps = sum(v for v in r.rates.get("net_http_requests", {}).values() if not math.isnan(v))
    t0, t1 = s.span(label)
    return PhaseFigures(phase, round(t1 - t0, 2), r.total, sum(r.vcpu.values()), r.main,
                        sum(last) / len(last) if last else math.nan, rps, conns, dict(r.vcpu))


def compare_net(image: Image, policies: Mapping[str, str] = POLICIES, *, cpus: int = 2,
                idle: float = 3.0, stress_s: float = 5.0, after: float = 5.0, half_open_s: float = 1.0,
                after_half_open: float = 5.0, connections: int = 4, partial: int = 2, silent: int = 2,
                vanished: int = 1, floor: float | None = None, ceiling: float | None = None,
                margin: float = MARGIN, load: Callable[[str, float, int], LoadFigures] = stress,
                show: bool = True, top: "bool | TextIO" = False, progress: bool = True,
                hz: float = 10.0) -> NetExperiment:
    """Toro's experiment for each policy (label -> command line), one VM each.

    Phases: ``idle`` s with nothing, ``stress_s`` s of HTTP load over
    ``connections`` kept-alive connections (``load``: wrk, else a Python
    client), ``after`` s with nothing, the half-open connections opened and
    held ``half_open_s`` s, then ``after_half_open`` s more with them still
    open and silent.  ``floor``: QEMU's total with nothing to do (calibrate
    with ``net=True``); None measures nothing against it (back-at-floor
    times become None).  ``show`` draws the live plot where a front end
    can, ``top`` prints QEMU as top shows it once a second (see top.py).
    """
    if not policies:
        raise KitError("compare_net needs at least one policy")
    title = f"HTTP stress, {cpus} vCPUs: " + ", ".join(policies)
    level = (floor + margin) if floor is not None else math.nan
    runs = []
    with Session(title, cpus, hz=hz, floor=floor, ceiling=ceiling, guest="net_http_requests", show=show,
                 progress=progress, main=True, top=top) as s:
        for policy, append in policies.items():
            runs.append(_one_policy(s, image, policy, append, idle=idle, stress_s=stress_s, after=after,
                                    half_open_s=half_open_s, after_half_open=after_half_open,
                                    connections=connections, kinds=(partial, silent, vanished),
                                    level=level, load=load))
    return NetExperiment(title, math.nan if floor is None else floor, margin, tuple(runs), s.experiment())


def _one_policy(s: Session, image: Image, policy: str, append: str, *, idle: float, stress_s: float,
                after: float, half_open_s: float, after_half_open: float, connections: int,
                kinds: tuple[int, int, int], level: float,
                load: Callable[[str, float, int], LoadFigures]) -> PolicyRun:
    s.say(f"{policy}: booting net {append}")
    vm = s.boot(image, append=append, net=True, boot_timeout=120)
    url = vm.url
    assert url is not None
    conns: dict[str, int | None] = {}

    def phase(name: str, seconds: float | None = None) -> str:
        label = f"{policy}: {name}"
        s.phase(label, vm, seconds=seconds, settle=name in ("idle", "stress"))
        return label

    phase("idle", idle)
    conns["idle"] = _conns(vm)
    s.say(f"{policy}: stress, {stress_s:g} s over {connections} kept-alive connections")
    phase("stress")
    figures = load(url, stress_s, connections)
    conns["stress"] = _conns(vm)
    s.say(f"{policy}: {figures.requests} requests, {figures.rps:,.0f}/s ({figures.tool}); "
          f"then {after:g} s with nothing")
    phase("after stress", after)
    conns["after stress"] = _conns(vm)
    held = HalfOpen(url, partial=kinds[0], silent=kinds[1], vanished=kinds[2])
    try:
        s.say(f"{policy}: half-open: {kinds[0]} half requests, {kinds[1]} silent, {kinds[2]} vanished client")
        phase("half-open")
        held.open()
        time.sleep(half_open_s)
        conns["half-open"] = _conns(vm)
        phase("after half-open", after_half_open)
        conns["after half-open"] = _conns(vm)
    finally:
        opened, failed = held.opened, held.failed
        s.end()
        held.close()
    s.stop(vm)
    phases = {name: _figures(s, f"{policy}: {name}", name, conns.get(name)) for name in PHASES}

    def back(name: str) -> float | None:
        if math.isnan(level):
            return None
        label = f"{policy}: {name}"
        return back_to_floor(s.sampler.phase_samples(label), s.span(label)[0], level)

    half = {"partial": kinds[0], "silent": kinds[1], "vanished": kinds[2], "opened": opened, "failed": failed}
    return PolicyRun(policy, append, phases, back("after stress"), back("after half-open"), figures, half)


# -- the open question: reaction and host CPU against the request rate ------------------------

@dataclass(frozen=True)
class RatePoint:
    """One policy under one load: latency (µs, nearest rank) and QEMU's CPU.

    ``load`` is "idle" (no requests), "open" (requests due every 1/``rate`` s,
    latency from each due time) or "wrk" (as fast as the guest answers, over
    ``connections`` connections: the saturation point)."""

    policy: str
    load: str
    rate: float                 # requests/s asked; 0 idle, NaN for wrk
    connections: int
    requests: int
    failed: int
    achieved: float             # requests/s answered
    p50_us: float
    p99_us: float
    host_pct: float             # whole QEMU process, % of one host core, over the load


@dataclass(frozen=True)
class RateCurve(Tabular):
    """Latency and host CPU against the request rate, from idle to saturation, per policy."""

    title: str
    points: tuple[RatePoint, ...]

    columns = {"policy": "policy", "load": "load", "achieved": "answered/s", "failed": "failed",
               "p50_us": "p50, µs", "p99_us": "p99, µs", "host_pct": "QEMU, % of a host core"}

    @property
    def policies(self) -> list[str]:
        return list(dict.fromkeys(p.policy for p in self.points))

    def at(self, policy: str, rate: float) -> RatePoint:
        """The open-loop point of ``policy`` at ``rate``, or its idle point at 0."""
        for p in self.points:
            if p.policy == policy and p.load in ("open", "idle") and p.rate == rate:
                return p
        raise KeyError(f"no point for {policy!r} at {rate:g}/s")

    def saturated(self, policy: str) -> RatePoint:
        for p in self.points:
            if p.policy == policy and p.load == "wrk":
                return p
        raise KeyError(f"no saturation point for {policy!r}")

    def curve(self, policy: str) -> list[RatePoint]:
        """``policy``'s points that carry load, by the rate answered."""
        return sorted((p for p in self.points if p.policy == policy and p.load != "idle"),
                      key=lambda p: p.achieved)

    def table(self) -> list[dict[str, object]]:
        def load(p: RatePoint) -> str:
            return {"idle": "idle", "open": f"{p.rate:g}/s"}.get(p.load, f"wrk, {p.connections} conn.")
        return [{"policy": p.policy, "load": load(p), "achieved": _r(p.achieved, 0), "failed": p.failed,
                 "p50_us": _r(p.p50_us, 0), "p99_us": _r(p.p99_us, 0), "host_pct": _r(p.host_pct, 2)}
                for p in self.points]

    def answer(self, fast: str = "idle=spin", slow: str = "kit's API", rate: float = 100) -> str:
        """The open question answered in one sentence, from the measurement."""
        a, b = self.at(slow, rate), self.at(fast, rate)

        def delta(us: float) -> str:
            return f"{abs(us):,.0f} µs {'more' if us >= 0 else 'less'}"

        return (f"At {rate:g} requests/s, halting ({slow}) answers {delta(a.p50_us - b.p50_us)} at the median "
                f"and {delta(a.p99_us - b.p99_us)} at p99 than {fast}, and saves "
                f"{b.host_pct - a.host_pct:,.0f} % of a host core ({a.host_pct:.1f} % against {b.host_pct:.1f} %).")

    def figure(self) -> "go.Figure":
        """Host CPU against the rate answered, a line per policy from its lowest rate to
        saturation, its idle cost as a dotted line in the same colour; p50 and p99 as hover text."""
        import plotly.graph_objects as go
        from plotly.colors import qualitative

        fig = go.Figure()
        for policy, colour in zip(self.policies, qualitative.Plotly * 4):
            pts = self.curve(policy)
            fig.add_scatter(x=[p.achieved for p in pts], y=[p.host_pct for p in pts], name=policy,
                            uid=f"rate-{policy}", mode="lines+markers", line=dict(color=colour),
                            text=[f"p50 {p.p50_us:.0f} µs, p99 {p.p99_us:.0f} µs" for p in pts])
            try:
                quiet = self.at(policy, 0).host_pct
            except KeyError:
                continue
            fig.add_hline(y=quiet, line=dict(color=colour, dash="dot", width=1))
        fig.update_layout(title=self.title + " (dotted: idle)", height=380, template="plotly_white",
                          xaxis=dict(type="log", title="requests answered a second"),
                          yaxis=dict(title="QEMU, % of one host core", rangemode="tozero"),
                          margin=dict(l=60, r=20, t=50, b=40))
        return fig

    def to_dict(self) -> dict[str, object]:
        return json_safe({"title": self.title, "points": [asdict(p) for p in self.points]})


TWO_CONNECTIONS_FROM = 500      # requests/s from which the open loop uses two connections


def latency_by_rate(image: Image, policies: Mapping[str, str], rates: Sequence[float] = (10, 100, 1000), *,
                    cpus: int = 2, seconds: float = 2.0, idle: float = 2.0, saturate: int | None = 16,
                    progress: bool = True) -> RateCurve:
    """For each policy, on one VM: QEMU's CPU while idle for ``idle`` s; at
    each rate, requests due every 1/rate s for ``seconds`` (loadgen's open loop
    over kept-alive connections: latency from each due time) with their
    percentiles and QEMU's CPU over them (process CPU clock); and, with
    ``saturate``, wrk at that many connections, the rate the guest answers
    when it is never kept waiting."""
    from . import loadgen
    from .hostcpu import read_process_ns
    from .httpload import wrk

    def say(text: str) -> None:
        if progress:
            print(text, flush=True)

    def cpu(vm: VM, t0: float, ns0: int) -> float:
        assert vm.pid is not None
        return 100.0 * (read_process_ns(vm.pid) - ns0) / 1e9 / (time.monotonic() - t0)

    points = []
    for policy, append in policies.items():
        with VM(image, cpus=cpus, append=append, net=True, boot_timeout=120) as vm:
            vm.wait_ready()
            assert vm.url is not None and vm.pid is not None
            loadgen.open_loop(vm.url, 50, 0.2, connections=2, timeout=2.0, progress=False)  # slirp's first connections
            if idle > 0:
                say(f"{policy}: idle for {idle:g} s")
                t0, ns0 = time.monotonic(), read_process_ns(vm.pid)
                time.sleep(idle)
                points.append(RatePoint(policy, "idle", 0.0, 0, 0, 0, 0.0, math.nan, math.nan, cpu(vm, t0, ns0)))
            for rate in rates:
                conns = 2 if rate >= TWO_CONNECTIONS_FROM else 1
                say(f"{policy}: a request every {1e3 / rate:g} ms for {seconds:g} s")
                t0, ns0 = time.monotonic(), read_process_ns(vm.pid)
                r = loadgen.open_loop(vm.url, rate, seconds, connections=conns, timeout=2.0, progress=False)
                points.append(RatePoint(policy, "open", rate, conns, r.ok, r.planned - r.ok, r.achieved_rate,
                                        r.p50_us, r.p99_us, cpu(vm, t0, ns0)))
            if saturate:
                say(f"{policy}: wrk, {saturate} connections for {seconds:g} s")
                t0, ns0 = time.monotonic(), read_process_ns(vm.pid)
                w = wrk(vm.url, connections=saturate, threads=1 if saturate < 16 else 2, seconds=seconds,
                        timeout_s=5)
                points.append(RatePoint(policy, "wrk", math.nan, saturate, w.requests, w.errors, w.rps,
                                        1e3 * w.p50_ms, 1e3 * w.p99_ms, cpu(vm, t0, ns0)))
    return RateCurve(f"host CPU against the request rate, {cpus} vCPUs", tuple(points))


# -- beside a Linux guest ---------------------------------------------------------------------

@dataclass(frozen=True)
class PeerSide(Tabular):
    """The kit's kernel and the Linux peer on the same QEMU network, one after
    the other: QEMU's CPU while idle, and wrk's requests/s and QEMU's CPU per
    1,000 requests at each concurrency."""

    title: str
    rows: tuple[dict[str, object], ...]

    columns = {"guest": "guest", "idle_pct": "idle, % of a host core", "connections": "wrk connections",
               "rps": "requests/s", "ms_per_1k": "QEMU ms / 1,000 requests", "errors": "errors"}

    def table(self) -> list[dict[str, object]]:
        return [dict(r) for r in self.rows]

    def idle_pct(self, guest: str) -> float:
        return next(float(r["idle_pct"]) for r in self.rows if r["guest"] == guest)

    def rps(self, guest: str, connections: int) -> float:
        return next(float(r["rps"]) for r in self.rows
                    if r["guest"] == guest and r["connections"] == connections)

    def to_dict(self) -> dict[str, object]:
        return json_safe({"title": self.title, "rows": list(self.rows)})


def beside_peer(image: Image, *, cpus: int = 2, idle: float = 3.0, connections: Sequence[int] = (1, 16),
                seconds: float = 3.0, warmup: float = 1.0) -> PeerSide:
    """The kit's API (``poll=wait idle=hlt``) and the Linux peer (kitlib.peer),
    each on a VM of its own with the same card and network: ``idle`` seconds
    of quiet, then wrk at each of ``connections`` for ``seconds`` after a
    warm-up.  Raises PeerUnavailable where the peer cannot be built."""
    from . import benchnet
    from .peer import build_peer

    build_peer()                                    # before the first VM: fail early, or build once
    rows = []
    for s in benchnet.setups(["wait"], peer=True):
        d = benchnet.measure_setup(image, s, cpus=cpus, idle=idle, rates=(), rate_seconds=1.0,
                                   connections=connections, seconds=seconds, warmup=warmup)
        for w in d["wrk"]:
            rows.append({"guest": s.label, "idle_pct": d["idle"]["cpu_pct"]["total"],
                         "connections": w["connections"], "rps": round(w["rps"]),
                         "ms_per_1k": w["cpu_ms_per_1k"]["total"], "errors": w["errors"]})
    return PeerSide(f"the kit's kernel beside Linux, {cpus} vCPUs, same QEMU network", tuple(rows))
