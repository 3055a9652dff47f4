"""kitlib.loadgen: the open-loop, burst and closed-loop generator, against a
small HTTP/1.1 keep-alive server run in this process (no QEMU) that can
stall, reset, close, answer 404 or never answer; then once against the net
stage's web server.

Every claim is a count or a ratio: requests sent against the schedule,
answers, errors by kind, connections the server saw.  The one timing in a
claim is the server's own stall, which makes latencies at least that long
whatever the host's load; the bounds on how long a run took are tens of
times what it should take, there only to show it cannot hang.
"""

from __future__ import annotations

import _thread
import asyncio
import json
import math
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

import kitlib
from kitlib import loadgen
from kitlib.loadgen import Load, LoadResult, percentile

from conftest import SHARED_QEMU, requires_qemu

BODY = b"hello, load\n"


class Server:
    """An HTTP/1.1 server on 127.0.0.1 in a thread of its own.

    ``mode``: "ok" (200, kept alive), "404", "close" (answers, then
    ``Connection: close``), "reset" (RST instead of an answer), "hangup"
    (closes without answering), "silent" (reads, never answers).  With
    ``stall_at``, the request of that number stops the whole server for
    ``stall_s``: every answer due meanwhile waits.
    """

    def __init__(self, mode: str = "ok", *, stall_at: int | None = None, stall_s: float = 0.2) -> None:
        self.mode, self.stall_at, self.stall_s = mode, stall_at, stall_s
        self.requests = 0
        self.connections = 0
        self._until = 0.0
        self._ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._main, daemon=True)
        self.thread.start()
        self._ready.wait(10)
        self.url = f"http://127.0.0.1:{self.port}/"

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                n, self.requests = self.requests, self.requests + 1
                if n == self.stall_at:
                    self._until = self.loop.time() + self.stall_s
                if (wait := self._until - self.loop.time()) > 0:
                    await asyncio.sleep(wait)
                if self.mode == "reset":
                    writer.get_extra_info("socket").setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    return
                if self.mode == "hangup":
                    writer.close()
                    return
                if self.mode == "silent":
                    await asyncio.sleep(3600)
                status = "404 Not Found" if self.mode == "404" else "200 OK"
                conn = "close" if self.mode == "close" else "keep-alive"
                writer.write(f"HTTP/1.1 {status}\r\nContent-Length: {len(BODY)}\r\n"
                             f"Connection: {conn}\r\n\r\n".encode() + BODY)
                await writer.drain()
                if self.mode == "close":
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.transport.abort()

    def close(self) -> None:
        def down() -> None:
            self.server.close()
            for task in asyncio.all_tasks(self.loop):
                task.cancel()
            self.loop.call_later(0.05, self.loop.stop)

        self.loop.call_soon_threadsafe(down)
        self.thread.join(5)


@pytest.fixture
def serve() -> Iterator:
    servers: list[Server] = []

    def start(mode: str = "ok", **kw: object) -> Server:
        servers.append(Server(mode, **kw))              # type: ignore[arg-type]
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the schedule and the result ------------------------------------------------------------

def test_open_loop_sends_its_schedule_over_the_pool_and_every_answer_is_timed(serve):
    srv = serve()
    r = loadgen.open_loop(srv.url, 100, seconds=1.0, connections=4)
    assert (r.mode, r.planned, r.sent, r.answered, r.ok, r.errors) == ("open", 100, 100, 100, 100, 0)
    assert r.clean and r.ended_by == "done"
    assert srv.connections == 4 and srv.requests == 100         # kept alive: no connection per request
    assert r.intended_s == tuple(i / 100 for i in range(100))
    assert all(s >= i for s, i in zip(r.sent_s, r.intended_s))  # never sent before it was due
    assert len(r.latency_us) == 100 and min(r.latency_us) > 0
    assert r.p50_us <= r.p90_us <= r.p99_us <= r.max_us
    assert len(r.send_lag_us) == 100 and min(r.send_lag_us) >= 0
    assert 0.5 < r.achieved_rate / 100 < 1.5
    d = json.loads(json.dumps(r.to_dict()))
    assert d["ok"] == 100 and d["percentiles"] == "nearest-rank" and len(d["answered_s"]) == 100
    assert "requests/s" in str(r) and "p99 µs" in r._repr_html_()
    assert sum(b["rate"] for b in r.timeline(0.5)) * 0.5 == 100


