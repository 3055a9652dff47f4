"""Host CPU readings and the Sampler thread.

The Sampler's mechanics are tested against a busy Python process standing
in for a vCPU, so they need no QEMU; the live test compares
the spin probe with the halt probe, relative to each other, never against
absolute timings.
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import threading
import time
import warnings
from types import SimpleNamespace

import pytest

import kitlib
from kitlib import protocol
from kitlib.hostcpu import Sample, Sampler, read_process_ns, read_thread_ns

from conftest import requires_qemu


def burn(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


class TestReaders:
    def test_thread_ns_grows_with_work(self):
        tid = threading.get_native_id()
        before = read_thread_ns(os.getpid(), tid)
        burn(0.05)
        after = read_thread_ns(os.getpid(), tid)
        assert after - before >= 20_000_000        # at least 20 of the 50 ms on CPU

    def test_process_ns_counts_every_thread(self):
        pid = os.getpid()
        before = read_process_ns(pid)
        t = threading.Thread(target=burn, args=(0.05,))
        t.start()
        t.join()
        assert read_process_ns(pid) - before >= 20_000_000

    def test_dead_process_raises(self):
        with pytest.raises(OSError):
            read_thread_ns(2**22 + 12345, 2**22 + 12345)
        with pytest.raises(OSError):
            read_process_ns(2**22 + 12345)


class FakeVM:
    """Stands in for a VM: another process whose main thread spins, as 'vCPU 0'.

    A process of its own, like QEMU: a busy thread in this process would
    hold the GIL and slow the sampler down, which QEMU never does."""

    name = "fake"
    image = SimpleNamespace(has_symbol=lambda name: False)
    ready_time = None

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        self.pid = self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def vcpu_threads(self):
        return {0: self.pid}                # a single-threaded process: its tid is its pid

    def stop(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def fake_vm():
    vm = FakeVM()
    yield vm
    vm.stop()


class TestSampler:
    def test_samples_at_rate_and_baseline_first(self, fake_vm):
        got: list[Sample] = []
        with Sampler(hz=20) as s:
            s.subscribe(got.append)
            s.watch(fake_vm, "busy")
            time.sleep(0.62)
        n = len(s.samples)
        assert 9 <= n <= 13, n                      # 0.6 s at 20 Hz, minus the baseline tick
        assert got == s.samples
        ts = [x.t for x in s.samples]
        assert ts == sorted(ts)
        gaps = [b - a for a, b in zip(ts, ts[1:])]
        assert statistics.median(gaps) == pytest.approx(0.05, abs=0.01)
        sample = s.samples[-1]
        assert sample.phase == "busy"
        assert set(sample.vcpu) == {0}
        assert math.isnan(sample.halted[0])         # no stats block: guest view unknown
        # schedstat of a running thread lags by up to a scheduler tick, so one
        # sample may jitter; over the run the busy thread is busy, and the
        # process total (all threads) covers it.
        busy = statistics.mean(x.vcpu[0] for x in s.samples)
        total = statistics.mean(x.total for x in s.samples)
        assert busy > 30
        assert total >= busy - 10

    def test_time_axis_continues_across_watches(self, fake_vm):
        with Sampler(hz=20) as s:
            s.watch(fake_vm, "one")
            time.sleep(0.3)
            s.watch(fake_vm, "two")
            time.sleep(0.3)
        one, two = s.phase_samples("one"), s.phase_samples("two")
        assert one and two
        assert max(x.t for x in one) < min(x.t for x in two)
        assert min(x.t for x in two) > 0.25         # t counts from the sampler's start

    def test_listener_errors_do_not_kill_the_sampler(self, fake_vm):
        good: list[Sample] = []

        def bad(sample):
            raise RuntimeError("listener bug")

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with Sampler(hz=20) as s:
                s.subscribe(bad)
                s.subscribe(good.append)
                s.watch(fake_vm, "x")
                time.sleep(0.4)
                assert s.running
        assert len(good) >= 4
        assert len(s.listener_errors) >= 4
        reports = [w for w in caught if "listener bug" in str(w.message)]
        assert len(reports) == 1                    # reported once

    def test_vm_that_exits_is_dropped(self, fake_vm):
        with Sampler(hz=20) as s:
            s.watch(fake_vm, "x")
            time.sleep(0.2)
            fake_vm.stop()
            time.sleep(0.2)
            n = len(s.samples)
            assert s.watching is None
            time.sleep(0.15)
            assert len(s.samples) == n
            assert s.running

    def test_unsubscribe_and_unwatch(self, fake_vm):
        got: list[Sample] = []
        with Sampler(hz=20) as s:
            unsubscribe = s.subscribe(got.append)
            s.watch(fake_vm, "x")
            time.sleep(0.2)
            unsubscribe()
            s.unwatch()
            n = len(s.samples)
            time.sleep(0.15)
            assert len(s.samples) == n
        assert len(got) <= n

    def test_watch_requires_a_running_vm(self, fake_vm):
        fake_vm.stop()
        with pytest.raises(kitlib.KitError):
            Sampler().watch(fake_vm)


@requires_qemu
def test_spin_probe_burns_far_more_than_halt_probe(probes):
    """The host's ceiling (jmp .) and floor (cli; hlt), measured back to back."""
    means = {}
    with Sampler(hz=10) as s:
        for kind in ("spin", "halt"):
            with kitlib.VM(probes[kind]) as vm:
                time.sleep(0.3)                       # past firmware and boot
                s.watch(vm, kind)
                time.sleep(1.25)
                s.unwatch()
            samples = s.phase_samples(kind)
            assert len(samples) >= 8
            means[kind] = statistics.mean(x.vcpu[0] for x in samples)
            total = statistics.mean(x.total for x in samples)
            assert total >= means[kind] - 5
    assert means["spin"] > means["halt"] + 50, means


