"""The Linux peer: built from Debian's packages, booted on the kit VM's network,
serving its page to real HTTP clients, and gone when it is stopped.

The first build downloads about 28 MB into build/peer/debs/ (where the
packages cannot be had, every test here skips with PeerUnavailable's
message); later builds reuse them.  The server's own logic (pipelining,
partial reads, when it closes) is checked on the host first, where no guest
is needed: it is the same static binary the initramfs holds.

Claims are judged by what the clients got (statuses, bodies, one socket for
many requests, wrk's error counts) and by QEMU being gone, never by a time.
"""

from __future__ import annotations

import gzip
import http.client
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kitlib import httpload
from kitlib.errors import GuestPanic, KitError, PeerUnavailable
from kitlib.peer import PANICS, READY, PeerImage, PeerVM, _cpio, build_peer
from kitlib.process import Console

from conftest import SHARED_QEMU, qemu_pids, requires_qemu

PAGE_MARK = b"<h1>Linux peer</h1>"


@pytest.fixture(scope="module")
def peer() -> PeerImage:
    try:
        return build_peer()
    except PeerUnavailable as e:
        pytest.skip(str(e))


# -- the build, without QEMU

def _read_cpio(data: bytes) -> dict[str, tuple[int, int, bytes]]:
    """name -> (mode, rdev major, data) of a newc archive, checking its padding."""
    entries: dict[str, tuple[int, int, bytes]] = {}
    at = 0
    while True:
        assert data[at:at + 6] == b"070701", f"no newc magic at {at}"
        f = [int(data[at + 6 + 8 * i: at + 14 + 8 * i], 16) for i in range(13)]
        mode, size, rmajor, namesize = f[1], f[6], f[9], f[11]
        name = data[at + 110: at + 110 + namesize - 1].decode()
        assert data[at + 110 + namesize - 1] == 0
        at += 110 + namesize
        at += -at % 4
        body = data[at: at + size]
        at += size
        at += -at % 4
        if name == "TRAILER!!!":
            assert at == len(data)
            return entries
        entries[name] = (mode, rmajor, body)


def test_cpio_entries_are_padded_to_four_bytes_and_end_with_the_trailer():
    archive = _cpio(["bin"], [("dev/console", 5, 1)], [("init", 0o100755, b"abc"), ("e", 0o100644, b"")])
    got = _read_cpio(archive)
    assert got["bin"][0] == 0o040755
    assert got["dev/console"][:2] == (0o020600, 5)
    assert got["init"] == (0o100755, 0, b"abc") and got["e"][2] == b""


def test_the_initramfs_holds_init_busybox_httpd_and_the_cards_modules_in_order(peer):
    files = _read_cpio(gzip.decompress(peer.initrd.read_bytes()))
    for name in ("init", "bin/busybox", "bin/httpd", "dev/console", "etc/modules"):
        assert name in files, sorted(files)
    assert files["init"][2] == (Path(__file__).parents[1] / "peer" / "init").read_bytes()
    order = files["etc/modules"][2].decode().split()
    assert order == list(peer.modules)
    for m in order:
        assert files[f"lib/modules/{m}.ko"][2][:4] == b"\x7fELF", m       # insmod takes plain ELF
    # each module after those it needs (their .modinfo depends=)
    for first, then in (("virtio_ring", "virtio"), ("virtio", "virtio_pci"), ("virtio", "virtio_net"),
                        ("failover", "net_failover"), ("net_failover", "virtio_net")):
        if first in order and then in order:
            assert order.index(first) < order.index(then), order
    assert "virtio_net" in order or peer.modules == (), "the card's driver is neither loaded nor built in"


def test_a_second_build_is_the_cached_one(peer):
    again = build_peer()
    assert not again.rebuilt and not again.downloaded
    assert (again.kernel, again.initrd, again.version) == (peer.kernel, peer.initrd, peer.version)


def test_a_peer_panic_line_or_a_kernel_panic_is_a_panic():
    for line, reason in ((b"peer: panic insmod virtio_net\n", "insmod virtio_net"),
                         (b"[ 1.0] Kernel panic - not syncing: Attempted to kill init!\n", "Attempted to kill init!")):
        c = Console(echo=False, ready=READY, panics=PANICS)
        c.feed(line, 1.0)
        assert c.panic == reason
    c = Console(echo=False, ready=READY, panics=PANICS)
    c.feed(b"kit: ready\npeer: ready\n", 2.0)
    assert c.ready_time == 2.0 and c.panic is None


def test_a_peer_vm_boots_only_a_peer_image(boot_image):
    with pytest.raises(KitError, match="PeerVM boots the Linux peer"):
        PeerVM(boot_image)


# -- the server on the host: the same static binary

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def local(peer) -> Iterator[int]:
    port = _free_port()
    proc = subprocess.Popen([str(peer.initrd.parent / "httpd"), "-f", "-p", str(port)])
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.02)
        yield port
    finally:
        proc.kill()
        proc.wait()