def test_a_stalled_server_shows_as_latency_not_as_fewer_requests(serve):
    """Coordinated omission avoided: the server stops 200 ms at request 50 of
    a 100/s run; the requests due meanwhile are still sent (late, once a
    connection is free) and their latency runs from when they were due."""
    srv = serve(stall_at=50, stall_s=0.2)
    r = loadgen.open_loop(srv.url, 100, seconds=1.5, connections=4)
    assert r.clean and r.sent == r.planned == 150
    slow = [us for us in r.latency_us if us >= 100_000]
    # due in the stall's first 100 ms: about 10 requests waited 100 ms or more
    assert 7 <= len(slow) < 75, sorted(r.latency_us)[-20:]
    assert r.max_us >= 150_000
    # the same stall under a closed loop costs one request's latency per connection only
    srv2 = serve(stall_at=50, stall_s=0.2)
    c = loadgen.closed_loop(srv2.url, 4, requests=150)
    assert c.clean and len([us for us in c.latency_us if us >= 100_000]) <= 4


def test_bursts_send_n_at_once_every_period(serve):
    srv = serve()
    r = loadgen.bursts(srv.url, 5, 0.2, 3)
    assert (r.mode, r.planned, r.ok) == ("bursts", 15, 15) and r.clean
    assert r.intended_s == tuple(b * 0.2 for b in range(3) for _ in range(5))
    assert srv.connections == 5


def test_closed_loop_keeps_each_connection_busy_and_alive(serve):
    srv = serve()
    r = loadgen.closed_loop(srv.url, 4, requests=200)
    assert (r.mode, r.sent, r.answered, r.ok, r.errors) == ("closed", 200, 200, 200, 0)
    assert srv.connections == 4
    assert math.isnan(r.target_rate) and not r.generator_behind
    s = loadgen.closed_loop(srv.url, 2, seconds=0.5)
    assert s.clean and s.answered > 0


def test_connection_close_reconnects(serve):
    srv = serve("close")
    r = loadgen.open_loop(srv.url, 50, requests=20, connections=2)
    assert r.clean and r.ok == 20 and srv.connections >= 20


def test_nearest_rank_percentiles():
    values = list(range(1, 101))
    assert [percentile(values, p) for p in (50, 90, 99, 100)] == [50, 90, 99, 100]
    assert percentile([7.0], 99) == 7.0 and math.isnan(percentile([], 50))
    assert percentile([1, 2, 3, 4], 50) == 2


def test_a_generator_behind_its_schedule_says_so():
    r = LoadResult("http://x/", "open", 5000.0, 8, 3, 3, 3, 3, {}, 1.0, "done",
                   (0.0, 0.0002, 0.0004), (0.0, 0.003, 0.005), (0.001, 0.004, 0.006),
                   (1000.0, 3800.0, 5600.0), (0.0, 2800.0, 4600.0))
    assert r.generator_behind and r.send_lag_p99_us == 4600.0
    assert any("fell behind" in n for n in r.notes())


# -- errors by kind -------------------------------------------------------------------------

@pytest.mark.parametrize("mode, kind", [("reset", "reset"), ("hangup", "closed"), ("404", "http_404")])
def test_failures_are_counted_by_kind(serve, mode, kind):
    srv = serve(mode)
    r = loadgen.open_loop(srv.url, 50, requests=10, connections=2, timeout=5)
    assert r.sent == 10 and r.errors_by_kind[kind] == 10 and r.errors == 10 and r.ok == 0
    assert r.ended_by == "done" and not r.clean
    assert kind in " ".join(r.notes())
    assert r.answered == (10 if kind == "http_404" else 0)


def test_a_refused_port_is_a_connect_error():
    r = loadgen.open_loop(f"http://127.0.0.1:{refused_port()}/", 50, requests=5, connections=2)
    assert r.errors_by_kind["connect"] == 5 and r.sent == 0 and r.ended_by == "done"


