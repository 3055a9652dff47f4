"""Stage 'net': PCI, the virtio-net card with MSI-X, ARP, the network thread,
and the web server on port 80 over the kernel's own IPv4 and TCP.

The guest's own counters (kit_stats) judge what it did; the host reaches
the server through QEMU's user network with real clients (curl,
http.client, raw sockets).
"""

from __future__ import annotations

import http.client
import json
import re
import shutil
import socket
import subprocess
import time

import pytest

import kitlib
from kitlib import protocol
from kitlib.guest import halted_fraction

from conftest import SHARED_QEMU, requires_qemu, runnable_pct

NET_TESTS = ["arp", "pci", "pcibars", "msix", "virtqueues", "inet", "tcp"]
CARD = "pci: 00:03.0 1af4:1041 net\n"
MAC = "net: virtio-net mac 52:54:00:12:34:56, 128+128 buffers, rx on cpu 1 by MSI-X\n"


@pytest.fixture(scope="module")
def net() -> kitlib.Image:
    return kitlib.build("net")


@pytest.fixture(scope="module")
def selftest_console(net) -> tuple[int, str]:
    """The self-tests of a two-CPU VM with the card: exit status and console."""
    with kitlib.VM(net, cpus=2, append="test", net=True, boot_timeout=120) as vm:
        status = vm.wait_exit(timeout=120)
        return status, vm.console


@requires_qemu
def test_the_device_list_has_one_line_a_function_and_names_the_card(selftest_console):
    _, console = selftest_console
    lines = [line for line in console.splitlines() if line.startswith("pci: ")]
    assert lines[0] == "pci: 00:00.0 8086:1237 host-bridge", lines
    assert CARD in console and MAC in console, console


@requires_qemu
def test_the_self_tests_pass_with_the_card(selftest_console):
    status, console = selftest_console
    for name in NET_TESTS:
        assert f"\n{name}: OK\n" in console, console[-2000:]
    assert protocol.TESTS_PASSED in console and status == 33, console[-2000:]


@requires_qemu
def test_the_stage_boots_without_a_card_and_says_so(net):
    with kitlib.VM(net, cpus=2, append="idle=hlt") as vm:
        vm.wait_ready(timeout=60)
        assert vm.host_port is None
        assert "net: no virtio-net device\n" in vm.console
        assert "1af4:1041" not in vm.console
        assert not re.search(r"^pci: .* net$", vm.console, re.M), "a network card the VM was not given"


@requires_qemu
def test_the_self_tests_fail_without_a_card(net):
    with kitlib.VM(net, cpus=1, append="test", boot_timeout=120) as vm:
        with pytest.raises(kitlib.GuestPanic):
            vm.wait_exit(timeout=120)
        assert "pci: FAIL no virtio-net device" in vm.console, vm.console[-1000:]


def wait_for(vm: kitlib.VM, done, seconds: float) -> kitlib.StatsSnapshot:
    """The first stats snapshot for which done(snapshot) holds, or the last one."""
    end = time.monotonic() + seconds
    while True:
        s = vm.stats()
        if done(s) or time.monotonic() > end:
            return s
        time.sleep(0.1)


