"""Booting, outcomes, QMP and the no-orphan guarantee.

Each boot takes about 0.1 s under TCG; every outcome a lesson can hit is
named here: ready, tests passed, panic, #UD, triple fault, hang, exit.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import kitlib
from kitlib import protocol
from kitlib import qemu as kq
from kitlib.errors import (
    GuestExited,
    GuestPanic,
    GuestTimeout,
    KvmUnavailable,
    QemuNotFound,
    TripleFault,
)

from kitlib.process import Console

from conftest import pid_gone, qemu_pids, requires_qemu


# --------------------------------------------------------------- no QEMU needed

class TestDiscovery:
    def test_kit_qemu_nonexistent_is_reported(self, monkeypatch):
        monkeypatch.setenv("KIT_QEMU", "/nonexistent/qemu-system-x86_64")
        with pytest.raises(QemuNotFound) as err:
            kitlib.find_qemu()
        assert "apt-get install qemu-system-x86" in str(err.value)
        assert "KIT_QEMU" in str(err.value)

    def test_qemu_not_on_path_is_reported(self, monkeypatch, tmp_path):
        monkeypatch.delenv("KIT_QEMU", raising=False)
        monkeypatch.setenv("PATH", str(tmp_path))
        with pytest.raises(QemuNotFound) as err:
            kitlib.find_qemu()
        assert "apt-get" in str(err.value) and "make setup" in str(err.value)
        assert "apt-get" in err.value._repr_html_()

    def test_vm_without_qemu_fails_before_spawning(self, monkeypatch, tmp_path):
        monkeypatch.setenv("KIT_QEMU", "/nonexistent")
        image = tmp_path / "kernel.elf"
        image.write_bytes(b"\x7fELF")
        with pytest.raises(QemuNotFound):
            kitlib.VM(image)

    def test_auto_is_tcg_by_default(self, monkeypatch):
        monkeypatch.delenv("KIT_ACCEL", raising=False)
        assert kitlib.resolve_accel("auto") == "tcg"
        assert kitlib.resolve_accel("tcg") == "tcg"

    def test_auto_falls_back_to_tcg_when_kvm_is_unusable(self, monkeypatch):
        monkeypatch.setenv("KIT_ACCEL", "kvm")
        monkeypatch.setattr(kq, "_kvm_problem", lambda: "no /dev/kvm here")
        assert kitlib.resolve_accel("auto") == "tcg"

    def test_kvm_unavailable_has_a_hint(self, monkeypatch):
        monkeypatch.setattr(kq, "_kvm_problem", lambda: "/dev/kvm does not exist")
        with pytest.raises(KvmUnavailable, match="tcg"):
            kitlib.resolve_accel("kvm")

    def test_unknown_accel(self):
        with pytest.raises(ValueError):
            kitlib.resolve_accel("hvf")

    def test_command_line(self):
        argv = kitlib.command_line(
            "/k.elf", name="kit-1-2", shm_path="/dev/shm/kit-1-2", qmp_path="/tmp/d/qmp.sock",
            cpus=2, append="idle=hlt test", qemu="qemu-system-x86_64",
        )
        line = " ".join(argv)
        assert argv[0] == "qemu-system-x86_64"
        for piece in [
            "-M pc", "-smp 2", "-m 64M", "-kernel /k.elf",
            "memory-backend-file,id=ram,size=64M,mem-path=/dev/shm/kit-1-2,share=on",
            "-machine memory-backend=ram", "-name kit-1-2,debug-threads=on",
            "-qmp unix:/tmp/d/qmp.sock,server=on,wait=off", "-chardev stdio,id=kitcon,signal=off",
            "-serial chardev:kitcon", "-display none",
            "-monitor none", "-no-reboot", "-nic none", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-accel tcg",
        ]:
            assert piece in line
        assert argv[argv.index("-append") + 1] == "idle=hlt test"
        assert "-nographic" not in argv
        kvm = kitlib.command_line("/k", name="n", shm_path="s", qmp_path="q", accel="kvm", qemu="q")
        assert "-accel kvm -cpu qemu64" in " ".join(kvm)


class TestDevices:
    """VM(devices=, args=) as QEMU's QEMUMachine takes them: -device values and further arguments."""

    def test_devices_and_args_reach_the_command_line_and_the_repr(self, boot_image):
        vm = kitlib.VM(boot_image, args=["-netdev", "user,id=n0"], devices=["virtio-net-pci,netdev=n0"])
        vm.add_device("virtio-rng-pci")
        assert vm.devices == ["virtio-net-pci,netdev=n0", "virtio-rng-pci"]
        assert "devices=['virtio-net-pci,netdev=n0', 'virtio-rng-pci']" in repr(vm)
        assert "args=['-netdev', 'user,id=n0']" in repr(vm)
        assert "virtio-rng-pci" in vm._repr_html_()
        assert kq.device_args(vm.devices) == ["-device", "virtio-net-pci,netdev=n0", "-device", "virtio-rng-pci"]

    @pytest.mark.parametrize("device", ["-device virtio-net-pci", "", "virtio-net-pci, netdev=n0"])
    def test_a_device_is_the_options_value(self, boot_image, device):
        with pytest.raises(ValueError, match="value of -device"):
            kitlib.VM(boot_image, devices=[device])

    @pytest.mark.parametrize("args, words", [
        (["user,id=n0"], "start with an option"),
        (["-serial", "file:/tmp/x"], "-serial: the kit sets this itself"),
        (["-netdev", ""], "non-empty"),
    ])
    def test_arguments_are_checked(self, boot_image, args, words):
        with pytest.raises(ValueError, match=words):
            kitlib.VM(boot_image, args=args)

    def test_no_device_once_started(self, probes):
        with kitlib.VM(probes["halt"]) as vm:
            with pytest.raises(kitlib.KitError, match="before start"):
                vm.add_device("virtio-rng-pci")

    @requires_qemu
    def test_a_virtio_nic_is_on_the_pci_bus(self):
        """-netdev user + virtio-net-pci: QMP query-pci lists a device of vendor 0x1af4
        (virtio 1.1, 4.1.2: every virtio PCI device has vendor ID 0x1AF4; network
        is device ID 0x1000 transitional or 0x1041 modern)."""
        with kitlib.VM(kitlib.build("idle"), args=["-netdev", "user,id=n0"],
                       devices=["virtio-net-pci,netdev=n0"]) as vm:
            vm.wait_ready()
            found = [(d["id"]["vendor"], d["id"]["device"])
                     for bus in vm.qmp.execute("query-pci") for d in bus["devices"]]
        assert any(v == 0x1AF4 and dev in (0x1000, 0x1041) for v, dev in found), found
        with kitlib.VM(kitlib.build("idle")) as vm:          # and none without
            vm.wait_ready()
            found = [d["id"]["vendor"] for bus in vm.qmp.execute("query-pci") for d in bus["devices"]]
        assert 0x1AF4 not in found, found


