"""Stage 'net': PCI, the virtio-net card with MSI-X, ARP and the network thread.

The guest's own counters (kit_stats) judge what it did; the host only
opens a TCP connection through QEMU's user network to make frames arrive.
"""

from __future__ import annotations

import re
import socket
import time

import pytest

import kitlib
from kitlib import protocol
from kitlib.guest import halted_fraction

from conftest import requires_qemu, runnable_pct

NET_TESTS = ["arp", "pci", "pcibars", "msix", "virtqueues"]
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
    answers ARP requests for it; it has no TCP yet, so the SYN is counted
    and dropped.  The frame arrives by MSI-X on cpu 1, which wakes the
    network thread from its wait.
    """
    with kitlib.VM(net, cpus=2, append="idle=hlt", net=True, boot_timeout=60) as vm:
        vm.wait_ready(timeout=60)
        before = wait_for(vm, lambda s: s.cpus[1]["net_tx_packets"] >= 1, 10)
        assert before.cpus[1]["net_tx_packets"] >= 1, "no gratuitous ARP was sent"
        assert before.cpus[1]["net_rx_ipv4"] == 0
        with socket.create_connection(("127.0.0.1", vm.host_port), timeout=5):
            after = wait_for(vm, lambda s: s.cpus[1]["net_rx_ipv4"] >= 1, 10)
        c = after.cpus[1]
        assert c["net_rx_ipv4"] >= 1 and c["net_rx_packets"] >= c["net_rx_ipv4"], c
        assert c["net_tx_packets"] == c["net_arp_replies"] + 1, c   # the announcement, and its replies
        assert c["net_irqs"] >= 1 and c["net_wakeups"] >= 1, c
        assert c["net_tx_drops"] == 0, c
        assert all(cpu["net_rx_packets"] == 0 for cpu in after.cpus[:1]), "frames taken off the network core"


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
