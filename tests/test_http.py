"""Stage net's web server under real HTTP clients: curl, Python's http.client,
ab and wrk, thousands of requests over kept-alive and fresh connections, 128
connections at once, and a barrage of malformed and abandoned requests
through raw sockets.

Each claim is judged by what the clients got (status, body, errors by kind)
and by the guest's own counters and levels (kit_stats, read from guest RAM):
after the load, and once the server's idle timeout and TIME-WAIT have run
out, its open connections and send buffers in use are back where they were
before, whatever the host's load did to the timing.

Segments with a bad IPv4 or TCP checksum cannot be sent through QEMU's user
network (slirp builds every segment the guest receives from its own
sockets), so no test here forges one: the host unit tests of the parsers
(ipv4_parse, tcp_parse) cover the verdicts, and the guest counts such drops
in net_ipv4_bad and net_tcp_bad, which /stats shows.

slirp listens on the forwarded port with a backlog of 1, so a burst of fresh
connections sees SYNs retried after about a second: a latency, never an
error, and no test bounds a time.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

import kitlib
from kitlib import httpload

from conftest import SHARED_QEMU, qemu_pids, requires_qemu

pytestmark = requires_qemu

IDLE_WAIT_S = 60.0          # the server's idle timeout is ~10 s, TIME-WAIT ~1 s: generous on a busy host
LEVELS = ("net_conns_now", "net_bufs_now")

# -- two VMs shared by the module's tests (conftest's leak check lets their
#    pids live until the module ends, when every QEMU must be gone)

@pytest.fixture(scope="module", autouse=True)
def no_qemu_after_the_module():
    yield
    prefix = f"kit-{os.getpid()}-"
    deadline = time.monotonic() + 5.0
    while qemu_pids(prefix) and time.monotonic() < deadline:
        time.sleep(0.05)
    leaked = qemu_pids(prefix)
    for pid in leaked:
        os.kill(pid, signal.SIGKILL)
    assert not leaked, f"QEMU processes left running after the module: {leaked}"


def _serve(image: kitlib.Image) -> Iterator[kitlib.VM]:
    with kitlib.VM(image, cpus=2, append="idle=hlt", net=True, boot_timeout=120) as vm:
        vm.wait_ready()
        SHARED_QEMU.add(vm.pid)
        try:
            yield vm
        finally:
            SHARED_QEMU.discard(vm.pid)


@pytest.fixture(scope="module")
def net() -> kitlib.Image:
    return kitlib.build("net")


@pytest.fixture(scope="module")
def server(net) -> Iterator[kitlib.VM]:
    """The VM the well-behaved clients load."""
    yield from _serve(net)


@pytest.fixture(scope="module")
def victim(net) -> Iterator[kitlib.VM]:
    """The VM that gets the malformed and abandoned requests, its counters its own."""
    yield from _serve(net)


# -- the guest's view

def total(snap: kitlib.StatsSnapshot, name: str) -> int:
    """A counter or level summed over the CPUs (the network thread's CPU owns it)."""
    return sum(cpu[name] for cpu in snap.cpus)


def moved(a: kitlib.StatsSnapshot, b: kitlib.StatsSnapshot, *names: str) -> dict[str, int]:
    return {n: total(b, n) - total(a, n) for n in names}


def levels(snap: kitlib.StatsSnapshot) -> dict[str, int]:
    return {n: total(snap, n) for n in LEVELS}


def wait_idle(vm: kitlib.VM, seconds: float = IDLE_WAIT_S) -> kitlib.StatsSnapshot:
    """The first snapshot with no connection open and no send buffer in use, or the last one."""
    end = time.monotonic() + seconds
    while True:
        s = vm.stats()
        if not any(levels(s).values()) or time.monotonic() > end:
            return s
        time.sleep(0.2)


def assert_idle(vm: kitlib.VM) -> kitlib.StatsSnapshot:
    s = wait_idle(vm)
    assert levels(s) == {n: 0 for n in LEVELS}, (
        f"{IDLE_WAIT_S:g} s after the clients finished, the guest still has {levels(s)} "
        f"({total(s, 'net_timewait_now')} in TIME-WAIT)")
    return s


# -- clients

def curl(url: str) -> tuple[str, dict[str, str], bytes]:
    """``curl -sS --http1.1 -D -``: the status line, the headers (names in lower case), the body."""
    done = subprocess.run(["curl", "-sS", "--http1.1", "--max-time", "30", "-D", "-", url],
                          capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    head, _, body = done.stdout.partition(b"\r\n\r\n")
    status, *lines = head.decode().split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return status, headers, body


def get(vm: kitlib.VM, path: str = "/") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", vm.host_port, timeout=30)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def exchange(vm: kitlib.VM, data: bytes, wait_s: float = 30.0) -> tuple[bytes, bool]:
    """Send ``data`` on a fresh connection; what came back, and whether the server then closed."""
    with socket.create_connection(("127.0.0.1", vm.host_port), timeout=wait_s) as s:
        s.sendall(data)
        return _read_until_close(s, wait_s)


def _read_until_close(s: socket.socket, wait_s: float) -> tuple[bytes, bool]:
    got = b""
    s.settimeout(wait_s)
    try:
        while chunk := s.recv(65536):
            got += chunk
    except socket.timeout:
        return got, False
    except ConnectionResetError:
        pass
    return got, True


def status_of(reply: bytes) -> int | None:
    line = reply.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) >= 2 and line[0].startswith(b"HTTP/1.") and line[1].isdigit() else None


@pytest.fixture(scope="module")
def page(server) -> bytes:
    """GET / as a plain HTTP/1.0 socket reads it: the page every client must get."""
    reply, closed = exchange(server, b"GET / HTTP/1.0\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert status_of(reply) == 200 and closed, reply[:300]
    assert f"Content-Length: {len(body)}\r\n".encode() in head + b"\r\n", head
    assert b"Connection: close" in head, head          # 1.0 without keep-alive: closed after
    assert body.lstrip().lower().startswith(b"<!doctype html>") and b'href="/stats"' in body, body
    return body


# -- every client gets the right answers

def test_the_vm_has_a_url_and_curl_gets_the_page_there(server, page):
    assert server.url == f"http://127.0.0.1:{server.host_port}/"
    status, headers, body = curl(server.url)
    assert status == "HTTP/1.1 200 OK", status
    assert body == page
    assert headers["content-length"] == str(len(page)) and headers["connection"] == "keep-alive", headers
    assert headers["content-type"].startswith("text/html"), headers


def test_curl_gets_the_stats_block_as_json_with_every_counter(server):
    before = server.stats()
    status, headers, body = curl(server.url + "stats")
    after = server.stats()
    assert status == "HTTP/1.1 200 OK" and headers["content-length"] == str(len(body)), (status, headers)
    stats = json.loads(body)
    assert len(stats["cpus"]) == 2
    fields = set(after.cpus[0])
    for cpu in stats["cpus"]:
        assert fields <= set(cpu), sorted(fields - set(cpu))
    served = sum(cpu["net_http_requests"] for cpu in stats["cpus"])
    # the JSON was written while this request was being answered: it counts what came before
    assert total(before, "net_http_requests") <= served <= total(after, "net_http_requests"), served
    assert sum(cpu["net_conns_now"] for cpu in stats["cpus"]) >= 1      # this very connection


def test_http_client_keeps_one_connection_alive_for_two_hundred_requests(server, page):
    before = server.stats()
    conn = http.client.HTTPConnection("127.0.0.1", server.host_port, timeout=30)
    conn.connect()
    first = conn.sock
    try:
        for i in range(200):
            path = "/stats" if i % 10 == 9 else "/"
            conn.request("GET", path)
            r = conn.getresponse()
            body = r.read()
            assert r.status == 200 and r.getheader("Connection") == "keep-alive", (i, r.status, r.headers)
            if path == "/":
                assert body == page, i
            else:
                assert json.loads(body)["cpus"], i
            assert conn.sock is first, f"request {i} needed a new connection"
        conn.request("HEAD", "/")
        r = conn.getresponse()
        assert r.status == 200 and r.read() == b"" and r.getheader("Content-Length") == str(len(page))
        conn.request("GET", "/nonesuch")
        r = conn.getresponse()
        assert r.status == 404 and len(r.read()) == int(r.getheader("Content-Length")), r.headers
    finally:
        conn.close()
    after = server.stats()
    d = moved(before, after, "net_tcp_accepts", "net_http_requests", "net_http_2xx", "net_http_4xx")
    assert d == {"net_tcp_accepts": 1, "net_http_requests": 202, "net_http_2xx": 201, "net_http_4xx": 1}, d


def test_ab_and_wrk_get_the_page(server, page):
    a = httpload.ab(server.url, requests=20, concurrency=2)
    assert a.ok and a.complete == 20 and a.keepalive == 20, a.output
    assert f"Document Length:        {len(page)} bytes" in a.output, a.output
    w = httpload.wrk(server.url, connections=2, seconds=1)
    assert w.ok, w.output


# -- load: thousands of requests, then back to idle

def test_ten_thousand_requests_over_kept_alive_connections(server):
    before = server.stats()
    r = httpload.ab(server.url, requests=10_000, concurrency=8, keepalive=True)
    assert r.complete == 10_000 and r.ok, (r, r.output[-1500:])
    assert r.keepalive == 10_000, r
    after = assert_idle(server)
    d = moved(before, after, "net_http_requests", "net_http_2xx", "net_tcp_accepts", "net_tcp_aborts")
    assert d["net_http_requests"] == d["net_http_2xx"] == 10_000, d
    assert d["net_tcp_accepts"] <= 8 * 2 and d["net_tcp_aborts"] == 0, d


def test_a_thousand_requests_over_fresh_connections(server):
    before = server.stats()
    r = httpload.ab(server.url, requests=1_000, concurrency=4, keepalive=False)
    assert r.complete == 1_000 and r.ok and r.keepalive == 0, (r, r.output[-1500:])
    after = assert_idle(server)
    d = moved(before, after, "net_http_requests", "net_http_2xx", "net_tcp_accepts", "net_tcp_aborts")
    assert d["net_http_requests"] == d["net_http_2xx"] == 1_000, d
    assert 1_000 <= d["net_tcp_accepts"] <= 1_000 + 4 and d["net_tcp_aborts"] == 0, d   # ab may open a spare


def read_responses(s: socket.socket, count: int, wait_s: float = 60.0) -> list[tuple[int, dict[str, str], bytes]]:
    """Read ``count`` whole responses (framed by Content-Length) from ``s``:
    (status, headers with lower-case names, body) each."""
    s.settimeout(wait_s)
    got, out = b"", []
    while len(out) < count:
        end = got.find(b"\r\n\r\n")
        if end >= 0:
            status, *lines = got[:end].decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
            length = int(headers["content-length"])
            if len(got) >= end + 4 + length:
                out.append((int(status.split()[1]), headers, got[end + 4:end + 4 + length]))
                got = got[end + 4 + length:]
                continue
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {len(out)} of {count} responses: {got[:200]!r}")
        got += chunk
    return out


def test_128_connections_open_at_once_each_answered(server, page):
    """128 connections, opened one after another (slirp accepts with a backlog
    of 1: a burst would wait in the host's queue, not in the guest), each
    answered and kept alive, so that the guest holds all 128 at one time; then
    every one sends a request at once, and every one is answered."""
    n = 128
    socks: list[socket.socket] = []
    try:
        for i in range(n):
            s = socket.create_connection(("127.0.0.1", server.host_port), timeout=60)
            socks.append(s)
            s.sendall(GOOD)
            [(status, headers, body)] = read_responses(s, 1)
            assert status == 200 and body == page and headers["connection"] == "keep-alive", (i, headers)
        held = levels(server.stats())
        assert held["net_conns_now"] >= n, held
        errors: list[BaseException] = []

        def again(s: socket.socket) -> None:
            try:
                s.sendall(GOOD)
                [(status, _, body)] = read_responses(s, 1)
                assert status == 200 and body == page, status
            except (OSError, AssertionError) as e:
                errors.append(e)

        threads = [threading.Thread(target=again, args=(s,)) for s in socks]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, (len(errors), errors[:3])
    finally:
        for s in socks:
            s.close()
    assert_idle(server)


def test_wrk_over_128_connections_without_an_error(server):
    before = server.stats()
    r = httpload.wrk(server.url, connections=128, threads=2, seconds=3, timeout_s=10)
    assert r.ok and r.requests > 128, (r.errors_by_kind, r.output)
    after = assert_idle(server)
    d = moved(before, after, "net_tcp_refused", "net_tcp_aborts", "net_http_4xx", "net_http_5xx")
    assert d == {"net_tcp_refused": 0, "net_tcp_aborts": 0, "net_http_4xx": 0, "net_http_5xx": 0}, d


# -- malformed and abandoned requests

GOOD = b"GET / HTTP/1.1\r\nHost: kit\r\n\r\n"
BAD = {
    "a bad request line": (b"GARBAGE\r\n\r\n", 400),
    "no version, as HTTP/0.9 asked": (b"GET /\r\n\r\n", 505),
    "a lower-case version": (b"GET / http/1.1\r\nHost: kit\r\n\r\n", 400),
    "a space before a header's colon": (b"GET / HTTP/1.1\r\nHost : kit\r\n\r\n", 400),
    "a huge header": (b"GET / HTTP/1.1\r\nHost: kit\r\nX-Big: " + b"a" * 6000 + b"\r\n\r\n", 431),
    "a long target": (b"GET /" + b"x" * 2000 + b" HTTP/1.1\r\nHost: kit\r\n\r\n", 414),
    "a Content-Length that is no number": (b"GET / HTTP/1.1\r\nHost: kit\r\nContent-Length: abc\r\n\r\n", 400),
    "two Content-Lengths that differ":
        (b"GET / HTTP/1.1\r\nHost: kit\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 400),
    "a Transfer-Encoding": (b"POST / HTTP/1.1\r\nHost: kit\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    "a body too large": (b"POST / HTTP/1.1\r\nHost: kit\r\nContent-Length: 999999\r\n\r\n", 413),
    "HTTP/2.0": (b"GET / HTTP/2.0\r\nHost: kit\r\n\r\n", 505),
    "binary junk": (bytes(range(256)) * 4 + b"\r\n\r\n", 400),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_malformed_request_gets_its_status_then_a_close(victim, case):
    data, want = BAD[case]
    reply, closed = exchange(victim, data)
    assert status_of(reply) == want and b"Connection: close" in reply and closed, (want, reply[:300])
    head, _, body = reply.partition(b"\r\n\r\n")
    assert f"Content-Length: {len(body)}\r\n".encode() in head + b"\r\n", reply[:300]
    assert status_of(exchange(victim, b"GET / HTTP/1.0\r\n\r\n")[0]) == 200, "the next good request failed"


def test_a_post_with_a_body_is_405_and_the_connection_goes_on(victim):
    with socket.create_connection(("127.0.0.1", victim.host_port), timeout=30) as s:
        s.sendall(b"POST /form HTTP/1.1\r\nHost: kit\r\nContent-Length: 11\r\n\r\nhello=world" + GOOD)
        (first, h1, _), (second, h2, body) = read_responses(s, 2)
    assert first == 405 and h1["allow"] == "GET, HEAD" and h1["connection"] == "keep-alive", h1
    assert second == 200 and h2["connection"] == "keep-alive" and body.lower().startswith(b"<!doctype html>")


def test_half_open_and_vanished_clients_are_freed_and_counted(victim):
    """Connect and send nothing; send half a request and stop; send half and
    vanish with an RST (SO_LINGER 0).  Good requests on fresh connections
    meanwhile succeed; the server closes the silent ones after its idle
    timeout, and everything it held returns."""
    before = victim.stats()
    silent = socket.create_connection(("127.0.0.1", victim.host_port), timeout=30)
    half = socket.create_connection(("127.0.0.1", victim.host_port), timeout=30)
    half.sendall(b"GET / HT")
    gone = socket.create_connection(("127.0.0.1", victim.host_port), timeout=30)
    gone.sendall(b"GET / HTTP/1.1\r\nHo")
    time.sleep(0.5)
    gone.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    gone.close()                                        # an RST, not a FIN
    try:
        for _ in range(3):
            assert status_of(exchange(victim, GOOD + b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")[0]) == 200
        for s in (silent, half):
            reply, closed = _read_until_close(s, IDLE_WAIT_S)
            assert closed, "the server never closed a silent connection"
            assert status_of(reply) in (None, 408), reply[:200]
    finally:
        silent.close()
        half.close()
    after = assert_idle(victim)
    d = moved(before, after, "net_tcp_idle_closes", "net_tcp_resets")
    assert d["net_tcp_idle_closes"] >= 2, d
    assert d["net_tcp_resets"] >= 1, d


def test_the_error_counters_moved_by_the_barrage_and_levels_are_idle(victim):
    """Runs after the barrage above (pytest keeps the file's order)."""
    s = assert_idle(victim)
    want_4xx = sum(1 for _, status in BAD.values() if 400 <= status < 500) + 1     # and the 405
    assert total(s, "net_http_4xx") >= want_4xx, total(s, "net_http_4xx")
    assert total(s, "net_http_5xx") >= sum(1 for _, status in BAD.values() if status >= 500)
    assert total(s, "net_tcp_refused") == 0 and total(s, "net_tcp_bad") == 0 and total(s, "net_ipv4_bad") == 0
    # every malformed request was answered on its own connection, and the good ones after it
    assert total(s, "net_http_requests") >= 2 * len(BAD)