class TestConsole:
    """The transcript: CR/LF and UTF-8 split across reads, markers, trimming."""

    def test_crlf_and_utf8_split_across_chunks(self):
        c = Console(echo=False)
        for chunk in [b"kit: boot x\r", b"\nh\xc3", b"\xa9llo\r\n", b"bare\rcr\n"]:
            c.feed(chunk, 1.0)
        c.close(2.0)
        assert c.text == "kit: boot x\nh\u00e9llo\nbare\rcr\n"

    def test_ready_time_is_when_the_line_arrived(self):
        c = Console(echo=False)
        c.feed(b"kit: rea", 1.0)
        assert c.ready_time is None
        c.feed(b"dy\nmore\n", 2.5)
        assert c.ready_time == 2.5 and c.text[: c.ready_end] == "kit: ready\n"

    def test_panic_reason_even_without_final_newline(self):
        c = Console(echo=False)
        c.feed(b"x\nkit: panic cpu 0: exception 6 (#UD invalid opcode)", 1.0)
        assert c.panic is None                       # the line may still grow
        c.close(1.1)
        assert c.panic == "cpu 0: exception 6 (#UD invalid opcode)"

    def test_trimming_keeps_absolute_offsets(self):
        c = Console(echo=False, limit=100)
        for i in range(50):
            c.feed(f"line {i:02d}\n".encode(), 1.0)
        assert c.base > 0 and len(c.text) <= 100
        assert c.end == 50 * len("line 00\n")
        assert c.tail(2) == "line 48\nline 49"


