"""`kit bench net`'s measurements: the web server per idle policy, in one run.

Lesson 07 asks what halting costs a server and what it saves.  This module
measures both, for every setup, the same way and in the same run, so that a
busy host moves every setup alike:

- ``idle``: QEMU's host CPU while nothing comes (the setup's idle cost);
- ``open_loop``: requests due at t0 + i/rate (kitlib.loadgen) at each rate,
  over one kept-alive connection (two from 500 requests/s on), latency
  p50/p99 from each request's intended send time, and QEMU's host CPU over
  them, split into the vCPU threads and the main thread (which under TCG
  runs the user network), as % of a host core and as ms per 1,000 requests;
  idle and these points are the CPU-against-rate curve;
- ``wrk``: requests/s and latency at each concurrency (wrk, kept alive);
- ``back_to_floor``: kitlib.net.compare_net's phases with short durations:
  the seconds until QEMU is back at the floor after an HTTP stress, and
  after connections left half-open, judged against a floor calibrated with
  the same network card in the same run;
- ``comparisons``: the kit's API against idle=spin, each with its target,
  its value and whether it meets it.

The setups are named by a short key (``wait``, ``spin``, ``toro``,
``haltpoll``, ``peer``); each runs on a VM of its own, booted with its
command line.  ``peer`` is the Linux peer (kitlib.peer): Debian's cloud
kernel and a small epoll server on the same QEMU network card; where it
cannot be built the run goes on without it and says so in its notes.
Figures are reported, never asserted: a verdict is "meets" or "misses".
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any
from dataclasses import dataclass

from .build import Image, build
from .calibrate import calibrate
from .errors import KitError, PeerUnavailable
from .hostcpu import read_main_thread_ns, read_process_ns, read_thread_ns
from .httpload import WrkResult, wrk
from .loadresult import BEHIND_US
from .net import TWO_CONNECTIONS_FROM
from .table import Tabular
from .vm import VM

__all__ = ["SETUPS", "Setup", "setups", "measure_net", "comparisons", "headline", "tables", "COLUMNS"]

Data = dict[str, Any]
Rows = list[dict[str, Any]]

SETUPS = ("wait", "spin", "toro", "haltpoll")   # the kit's kernel's setups, in the tables' order
KIT, SPIN = "wait", "spin"                       # the two the comparisons set side by side
BOOT_TIMEOUT = 120.0


@dataclass(frozen=True)
class Setup:
    """One thing measured: its key, its label in the tables, its command line."""

    key: str
    label: str
    append: str


def setups(keys: Sequence[str], *, grace: int = 200, haltpoll: int = 500, peer: bool = True) -> list[Setup]:
    """The setups named by ``keys`` (a KitError names an unknown one), then the peer if asked."""
    known = {"wait": Setup("wait", "kit's API", "poll=wait idle=hlt"),
             "spin": Setup("spin", "idle=spin", "poll=spin idle=spin"),
             "toro": Setup("toro", f"Toro 2017 ({grace} ms)", f"poll=toro grace={grace} idle=hlt"),
             "haltpoll": Setup("haltpoll", f"kit's API, haltpoll={haltpoll} µs",
                               f"poll=wait idle=hlt haltpoll={haltpoll}")}
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise KitError(f"no policy {', '.join(unknown)} (the policies: {', '.join(known)})")
    chosen = [known[k] for k in dict.fromkeys(keys)]
    if peer:
        chosen.append(Setup("peer", "Linux peer", ""))
    return chosen


# -- QEMU's CPU between two moments -------------------------------------------------------

def _cpu_ns(vm: VM) -> Data:
    """QEMU's CPU nanoseconds so far: each vCPU thread, the main thread, the whole process."""
    pid = vm.pid
    assert pid is not None
    return {"vcpu": {i: read_thread_ns(pid, tid) for i, tid in vm.vcpu_threads().items()},
            "main": read_main_thread_ns(pid), "total": read_process_ns(pid), "t": time.monotonic()}


def _spent_ns(a: Data, b: Data) -> dict[str, float]:
    """CPU nanoseconds between two _cpu_ns readings: vCPU threads together, main thread, total."""
    vcpus = sum(b["vcpu"][i] - a["vcpu"].get(i, 0) for i in b["vcpu"])
    return {"vcpus": float(vcpus), "main": float(b["main"] - a["main"]),
            "total": float(b["total"] - a["total"])}


