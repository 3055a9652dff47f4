"""Lesson 07's experiment (kitlib/net.py) and `kit demo net`: the pieces
against local servers, then short runs against the guest's web server.

Judged by what load does not change: whether the VM came back at all, what
its vCPU threads asked for, the guest's own counts; never a host timing.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import kitlib
from kitlib.cli import main
from kitlib.hostcpu import Sample
from kitlib.net import HalfOpen, back_to_floor, stress

from conftest import requires_qemu


def samples(values: list[float], hz: float = 10.0, start: float = 0.0) -> list[Sample]:
    return [Sample(t=start + (i + 1) / hz, phase="p", vcpu={}, total=v) for i, v in enumerate(values)]


def test_back_to_floor_is_the_start_of_the_first_whole_second_at_the_floor():
    trace = samples([50.0] * 5 + [0.1] * 12)
    assert back_to_floor(trace, 0.0, 1.0) == pytest.approx(0.5)
    assert back_to_floor(samples([50.0] * 20), 0.0, 1.0) is None             # never
    assert back_to_floor(samples([50.0] * 5 + [0.1] * 6), 0.0, 1.0) is None  # a second does not fit
    assert back_to_floor(samples([0.1, 9.0] + [0.1] * 12), 0.0, 1.0) == pytest.approx(0.2)  # a blip
    assert back_to_floor([], 0.0, 1.0) is None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = b"hello"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def local_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_the_stress_takes_loadgen_where_wrk_is_missing(local_server, monkeypatch):
    from kitlib import httpload

    def no_wrk(*args: object, **kwargs: object) -> None:
        raise kitlib.ToolNotFound("wrk", "wrk")

    monkeypatch.setattr(httpload, "wrk", no_wrk)
    r = stress(local_server, 0.3, connections=2)
    assert r.tool.startswith("closed loop") and r.requests > 0 and r.errors == 0 and r.rps > 0, r


def test_half_open_connections_stay_open_and_close_by_reset():
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    held = HalfOpen(f"http://127.0.0.1:{port}/", partial=1, silent=1, vanished=1).open()
    accepted = [listener.accept()[0] for _ in range(3)]

    def said(c: socket.socket) -> bytes:
        c.settimeout(1)
        try:
            return c.recv(100)
        except TimeoutError:
            return b"(nothing)"

    heard = sorted(said(c) for c in accepted)
    assert held.opened == 3 and held.failed == 0
    assert heard[0] == b"(nothing)" and all(h.startswith(b"GET / HTTP/1.1") for h in heard[1:]), heard
    assert heard[1].endswith(b"\r\n\r\n") != heard[2].endswith(b"\r\n\r\n"), heard   # half, whole
    held.close()
    for c in accepted:
        c.settimeout(5)                  # an RST, not a FIN: the receiver sees a reset
        with pytest.raises(ConnectionResetError):
            while c.recv(100):
                pass
        c.close()
    listener.close()


def test_half_open_counts_a_refused_connection():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()                                   # nothing listens there now
    held = HalfOpen(f"http://127.0.0.1:{port}/", partial=1, silent=0, vanished=0, timeout=2).open()
    assert held.opened == 0 and held.failed == 1


@pytest.fixture(scope="module")
def demo_net(tmp_path_factory):
    """One `kit demo net` run (the kit's API and idle=spin through the five
    phases), its JSON and what it printed: the experiment's tests read it."""
    out = tmp_path_factory.mktemp("demo-net")
    said, top = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(said), contextlib.redirect_stderr(top):
        assert main(["demo", "net", "--seconds", "2.5", "--out", str(out)]) == 0
    return out, json.loads((out / "demo-net.json").read_text()), said.getvalue(), top.getvalue()


@requires_qemu
def test_the_kits_api_comes_back_to_the_floor_and_spin_never_does(demo_net):
    _, data, _, _ = demo_net
    runs = {r["policy"]: r for r in data["runs"]}
    k, spin = runs["kit's API"], runs["idle=spin"]
    assert k["phases"]["stress"]["rps"] > 50 and spin["phases"]["stress"]["rps"] > 50, runs
    assert k["load"]["requests"] > 0 and k["load"]["errors"] == 0, k["load"]
    assert k["back_after_stress_s"] is not None, k
    assert k["back_after_half_open_s"] is not None, k
    assert k["phases"]["half-open"]["conns_at_end"] >= 3 and k["half_open"]["opened"] == 5, k["half_open"]
    phases = {p["label"]: p for p in data["timeline"]["phases"]}
    runnable = phases["idle=spin: after stress"]["wanted"]
    assert min(runnable.values()) > 80, runnable
    assert spin["back_after_stress_s"] is None, spin
    assert k["phases"]["stress"]["main"] > 0, k["phases"]["stress"]


@requires_qemu
def test_demo_net_leaves_a_table_json_and_a_figure_with_the_main_thread(demo_net):
    out, data, said, top = demo_net
    assert [r["policy"] for r in data["runs"]] == ["kit's API", "idle=spin"]
    assert "kit's API" in said and "back at floor after stress" in said, said
    assert "%CPU" in top
    page = (out / "demo-net.html").read_text()
    assert len(page) > 100_000 and "QEMU main thread" in page and "QEMU total" in page   # plotly.js inlined


def _curve() -> kitlib.RateCurve:
    from kitlib.net import RatePoint

    def pt(policy, load, rate, achieved, p50, p99, cpu):
        return RatePoint(policy, load, rate, 16 if load == "wrk" else 1, int(achieved), 0, achieved,
                         p50, p99, cpu)
    return kitlib.RateCurve("t", (
        pt("kit's API", "idle", 0, 0, math.nan, math.nan, 0.05),
        pt("kit's API", "open", 100, 100, 900, 4000, 3.0),
        pt("kit's API", "wrk", math.nan, 9000, 300, 2000, 90.0),
        pt("idle=spin", "idle", 0, 0, math.nan, math.nan, 180.0),
        pt("idle=spin", "open", 100, 100, 800, 3000, 185.0),
        pt("idle=spin", "wrk", math.nan, 8000, 300, 2500, 190.0)))


def test_rate_curve_finds_idle_open_and_saturation_points_and_answers_in_words():
    c = _curve()
    assert c.policies == ["kit's API", "idle=spin"]
    assert c.at("kit's API", 0).load == "idle" and c.at("kit's API", 100).host_pct == 3.0
    assert c.saturated("idle=spin").achieved == 8000
    assert [p.load for p in c.curve("kit's API")] == ["open", "wrk"]       # by the rate answered
    with pytest.raises(KeyError):
        c.at("kit's API", 1000)
    assert [r["load"] for r in c.table()][:3] == ["idle", "100/s", "wrk, 16 conn."]
    assert c.answer() == ("At 100 requests/s, halting (kit's API) answers 100 µs more at the median and "
                          "1,000 µs more at p99 than idle=spin, and saves 182 % of a host core "
                          "(3.0 % against 185.0 %).")
    fig = c.figure()
    assert [t.name for t in fig.data] == ["kit's API", "idle=spin"]
    assert len(fig.layout.shapes) == 2                                     # each policy's idle line
    assert json.loads(json.dumps(c.to_dict()))["points"][0]["p50_us"] is None