# --------------------------------------------------------------- boots

@requires_qemu
class TestOutcomes:
    def test_ready(self, boot_image):
        with kitlib.VM(boot_image, append="idle=hlt") as vm:
            seconds = vm.wait_ready(timeout=20)
            assert 0 < seconds < 20
            assert vm.ready_time is not None and vm.running
            assert protocol.BOOT + "boot" in vm.console
            assert "\r" not in vm.console
            assert protocol.READY in vm.tail(3).splitlines()
        assert not vm.running and vm.exit_status is not None

    def test_expect_in_order(self, boot_image):
        with kitlib.VM(boot_image, append="test") as vm:
            assert vm.expect("kit: boot") == "kit: boot"
            assert vm.expect([r"kit: tests (passed|failed)", "never"], exact=False) == "kit: tests passed"
            vm.wait_exit(timeout=20)

    def test_panic_is_named(self, boot_image):
        with kitlib.VM(boot_image, append="crash=panic") as vm:
            with pytest.raises(GuestPanic) as err:
                vm.wait_ready(timeout=20)
        assert err.value.reason == "crash requested" and vm.panic == "crash requested"
        assert protocol.BOOT in err.value.console_tail
        assert "crash requested" in str(err.value)
        assert not vm.running

    def test_invalid_opcode_is_named(self, boot_image):
        with kitlib.VM(boot_image, append="crash=ud") as vm:
            with pytest.raises(GuestPanic) as err:
                vm.wait_ready(timeout=20)
        assert "#UD" in err.value.reason

    def test_triple_fault_is_named(self, boot_image):
        with kitlib.VM(boot_image, append="crash=triple") as vm:
            with pytest.raises(TripleFault) as err:
                vm.wait_ready(timeout=20)
        assert "triple" in str(err.value)
        assert vm.exit_status == 0

    def test_triple_fault_is_never_success(self, boot_image):
        with kitlib.VM(boot_image, append="crash=triple") as vm:
            with pytest.raises(TripleFault):
                vm.wait_exit(timeout=20)

    def test_hang_times_out_and_stops(self, boot_image):
        vm = kitlib.VM(boot_image, append="crash=hang").start()
        started = time.monotonic()
        with pytest.raises(GuestTimeout) as err:
            vm.wait_ready(timeout=2)
        assert 1.9 <= time.monotonic() - started < 6
        assert "'kit: ready'" in str(err.value) and "2 s" in str(err.value)
        assert not vm.running                     # a hung guest is not left burning a core

    def test_expect_timeout_leaves_vm_running(self, boot_image):
        with kitlib.VM(boot_image, append="idle=hlt") as vm:
            vm.wait_ready()
            with pytest.raises(GuestTimeout, match="never printed"):
                vm.expect("never printed", timeout=0.3)
            assert vm.running

    def test_exit_probe(self, probes):
        with kitlib.VM(probes["exit"]) as vm:
            assert vm.wait_exit(timeout=20) == 33
            # ready can never come now: the error says the guest already exited
            with pytest.raises(GuestExited, match="33"):
                vm.wait_ready(timeout=1)

    def test_bad_image_shows_qemu_stderr(self, tmp_path):
        bogus = tmp_path / "bogus.elf"
        bogus.write_bytes(b"this is not a kernel" * 100)
        with kitlib.VM(bogus) as vm:
            with pytest.raises(GuestExited) as err:
                vm.wait_ready(timeout=20)
        assert err.value.status not in (0, 33, 35)
        assert err.value.stderr_tail.strip()            # QEMU said why
        assert err.value.stderr_tail.strip() in str(err.value)
        assert err.value.stderr_tail.strip() not in vm.console   # stderr never mixes into the console

    def test_echo_streams_console_lines(self, boot_image, capfd):
        with kitlib.VM(boot_image, append="test", echo=True) as vm:
            vm.wait_exit(timeout=20)
        out = capfd.readouterr().out
        assert protocol.BOOT + "boot" in out and protocol.TESTS_PASSED in out