def _pct(a: Data, b: Data) -> dict[str, float]:
    """% of one host core between two readings: vCPU threads, main thread, whole process."""
    wall = b["t"] - a["t"]
    return {k: round(100.0 * ns / 1e9 / wall, 3) if wall > 0 else math.nan
            for k, ns in _spent_ns(a, b).items()}


def _ms_per_1k(a: Data, b: Data, requests: int) -> dict[str, object]:
    """Host CPU milliseconds per 1,000 requests between two readings: the vCPU
    threads (together and each), QEMU's main thread and the whole process."""
    per = 1e3 / 1e6 / requests if requests else math.nan       # ns -> ms, per 1,000 requests
    out: dict[str, object] = {k: round(ns * per, 3) for k, ns in _spent_ns(a, b).items()}
    out["per_vcpu"] = {str(i): round((b["vcpu"][i] - a["vcpu"].get(i, 0)) * per, 3)
                       for i in b["vcpu"]}
    return out


# -- one setup on one VM ------------------------------------------------------------------

def _idle(vm: VM, seconds: float) -> Data:
    a = _cpu_ns(vm)
    time.sleep(seconds)
    return {"seconds": seconds, "cpu_pct": _pct(a, _cpu_ns(vm))}


def _open_loop(vm: VM, url: str, s: Setup, rate: int, seconds: float) -> Data:
    """Requests due every 1/rate s for ``seconds``; latency from each one's intended time."""
    from . import loadgen

    conns = 2 if rate >= TWO_CONNECTIONS_FROM else 1
    print(f"{s.label}: open loop, {rate}/s for {seconds:g} s over {conns} connection(s)")
    a = _cpu_ns(vm)
    r = loadgen.open_loop(url, rate, seconds, connections=conns, timeout=2.0, progress=False)
    b = _cpu_ns(vm)
    return {"setup": s.key, "rate": rate, "connections": conns, "planned": r.planned, "ok": r.ok,
            "errors": r.errors, "errors_by_kind": {k: v for k, v in r.errors_by_kind.items() if v},
            "achieved_rate": round(r.achieved_rate, 1), "p50_us": round(r.p50_us, 1),
            "p99_us": round(r.p99_us, 1), "max_us": round(r.max_us, 1),
            "send_lag_p99_us": round(r.send_lag_p99_us, 1), "generator_behind": r.generator_behind,
            "cpu_pct": _pct(a, b), "cpu_ms_per_1k": _ms_per_1k(a, b, r.ok)}


def _wrk(vm: VM, url: str, s: Setup, c: int, seconds: float, warmup: float) -> Data:
    """One measured wrk run at c connections, after its warm-up."""
    threads = 1 if c < 16 else 2
    print(f"{s.label}: wrk, {c} connection(s), {warmup:g} s warm-up, {seconds:g} s measured")
    if warmup > 0:
        wrk(url, connections=c, threads=threads, seconds=warmup)
    a = _cpu_ns(vm)
    r: WrkResult = wrk(url, connections=c, threads=threads, seconds=seconds, timeout_s=5)
    b = _cpu_ns(vm)
    row = {"setup": s.key, "connections": c, "threads": threads, "requests": r.requests,
           "duration_s": r.duration_s, "rps": r.rps, "p50_ms": r.p50_ms, "p90_ms": r.p90_ms,
           "p99_ms": r.p99_ms, "errors": r.errors, "errors_by_kind": r.errors_by_kind,
           "cpu_pct": _pct(a, b), "cpu_ms_per_1k": _ms_per_1k(a, b, r.requests)}
    if r.requests and any(math.isnan(x) for x in (r.p50_ms, r.p90_ms, r.p99_ms)):
        row["wrk_output"] = r.output     # a percentile it did not print: keep its words
    return row


def _boot(image: Image, s: Setup, cpus: int) -> VM:
    if s.key == "peer":
        from .peer import PeerVM, build_peer
        return PeerVM(build_peer(), cpus=cpus, boot_timeout=BOOT_TIMEOUT)
    return VM(image, cpus=cpus, append=s.append, net=True, boot_timeout=BOOT_TIMEOUT)