@requires_qemu
def test_a_connection_brings_frames_in_and_the_thread_answers(net):
    """A TCP connect to the forwarded port: QEMU's user network sends the guest its SYN.

    The guest announced 10.0.2.15 with a gratuitous ARP at start, and
    answers ARP requests for it; its SYN-ACK completes the handshake, and
    the connection is gone once the client closes.  The frame arrives by
    MSI-X on cpu 1, which wakes the network thread from its wait.
    """
    with kitlib.VM(net, cpus=2, append="idle=hlt", net=True, boot_timeout=60) as vm:
        vm.wait_ready(timeout=60)
        before = wait_for(vm, lambda s: s.cpus[1]["net_tx_packets"] >= 1, 10)
        assert before.cpus[1]["net_tx_packets"] >= 1, "no gratuitous ARP was sent"
        assert before.cpus[1]["net_rx_ipv4"] == 0
        with socket.create_connection(("127.0.0.1", vm.host_port), timeout=5):
            after = wait_for(vm, lambda s: s.cpus[1]["net_tcp_accepts"] >= 1, 10)
        c = after.cpus[1]
        assert c["net_rx_ipv4"] >= 2 and c["net_rx_packets"] >= c["net_rx_ipv4"], c
        assert c["net_tcp_accepts"] == 1 and c["net_conns_now"] == 1, c
        assert c["net_tx_packets"] == c["net_arp_replies"] + 2, c   # the announcement, the replies, the SYN-ACK
        assert c["net_irqs"] >= 1 and c["net_wakeups"] >= 1, c
        assert c["net_tx_drops"] == 0 and c["net_tcp_bad"] == 0 and c["net_ipv4_bad"] == 0, c
        assert all(cpu["net_rx_packets"] == 0 for cpu in after.cpus[:1]), "frames taken off the network core"
        gone = wait_for(vm, lambda s: s.cpus[1]["net_conns_now"] == 0, 10)
        assert gone.cpus[1]["net_conns_now"] == 0 and gone.cpus[1]["net_bufs_now"] == 0, gone.cpus[1]


@requires_qemu
def test_an_idle_network_core_halts(net):
    """idle=hlt, nothing arriving: the network thread waits, and its core stays halted."""
    with kitlib.VM(net, cpus=2, append="idle=hlt", net=True, boot_timeout=60) as vm:
        vm.wait_ready(timeout=60)
        time.sleep(1.0)
        q0 = vm.stats()
        runnable = runnable_pct(vm, 2.0)
        q1 = vm.stats()
        ready = vm.ready_time
    assert q1.cpus[1]["halts"] > 0, "the network core never halted"
    assert q1.cpus[1]["net_wakeups"] - q0.cpus[1]["net_wakeups"] <= 4, "the quiet thread kept waking"
    assert halted_fraction(q0, q1, ready)[1] > 0.8, "the quiet network core should be halted"
    assert runnable[1] < 30, f"the host saw the network core's vCPU runnable {runnable[1]:.0f} % of the time"


# The web server, one VM for all of these tests.

@pytest.fixture(scope="module")
def web(net):
    with kitlib.VM(net, cpus=2, append="idle=hlt", net=True, boot_timeout=60) as vm:
        vm.wait_ready(timeout=60)
        SHARED_QEMU.add(vm.pid)
        try:
            yield vm
        finally:
            SHARED_QEMU.discard(vm.pid)


def netcpu(vm: kitlib.VM) -> dict[str, int]:
    """The network core's counters now."""
    return vm.stats().cpus[-1]


def curl(vm: kitlib.VM, *args: str) -> subprocess.CompletedProcess:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    r = subprocess.run(["curl", "-s", "-S", "-i", "--http1.1", "--max-time", "20", *args],
                       capture_output=True, timeout=30)
    return subprocess.CompletedProcess(r.args, r.returncode, r.stdout.decode(), r.stderr.decode())


def split(response: str) -> tuple[str, dict[str, str], str]:
    """Status line, headers (lower-case names) and body of a response as curl -i shows it."""
    head, _, body = response.partition("\r\n\r\n")
    status, *lines = head.split("\r\n")
    return status, {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}, body


@requires_qemu
def test_curl_gets_the_page(web):
    r = curl(web, f"http://127.0.0.1:{web.host_port}/")
    assert r.returncode == 0, r.stderr
    status, headers, body = split(r.stdout)
    assert status == "HTTP/1.1 200 OK", r.stdout
    assert headers["content-type"] == "text/html" and int(headers["content-length"]) == len(body.encode())
    assert "idlekit" in body and 'href="/stats"' in body