@requires_qemu
def test_guest_view_and_vm_exit_while_watched(boot_image):
    """idle=hlt reads ~fully halted from the guest's side; stopping the VM mid-watch is harmless."""
    with Sampler(hz=20) as s:
        vm = kitlib.VM(boot_image, append="idle=hlt").start()
        try:
            vm.wait_ready()
            s.watch(vm, "hlt")
            time.sleep(0.5)
        finally:
            vm.stop()
        time.sleep(0.2)
        assert s.running and s.watching is None
    samples = s.phase_samples("hlt")
    assert len(samples) >= 5
    assert all(x.halted[0] > 0.95 for x in samples)
    assert all(x.idle_rate[0] == 0 for x in samples)


@requires_qemu
def test_spinning_vcpus_want_a_whole_core_even_when_they_cannot_have_it():
    """More spinning vCPUs than host cores: each gets a share, but is runnable
    (running or waiting) all the time; a halted one asks for nothing."""
    host = os.cpu_count() or 1
    cpus = host + 2
    image = kitlib.build("cores")
    with Sampler(hz=10) as s:
        for policy in protocol.IDLE_POLICIES:
            with kitlib.VM(image, cpus=cpus, append=f"idle={policy}", boot_timeout=120) as vm:
                vm.wait_ready()
                time.sleep(0.5)
                s.watch(vm, policy)
                time.sleep(1.5)
                s.unwatch()
    spin, hlt = s.phase_samples("spin")[2:], s.phase_samples("hlt")[2:]
    got = statistics.mean(sum(x.vcpu.values()) for x in spin)
    assert got < 100 * host + 30, got                           # the host's cores are all there is
    for n in range(cpus):
        assert statistics.mean(x.wanted[n] for x in spin) > 80, [x.wanted for x in spin]
        assert statistics.mean(x.wanted[n] for x in hlt) < 10, [x.wanted for x in hlt]


def test_top_makes_one_line_a_second_with_tops_columns():
    """kitlib.top: %CPU averaged over each second, TIME+ as top prints it, a new phase starts anew."""
    import io

    from kitlib.hostcpu import Sample
    from kitlib.top import Top, time_plus

    assert time_plus(53.28) == "0:53.28" and time_plus(125.5) == "2:05.50"
    out = io.StringIO()
    top = Top(out=out)
    for i in range(1, 26):
        phase = "idle" if i <= 20 else "stress"
        top(Sample(t=i / 10, phase=phase, vcpu={0: 1.0}, total=10.0 * (i > 10), main=1.0,
                   cpu_s=i / 100, rss=50 * 2**20))
    assert [round(x.cpu_pct) for x in top.lines] == [0, 10]     # two whole seconds of idle
    assert top.lines[1].rss == 50 * 2**20 and top.lines[1].phase == "idle"
    text = out.getvalue().splitlines()
    assert "%CPU" in text[0] and "TIME+" in text[0] and len(text) == 3
    assert "0:00.20" in text[2]
    assert len(top.table()) == 2 and "%MEM" in str(top)