def measure_setup(image: Image, s: Setup, *, cpus: int, idle: float, rates: Sequence[int],
               rate_seconds: float, connections: Sequence[int], seconds: float, warmup: float) -> Data:
    """Idle, the open-loop rates and wrk's concurrencies, on one VM booted for ``s``."""
    from . import loadgen

    print(f"{s.label}: booting {s.append or 'the Linux peer'}")
    with _boot(image, s, cpus) as vm:
        vm.wait_ready()
        url = vm.url
        assert url is not None
        loadgen.open_loop(url, 50, 0.2, connections=2, timeout=2.0, progress=False)  # slirp's first connections
        print(f"{s.label}: {idle:g} s idle")
        quiet = _idle(vm, idle)
        points = [_open_loop(vm, url, s, rate, rate_seconds) for rate in rates]
        runs = [_wrk(vm, url, s, c, seconds, warmup) for c in connections]
    return {"idle": quiet, "open_loop": points, "wrk": runs}


def _back_to_floor(image: Image, chosen: Sequence[Setup], *, cpus: int, floor: float, ceiling: float,
                   stress_s: float, after: float) -> Rows:
    """compare_net with short phases for every setup of the kit's kernel: the
    seconds until QEMU is back at the floor after the stress and after the
    half-open connections (None: not within the phase)."""
    from .net import compare_net

    policies = {s.label: s.append for s in chosen if s.key != "peer"}
    if not policies:
        return []
    run = compare_net(image, policies, cpus=cpus, idle=1.0, stress_s=stress_s, after=after,
                      half_open_s=1.0, after_half_open=after, floor=floor, ceiling=ceiling,
                      show=False, progress=True)
    rows = []
    for s in chosen:
        if s.key == "peer":
            continue
        r = run[s.label]
        rows.append({"setup": s.key, "after_stress_s": _round(r.back_after_stress_s),
                     "after_half_open_s": _round(r.back_after_half_open_s),
                     "stress_pct": _round(r["stress"].total, 2), "stress_rps": _round(r["stress"].rps, 0),
                     "after_stress_pct": _round(r["after stress"].total, 3),
                     "after_half_open_pct": _round(r["after half-open"].total, 3),
                     "half_open": dict(r.half_open)})
    return rows


def _round(x: float | None, digits: int = 2) -> float | None:
    return None if x is None or math.isnan(x) else round(x, digits)


# -- the run ------------------------------------------------------------------------------

def measure_net(*, policies: Sequence[str], rates: Sequence[int], rate_seconds: float,
                connections: Sequence[int], seconds: float, warmup: float, idle: float,
                stress: float, after: float, grace: int, haltpoll: int, peer: bool, cpus: int) -> Data:
    """Every figure of `kit bench net` (see the module's docstring), as JSON-ready data."""
    if any(r <= 0 for r in rates) or any(c <= 0 for c in connections):
        raise KitError("rates and connections must be above 0")
    if min(rate_seconds, seconds, idle) <= 0:
        raise KitError("rate-seconds, seconds and idle must be above 0")
    chosen = setups(policies, grace=grace, haltpoll=haltpoll, peer=peer)
    image = build("net")
    notes: list[str] = []
    print("calibrating the floor and ceiling with the network card")
    cal = calibrate(seconds=max(1.0, idle), fresh=True, net=True)
    out: dict[str, Data] = {}
    for s in chosen:
        try:
            out[s.key] = measure_setup(image, s, cpus=cpus, idle=idle, rates=rates, rate_seconds=rate_seconds,
                                    connections=connections, seconds=seconds, warmup=warmup)
        except PeerUnavailable as e:
            notes.append(f"no Linux peer: {str(e).splitlines()[0]}")
    measured = [s for s in chosen if s.key in out]
    floor_rows: Rows = []
    if after > 0 and stress > 0:
        floor_rows = _back_to_floor(image, measured, cpus=cpus, floor=cal.floor_total,
                                    ceiling=cal.ceiling_total, stress_s=stress, after=after)
    data: Data = {
        "stage": "net", "cpus": cpus,
        "setups": {s.key: {"label": s.label, "append": s.append} for s in measured},
        "rates": list(rates), "rate_seconds": rate_seconds, "connections": list(connections),
        "seconds": seconds, "warmup_s": warmup, "idle_s": idle, "stress_s": stress, "after_s": after,
        "tool": {"open_loop": "kitlib.loadgen (latency from intended send time, nearest rank)",
                 "wrk": "wrk --latency"},
        "floor": {"total_pct": round(cal.floor_total, 3), "vcpu_pct": round(cal.floor_vcpu, 3),
                  "main_pct": round(cal.floor_main, 3), "ceiling_total_pct": round(cal.ceiling_total, 2),
                  "back_at_floor_pct": None},
        "idle": [{"setup": k, **v["idle"]} for k, v in out.items()],
        "open_loop": [p for v in out.values() for p in v["open_loop"]],
        "curve": {k: [{"rate": 0, "total_pct": v["idle"]["cpu_pct"]["total"]}]
                  + [{"rate": p["rate"], "total_pct": p["cpu_pct"]["total"]} for p in v["open_loop"]]
                  for k, v in out.items()},
        "wrk": [r for v in out.values() for r in v["wrk"]],
        "back_to_floor": floor_rows,
        "notes": notes,
    }
    if floor_rows:
        from .net import MARGIN
        data["floor"]["back_at_floor_pct"] = round(cal.floor_total + MARGIN, 3)
    behind = [f"{_label(data, p['setup'])} at {p['rate']}/s" for p in data["open_loop"] if p["generator_behind"]]
    if behind:
        notes.append(f"the load generator itself sent late (its send lag p99 above {BEHIND_US / 1e3:g} ms) for "
                     + ", ".join(behind) + ": those latencies include its lag, as when the host's cores are busy")
    data["comparisons"] = comparisons(data)
    return data