@requires_qemu
def test_curl_gets_the_stats_as_json_with_every_cpu_and_the_tcp_levels(web):
    r = curl(web, f"http://127.0.0.1:{web.host_port}/stats")
    assert r.returncode == 0, r.stderr
    status, headers, body = split(r.stdout)
    assert status == "HTTP/1.1 200 OK" and headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(body.encode())
    doc = json.loads(body)
    assert doc["ncpu"] == 2 and len(doc["cpus"]) == 2
    snap = web.stats()
    assert list(doc["cpus"][1]) == list(snap.fields)
    assert doc["cpus"][1]["net_http_requests"] >= 1, "the request that asked was not counted"
    assert doc["tcp"]["open"] >= 1 and doc["tcp"]["bufs"] >= 0


@requires_qemu
def test_head_404_and_405(web):
    port = web.host_port
    head = curl(web, "-I", f"http://127.0.0.1:{port}/")
    get = curl(web, f"http://127.0.0.1:{port}/")
    hs, hh, hb = split(head.stdout)
    gs, gh, _ = split(get.stdout)
    assert hs == gs == "HTTP/1.1 200 OK" and hh == gh and hb == "", head.stdout
    status, _, body = split(curl(web, f"http://127.0.0.1:{port}/nowhere").stdout)
    assert status == "HTTP/1.1 404 Not Found" and body == "404 Not Found\n"
    status, headers, _ = split(curl(web, "-X", "POST", "-d", "x=1", f"http://127.0.0.1:{port}/").stdout)
    assert status == "HTTP/1.1 405 Method Not Allowed" and headers["allow"] == "GET, HEAD"


@requires_qemu
def test_keep_alive_serves_200_requests_on_one_connection(web):
    before = netcpu(web)
    conn = http.client.HTTPConnection("127.0.0.1", web.host_port, timeout=20)
    try:
        for i in range(200):
            conn.request("GET", "/" if i % 2 else "/?n=%d" % i)
            r = conn.getresponse()
            body = r.read()
            assert r.status == 200 and r.getheader("Connection") == "keep-alive" and b"idlekit" in body
    finally:
        conn.close()
    after = netcpu(web)
    assert after["net_tcp_accepts"] - before["net_tcp_accepts"] == 1, "more than one connection"
    assert after["net_http_2xx"] - before["net_http_2xx"] == 200
    assert after["net_tcp_retransmits"] == before["net_tcp_retransmits"], "segments were sent again"


@requires_qemu
def test_connection_close_is_answered_then_closed_by_the_server(web):
    with socket.create_connection(("127.0.0.1", web.host_port), timeout=20) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: kit\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):          # ends when the server's FIN arrives
            data += chunk
    status, headers, body = split(data.decode())
    assert status == "HTTP/1.1 200 OK" and headers["connection"] == "close"
    assert len(body.encode()) == int(headers["content-length"])


@requires_qemu
def test_requests_split_across_segments_and_pipelined_are_each_answered(web):
    req = b"GET / HTTP/1.1\r\nHost: kit\r\n\r\n"
    with socket.create_connection(("127.0.0.1", web.host_port), timeout=20) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for piece in (req[:5], req[5:20], req[20:]):        # one request in three segments
            s.sendall(piece)
            time.sleep(0.05)
        s.sendall(req * 3 + b"HEAD /stats HTTP/1.1\r\nHost: kit\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert data.count(b"HTTP/1.1 200 OK\r\n") == 5, data[:300]
    assert data.endswith(b"Connection: close\r\n\r\n"), data[-200:]


@requires_qemu
def test_the_levels_return_to_idle(web):
    """After the tests above: no connection open, none in TIME-WAIT, every buffer back."""
    c = wait_for(web, lambda s: s.cpus[-1]["net_conns_now"] == 0, 15).cpus[-1]
    assert c["net_conns_now"] == 0 and c["net_timewait_now"] == 0 and c["net_bufs_now"] == 0, c
    assert c["net_http_requests"] >= 200 and c["net_tcp_bad"] == 0 and c["net_ipv4_bad"] == 0, c