def test_a_silent_server_times_out_and_its_connections_are_replaced(serve):
    srv = serve("silent")
    r = loadgen.open_loop(srv.url, 20, requests=4, connections=2, timeout=0.3)
    assert r.errors_by_kind["timeout"] == 4 and r.answered == 0
    assert srv.connections == 4                         # each timeout closed its connection


def test_the_deadline_ends_a_run_whose_requests_never_answer(serve):
    srv = serve("silent")
    began = time.monotonic()
    r = loadgen.open_loop(srv.url, 20, seconds=30, connections=2, timeout=60, deadline=0.5)
    assert time.monotonic() - began < 15                # far beyond 0.5 s: it did not hang
    assert r.ended_by == "deadline" and r.errors_by_kind["timeout"] == 2
    assert r.sent == 2 and r.planned == 600 and "ended by deadline" in " ".join(r.notes())


# -- in the background ----------------------------------------------------------------------

def test_a_background_load_reports_progress_and_stops_at_once(serve):
    srv = serve()
    seen: list[loadgen.Progress] = []
    load = Load.open_loop(srv.url, 100, seconds=60, on_progress=seen.append)
    assert not load.running
    with load:
        assert load.running
        while load.progress().answered < 40:
            time.sleep(0.02)
        t = time.monotonic()
    assert time.monotonic() - t < 5 and not load.running
    r = load.result(timeout=5)
    assert r.ended_by == "stop" and 40 <= r.answered < r.planned == 6000
    assert len(seen) >= 2 and seen[-1].sent >= seen[0].sent and seen[-1].answered == r.answered
    assert not any(t.name == "kitlib-load" and t.is_alive() for t in threading.enumerate())


def test_an_interrupt_while_waiting_stops_the_load(serve):
    srv = serve()
    load = Load.open_loop(srv.url, 50, seconds=60).start()
    threading.Timer(0.3, _thread.interrupt_main).start()
    with pytest.raises(KeyboardInterrupt):
        load.result()
    assert not load.running and load.result(timeout=5).ended_by == "stop"


def test_progress_on_the_terminal_only_when_asked(serve, capsys):
    srv = serve()
    loadgen.open_loop(srv.url, 50, seconds=0.6)
    assert capsys.readouterr().err == ""
    loadgen.open_loop(srv.url, 50, seconds=0.6, progress=True)
    err = capsys.readouterr().err
    assert "\r" in err and "answered" in err and err.endswith("\n")


def test_bad_arguments_are_refused_before_anything_runs():
    for bad in (dict(rate=0, seconds=1), dict(rate=10), dict(rate=10, seconds=1, connections=0)):
        with pytest.raises(ValueError):
            Load.open_loop("http://127.0.0.1:1/", **bad)      # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Load.closed_loop("https://127.0.0.1/", 1, seconds=1)


# -- the guest's web server -----------------------------------------------------------------

@requires_qemu
def test_the_guest_server_under_open_and_closed_loops():
    with kitlib.VM(kitlib.build("net"), cpus=2, net=True, boot_timeout=120) as vm:
        vm.wait_ready()
        SHARED_QEMU.add(vm.pid)
        try:
            r = loadgen.open_loop(vm.url, 100, seconds=2.0)
            assert r.clean and r.ok == r.planned == 200, str(r)
            c = loadgen.closed_loop(vm.url, 4, seconds=2.0)
            assert c.errors == 0 and c.answered > 0 and c.answered == c.sent, str(c)
        finally:
            SHARED_QEMU.discard(vm.pid)


def test_kit_load_prints_the_table_and_fails_on_errors(serve, capsys, tmp_path):
    from kitlib import cli

    srv = serve()
    out = tmp_path / "load.json"
    assert cli.main(["load", srv.url, "--rate", "50", "--requests", "10", "--quiet", "--json", str(out)]) == 0
    said = capsys.readouterr()
    assert "open-loop at 50/s" in said.out and "p99 µs" in said.out and said.err == ""
    assert json.loads(out.read_text())["ok"] == 10
    assert cli.main(["load", srv.url, "--concurrency", "2", "--requests", "20", "--quiet"]) == 0
    assert "closed-loop, 2 at a time" in capsys.readouterr().out
    bad = serve("404")
    assert cli.main(["load", bad.url, "--rate", "50", "--requests", "5", "--quiet"]) == 1
    assert "http_404 5" in capsys.readouterr().out