def _exchange(port: int, data: bytes, *, byte_by_byte: bool = False) -> bytes:
    """Send ``data`` and read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        if byte_by_byte:
            for i in range(len(data)):
                s.sendall(data[i:i + 1])
        else:
            s.sendall(data)
        got = b""
        while chunk := s.recv(65536):
            got += chunk
        return got


def test_pipelined_requests_split_anywhere_are_answered_in_order(local):
    reqs = (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
            b"GET /nope HTTP/1.1\r\n\r\n"
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
            b"HEAD / HTTP/1.1\r\n\r\n"
            b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
    for split in (False, True):
        got = _exchange(local, reqs, byte_by_byte=split)
        assert re.findall(rb"HTTP/1.1 (\d+)", got) == [b"200", b"404", b"405", b"200", b"200"], got
        assert got.count(b"Connection: keep-alive") == 4 and got.count(b"Connection: close") == 1
        assert got.count(PAGE_MARK) == 2                # HEAD has no body


def test_thousands_pipelined_at_once_are_all_answered(local):
    got = _exchange(local, b"GET / HTTP/1.1\r\n\r\n" * 3000 + b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert got.count(b"HTTP/1.1 200 OK") == 3001


def test_http_1_0_closes_unless_asked_to_keep_alive(local):
    got = _exchange(local, b"GET / HTTP/1.0\r\n\r\n")
    assert b"Connection: close" in got and got.count(b"HTTP/1.1 200") == 1
    got = _exchange(local, b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /x HTTP/1.0\r\n\r\n")
    assert re.findall(rb"HTTP/1.1 (\d+)", got) == [b"200", b"404"]


def test_requests_it_will_not_take_are_refused_and_closed(local):
    assert _exchange(local, b"GET / HTTP/2.0\r\n\r\n").startswith(b"HTTP/1.1 505 ")
    assert _exchange(local, b"nonsense\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert _exchange(local, b"POST / HTTP/1.1\r\nContent-Length: 99999\r\n\r\n").startswith(b"HTTP/1.1 413 ")


# -- the peer in QEMU

@pytest.fixture(scope="module")
def served(peer) -> Iterator[PeerVM]:
    with PeerVM(peer, cpus=2) as vm:
        vm.wait_ready()
        SHARED_QEMU.add(vm.pid)
        try:
            yield vm
        finally:
            SHARED_QEMU.discard(vm.pid)
    assert not qemu_pids(f"kit-{os.getpid()}-"), "the peer's QEMU is still running after it was stopped"


@requires_qemu
def test_the_peer_boots_on_two_cpus_with_the_same_network_card(served):
    argv = served.argv
    assert "-initrd" in argv and "-kernel" in argv and argv[argv.index("-smp") + 1] == "2"
    assert any(a.startswith("virtio-net-pci,netdev=n0,disable-legacy=on") for a in argv)
    assert any(a.startswith("user,id=n0,ipv6=off,hostfwd=tcp:127.0.0.1:") for a in argv)
    assert sorted(served.vcpu_threads()) == [0, 1]
    assert READY in served.console


@requires_qemu
def test_get_slash_is_the_page(served):
    conn = http.client.HTTPConnection("127.0.0.1", served.host_port, timeout=30)
    try:
        conn.request("GET", "/")
        r = conn.getresponse()
        body = r.read()
    finally:
        conn.close()
    assert r.status == 200 and r.getheader("Content-Type") == "text/html"
    assert int(r.getheader("Content-Length")) == len(body) and PAGE_MARK in body


@requires_qemu
def test_a_hundred_requests_on_one_kept_alive_connection(served):
    conn = http.client.HTTPConnection("127.0.0.1", served.host_port, timeout=30)
    try:
        conn.connect()
        sock = conn.sock
        for _ in range(100):
            conn.request("GET", "/")
            r = conn.getresponse()
            assert r.status == 200 and PAGE_MARK in r.read()
            assert r.getheader("Connection") == "keep-alive"
            assert conn.sock is sock                    # never reopened
    finally:
        conn.close()


@requires_qemu
def test_wrk_at_16_connections_sees_no_error(served):
    result = httpload.wrk(served.url, connections=16, threads=2, seconds=2, timeout_s=10)
    assert result.ok, result.output
    assert result.requests > 100, result.output


@requires_qemu
def test_the_peer_clocks_by_the_tsc_not_the_hpet(peer):
    """BASE_APPEND's tsc=reliable: without it Linux takes TCG's vCPUs for
    unsynchronised and reads the emulated HPET for every time stamp, which
    costs the peer about half its requests per second at one connection."""
    with PeerVM(peer, cpus=2, append="loglevel=7") as vm:    # the kernel's info lines too
        vm.wait_ready()
        log = vm.console
    assert re.search(r"clocksource: Switched to clocksource tsc", log), log[-2000:]
    assert "Marking TSC unstable" not in log


@requires_qemu
def test_a_stopped_peer_leaves_no_qemu(peer):
    with PeerVM(peer, cpus=1) as vm:
        vm.wait_ready()
        pid = vm.pid
    assert not vm.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@requires_qemu
def test_a_failing_init_is_a_guest_panic_with_its_reason(peer, tmp_path):
    """An initramfs whose /init fails: the VM ends with GuestPanic naming the step,
    not a timeout (the /init here is the peer's own, with a module that is not there)."""
    files = _read_cpio(gzip.decompress(peer.initrd.read_bytes()))
    entries = [(n, m, d) for n, (m, _, d) in files.items() if m & 0o170000 == 0o100000]
    entries = [(n, m, b"nonesuch\n" if n == "etc/modules" else d) for n, m, d in entries]
    dirs = [n for n, (m, _, _) in files.items() if m & 0o170000 == 0o040000]
    broken = tmp_path / "broken.cpio.gz"
    broken.write_bytes(gzip.compress(_cpio(dirs, [("dev/console", 5, 1)], entries), mtime=0))
    image = PeerImage(kernel=peer.kernel, initrd=broken, version=peer.version, modules=("nonesuch",))
    with PeerVM(image, cpus=1) as vm:
        with pytest.raises(GuestPanic, match="insmod nonesuch"):
            vm.wait_ready()
    assert not vm.running


def test_a_peer_vm_has_no_console_commands(peer):
    vm = PeerVM(peer)
    with pytest.raises(KitError, match="no commands"):
        vm.command("idle hlt")