# -- the three figures ------------------------------------------------------------

def _point(data: Data, setup: str, rate: int) -> Data | None:
    return next((p for p in data["open_loop"] if p["setup"] == setup and p["rate"] == rate), None)


def _wrk_at(data: Data, setup: str, c: int) -> Data | None:
    return next((r for r in data["wrk"] if r["setup"] == setup and r["connections"] == c), None)


def _verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("meets" if ok else "misses")


def comparisons(data: Data, rate: int = 100, concurrency: int = 16) -> Rows:
    """The kit's API against idle=spin, from one run: host CPU at ``rate``
    requests/s at most 15 % of spin's; requests/s at ``concurrency``
    connections at least 95 % of spin's; p50 latency at ``rate`` within
    1.2 times spin's plus 100 µs.  A figure the run did not measure (a setup,
    rate or concurrency not asked for) is "not measured"."""
    out: Rows = []
    a, b = _point(data, KIT, rate), _point(data, SPIN, rate)
    cpu = None
    if a and b and b["cpu_pct"]["total"] > 0:
        cpu = round(100.0 * a["cpu_pct"]["total"] / b["cpu_pct"]["total"], 2)
    out.append({"figure": f"host CPU at {rate} requests/s", "target": "at most 15 % of spin's",
                "kit": a["cpu_pct"]["total"] if a else None, "spin": b["cpu_pct"]["total"] if b else None,
                "unit": "% of a host core", "value": cpu, "value_unit": "% of spin's", "bound": 15.0,
                "verdict": _verdict(None if cpu is None else cpu <= 15.0)})
    w, x = _wrk_at(data, KIT, concurrency), _wrk_at(data, SPIN, concurrency)
    rps = None
    if w and x and x["rps"] and not math.isnan(x["rps"]) and not math.isnan(w["rps"]):
        rps = round(100.0 * w["rps"] / x["rps"], 2)
    out.append({"figure": f"requests/s at {concurrency} connections", "target": "at least 95 % of spin's",
                "kit": w["rps"] if w else None, "spin": x["rps"] if x else None, "unit": "requests/s",
                "value": rps, "value_unit": "% of spin's", "bound": 95.0,
                "verdict": _verdict(None if rps is None else rps >= 95.0)})
    p50 = bound = None
    if a and b and a["p50_us"] is not None and b["p50_us"] is not None \
            and not math.isnan(a["p50_us"]) and not math.isnan(b["p50_us"]):
        p50, bound = a["p50_us"], round(1.2 * b["p50_us"] + 100.0, 1)
    out.append({"figure": f"p50 latency at {rate} requests/s", "target": "at most 1.2 × spin's + 100 µs",
                "kit": a["p50_us"] if a else None, "spin": b["p50_us"] if b else None, "unit": "µs",
                "value": p50, "value_unit": "µs", "bound": bound,
                "verdict": _verdict(None if p50 is None else p50 <= bound)})
    return out


# -- the tables ---------------------------------------------------------------------------