@requires_qemu
class TestLifecycle:
    def test_stop_is_idempotent_and_removes_files(self, boot_image):
        vm = kitlib.VM(boot_image, append="idle=hlt").start()
        vm.wait_ready()
        shm, pid = vm.shm_path, vm.pid
        assert shm.exists()
        vm.stop()
        vm.stop()
        assert not shm.exists()
        assert pid_gone(pid)
        assert not vm.running

    def test_unique_names_and_paths(self, probes):
        with kitlib.VM(probes["halt"]) as a, kitlib.VM(probes["halt"]) as b:
            assert a.name != b.name and a.shm_path != b.shm_path
            assert a.name.startswith(f"kit-{os.getpid()}-")

    def test_qmp_maps_one_thread_per_vcpu(self, probes):
        with kitlib.VM(probes["halt"], cpus=2) as vm:
            threads = vm.vcpu_threads()
            assert sorted(threads) == [0, 1]
            assert len(set(threads.values())) == 2
            tasks = {int(t) for t in os.listdir(f"/proc/{vm.pid}/task")}
            assert set(threads.values()) <= tasks
            names = {Path(f"/proc/{vm.pid}/task/{t}/comm").read_text().strip() for t in threads.values()}
            assert names == {"CPU 0/TCG", "CPU 1/TCG"}
            assert vm.qmp.execute("query-status")["status"] == "running"

    def test_qmp_commands_errors_and_events(self, probes):
        with kitlib.VM(probes["halt"]) as vm:
            assert vm.qmp.execute("stop") == {}
            assert vm.qmp.execute("query-status")["status"] == "paused"   # the STOP event is skipped
            assert any(e["event"] == "STOP" for e in vm.qmp.events)
            with pytest.raises(kitlib.QMPError, match="CommandNotFound"):
                vm.qmp.execute("no-such-command")
            vm.qmp.execute("cont")
            assert vm.qmp.execute("query-status", {})["status"] == "running"

    def test_exits_caused_from_outside_are_not_triple_faults(self, probes):
        with kitlib.VM(probes["halt"]) as vm:
            vm.qmp.execute("quit")
            with pytest.raises(GuestExited, match="stopped"):
                vm.wait_exit(timeout=10)
        with kitlib.VM(probes["halt"]) as vm:
            time.sleep(0.2)
            os.kill(vm.pid, signal.SIGTERM)
            with pytest.raises(GuestExited, match="signal 15"):
                vm.wait_exit(timeout=10)

    def test_vm_from_short_lived_thread_survives_it(self, probes):
        box = {}

        def starter():
            box["vm"] = kitlib.VM(probes["halt"]).start()

        t = threading.Thread(target=starter)
        t.start()
        t.join()
        vm = box["vm"]
        try:
            time.sleep(0.5)                       # PDEATHSIG would have fired by now
            assert vm.running and not pid_gone(vm.pid)
        finally:
            vm.stop()

    def test_no_orphan_after_parent_is_killed(self, probes, tmp_path):
        script = textwrap.dedent(
            f"""
            import sys, time
            import kitlib
            vm = kitlib.VM({str(probes['halt'].path)!r}).start()
            print(vm.pid, vm.shm_path, flush=True)
            time.sleep(60)
            """
        )
        child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        try:
            assert select.select([child.stdout], [], [], 30)[0], "the child never started its VM"
            qemu_pid_s, shm = child.stdout.readline().split()
            qemu_pid = int(qemu_pid_s)
            deadline = time.monotonic() + 10
            while not Path(shm).exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            assert not pid_gone(qemu_pid)
            child.send_signal(signal.SIGKILL)
            child.wait()
            deadline = time.monotonic() + 2
            while not pid_gone(qemu_pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert pid_gone(qemu_pid), "QEMU outlived the process that started it"
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        assert not qemu_pids(f"kit-{child.pid}-")
        # the dead process's RAM file is removed by the next start (or clean_stale)
        if Path(shm).exists():
            kitlib.clean_stale()
        assert not Path(shm).exists()