COLUMNS = {"setup": "setup", "rate": "requests/s asked", "ok": "answered", "errors": "errors",
           "p50_us": "p50 µs", "p99_us": "p99 µs", "vcpus_pct": "vCPUs %", "main_pct": "main thread %",
           "total_pct": "QEMU %", "total_ms": "QEMU ms/1k req"}


def _label(data: Data, key: str) -> str:
    return data["setups"].get(key, {}).get("label", key)


def headline(data: Data) -> Rows:
    """Per setup: idle (rate 0), then each open-loop rate: latency and QEMU's CPU."""
    rows: Rows = []
    for i in data["idle"]:
        c = i["cpu_pct"]
        rows.append({"setup": _label(data, i["setup"]), "rate": "idle", "vcpus_pct": c["vcpus"],
                     "main_pct": c["main"], "total_pct": c["total"]})
        for p in data["open_loop"]:
            if p["setup"] == i["setup"]:
                c = p["cpu_pct"]
                rows.append({"setup": _label(data, p["setup"]), "rate": p["rate"], "ok": p["ok"],
                             "errors": p["errors"], "p50_us": p["p50_us"], "p99_us": p["p99_us"],
                             "vcpus_pct": c["vcpus"], "main_pct": c["main"], "total_pct": c["total"],
                             "total_ms": p["cpu_ms_per_1k"]["total"]})
    return rows


class _Table(Tabular):
    """A table of rows made here, with lines under it."""

    def __init__(self, title: str, rows: Rows, columns: Mapping[str, str], said: Sequence[str] = ()) -> None:
        self.title, self.rows, self.columns, self.said = title, rows, columns, list(said)

    def table(self) -> Rows:
        return self.rows

    def notes(self) -> list[str]:
        return self.said


def tables(data: Data) -> list[Tabular]:
    """The tables under the headline: wrk, back at the floor, the three comparisons."""
    out: list[Tabular] = []
    if data["wrk"]:
        rows = [{"setup": _label(data, r["setup"]), "connections": r["connections"], "rps": r["rps"],
                 "p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"], "vcpus_ms": r["cpu_ms_per_1k"]["vcpus"],
                 "main_ms": r["cpu_ms_per_1k"]["main"], "total_ms": r["cpu_ms_per_1k"]["total"],
                 "errors": r["errors"]} for r in data["wrk"]]
        out.append(_Table("wrk, kept-alive connections (closed loop)", rows, {
            "setup": "setup", "connections": "connections", "rps": "requests/s", "p50_ms": "p50 ms",
            "p99_ms": "p99 ms", "vcpus_ms": "vCPUs ms/1k req", "main_ms": "main thread ms/1k",
            "total_ms": "QEMU ms/1k", "errors": "errors"}))
    if data["back_to_floor"]:
        f = data["floor"]
        rows = [{"setup": _label(data, r["setup"]), "stress_pct": r["stress_pct"], "rps": r["stress_rps"],
                 "after_stress_s": "never" if r["after_stress_s"] is None else r["after_stress_s"],
                 "after_half_open_s": "never" if r["after_half_open_s"] is None else r["after_half_open_s"],
                 "after_half_open_pct": r["after_half_open_pct"]}
                for r in data["back_to_floor"]]
        out.append(_Table("back at the floor after an HTTP stress, and with half-open connections", rows, {
            "setup": "setup", "stress_pct": "stress QEMU %", "rps": "guest requests/s",
            "after_stress_s": "back after stress, s", "after_half_open_s": "back with half-open, s",
            "after_half_open_pct": "QEMU % with half-open"},
            (f"floor {f['total_pct']} % (calibrated with the card, this run); back at the floor: "
             f"QEMU stays within {f['back_at_floor_pct']} % for a second",)))
    rows = [{"figure": c["figure"], "target": c["target"], "kit": c["kit"], "spin": c["spin"],
             "value": c["value"], "bound": c["bound"], "unit": c["value_unit"], "verdict": c["verdict"]}
            for c in data["comparisons"]]
    out.append(_Table("the kit's API against idle=spin, this run", rows, {
        "figure": "figure", "target": "target", "kit": "kit's API", "spin": "idle=spin", "value": "value",
        "bound": "limit", "unit": "unit", "verdict": "verdict"},
        ("kit's API and idle=spin in their own units: % of a host core, requests/s, µs",)))
    return out
