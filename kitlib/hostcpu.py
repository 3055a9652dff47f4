"""The host's view: how much CPU a VM burns, per vCPU thread and in total.

Per thread: ``/proc/<pid>/task/<tid>/schedstat``, field 1, nanoseconds on
CPU (``/proc/.../stat`` and psutil count 10 ms ticks: too coarse at 10 Hz).
Whole process: the process CPU-time clock ``clock_gettime(((~pid) << 3) | 2)``
(CPUCLOCK_SCHED), which also counts threads that have exited.

``Sampler`` is a daemon thread (an asyncio task would stall whenever a cell
blocks) that samples the watched VM at a fixed, drift-free rate, adds the
guest's own view (halted fraction, idle passes per second, from guest.py),
and hands each Sample to its subscribers, e.g. a live plot.
"""

from __future__ import annotations

import math
import os
import threading
import time
import traceback
import warnings
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from . import guest
from .errors import KitError

if TYPE_CHECKING:
    from .vm import VM

__all__ = ["read_thread_ns", "read_thread_sched", "read_main_thread_ns", "read_process_ns",
           "read_rss_bytes", "Sample", "Sampler"]


_READ_SLACK_S = 0.01       # a reading that takes longer than this was preempted
_READ_TRIES = 3


def read_thread_ns(pid: int, tid: int) -> int:
    """Nanoseconds thread ``tid`` of process ``pid`` has run (schedstat field 1)."""
    return read_thread_sched(pid, tid)[0]


def read_thread_sched(pid: int, tid: int) -> tuple[int, int]:
    """Nanoseconds thread ``tid`` has run, and has waited runnable for a host CPU
    (schedstat fields 1 and 2: run time and run delay)."""
    with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as f:
        run, delay = f.read().split()[:2]
    return int(run), int(delay)


def read_main_thread_ns(pid: int) -> int:
    """Nanoseconds QEMU's main thread has run (its thread id is the process id).

    Under TCG it runs the I/O of every device: the user-mode network (slirp)
    and virtio-net's side of the rings, so network work shows up here, apart
    from the vCPU threads."""
    return read_thread_ns(pid, pid)


def read_rss_bytes(pid: int) -> int:
    """Bytes of process ``pid`` resident in memory (``/proc/<pid>/statm``,
    field 2, in pages): what ``top`` shows as RES.  Guest RAM that is a
    shared file counts once the guest has touched it."""
    with open(f"/proc/{pid}/statm", "rb") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _process_clock(pid: int) -> int:
    return ((~pid) << 3) | 2     # CPUCLOCK_SCHED of the whole process (Linux clock id encoding)


def read_process_ns(pid: int) -> int:
    """Nanoseconds all threads of process ``pid`` have run (process CPU clock).

    Falls back to summing every task's schedstat (misses exited threads).
    """
    try:
        return time.clock_gettime_ns(_process_clock(pid))
    except OSError:
        if not os.path.isdir(f"/proc/{pid}"):
            raise ProcessLookupError(f"process {pid} does not exist") from None
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            total += read_thread_ns(pid, int(tid))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


@dataclass(frozen=True)
class Sample:
    """One sampling interval of the watched VM.

    ``t``: seconds since the sampler started (end of the interval);
    ``vcpu``: % of one host core per vCPU index; ``total``: % for the whole
    QEMU process; ``wanted``: % of the interval each vCPU thread was
    runnable, running or waiting for a host core (100 for a vCPU that never
    halts, however busy the host: what it *asks* for, where ``vcpu`` is what
    it got); ``halted``: guest-view fraction 0..1 per CPU (NaN if
    unknown); ``idle_rate``: idle-loop passes per second per CPU; ``rates``:
    events per second per CPU of every counter in the guest's stats block
    (``rates["lock_acquires"][2]``), empty when the guest has none;
    ``main``: % of one host core for QEMU's main thread, which under TCG
    runs every device's host side (the user-mode network among them);
    ``cpu_s``: QEMU's CPU seconds since it started (``top``'s TIME+);
    ``rss``: QEMU's resident bytes (``top``'s RES; 0: unknown).
    """

    t: float
    phase: str
    vcpu: dict[int, float]
    total: float
    halted: dict[int, float] = field(default_factory=dict)
    idle_rate: dict[int, float] = field(default_factory=dict)
    rates: dict[str, dict[int, float]] = field(default_factory=dict, repr=False)
    wanted: dict[int, float] = field(default_factory=dict)
    main: float = math.nan
    cpu_s: float = math.nan
    rss: int = 0

    @property
    def others(self) -> float:
        """% of a host core for QEMU's threads that are neither a vCPU nor
        the main thread (I/O helpers, RCU): the total less both."""
        return self.total - sum(self.vcpu.values()) - (0.0 if math.isnan(self.main) else self.main)


@dataclass
class _Target:
    vm: "VM"
    phase: str
    pid: int
    threads: dict[int, int]
    has_stats: bool
    base: tuple | None = None       # the last reading: time, vCPUs, total, guest, main, RSS


class Sampler:
    """Samples host CPU (and the guest's view) of one VM at a time, at ``hz``.

    ``watch(vm, phase)`` switches to a VM; the first reading after a switch
    only sets the baseline.  ``t`` counts from the sampler's start across
    VMs, so phases line up on one time axis.  A VM that exits while watched
    is dropped quietly.  Listeners run on the sampler thread; an exception
    in one is reported once and never stops sampling.
    """

    def __init__(self, hz: float = 10.0, *, maxlen: int | None = 100_000):
        if not hz > 0:
            raise ValueError("hz must be positive")
        self.hz = float(hz)
        self.period = 1.0 / self.hz
        self._lock = threading.Lock()
        self._samples: deque[Sample] = deque(maxlen=maxlen)
        self._listeners: list[Callable[[Sample], object]] = []
        self._reported: set[int] = set()
        self._target: _Target | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.t0: float | None = None
        self.listener_errors: deque[BaseException] = deque(maxlen=100)
        self.last_error: BaseException | None = None

    # -- control
    def start(self) -> "Sampler":
        """Start the sampling thread (idempotent)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return self
            if self.t0 is None:
                self.t0 = time.monotonic()
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="kitlib-sampler", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop sampling and wait for the thread to end."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(5.0)

    def __enter__(self) -> "Sampler":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def watch(self, vm: "VM", phase: str = "") -> None:
        """Sample ``vm`` from now on, labelling samples with ``phase``."""
        pid = vm.pid
        if pid is None or not vm.running:
            raise KitError(f"cannot watch {vm.name}: it is not running")
        threads = vm.vcpu_threads()
        has_stats = vm.image.has_symbol("kit_stats")
        with self._lock:
            self._target = _Target(vm=vm, phase=phase, pid=pid, threads=threads, has_stats=has_stats)

    def unwatch(self) -> None:
        """Stop sampling the current VM (the thread keeps running)."""
        with self._lock:
            self._target = None

    @property
    def watching(self) -> "VM | None":
        target = self._target
        return target.vm if target is not None else None

    def subscribe(self, fn: Callable[[Sample], object]) -> Callable[[], None]:
        """Call ``fn(sample)`` on the sampler thread for every new Sample; returns an unsubscribe."""
        with self._lock:
            self._listeners.append(fn)

        def unsubscribe() -> None:
            with self._lock:
                if fn in self._listeners:
                    self._listeners.remove(fn)

        return unsubscribe

    # -- results
    @property
    def samples(self) -> list[Sample]:
        """A copy of every Sample so far."""
        with self._lock:
            return list(self._samples)

    def phase_samples(self, phase: str) -> list[Sample]:
        """The Samples labelled ``phase``."""
        return [s for s in self.samples if s.phase == phase]

    def clear(self) -> None:
        """Forget the Samples collected so far (the time axis keeps running)."""
        with self._lock:
            self._samples.clear()

    # -- the thread
    def _run(self) -> None:
        next_t = time.monotonic()
        while not self._stop.wait(max(0.0, next_t - time.monotonic())):
            next_t += self.period
            now = time.monotonic()
            if now - next_t > self.period:      # fell behind (suspend, overload): skip ticks
                next_t = now + self.period
            try:
                self._tick()
            except Exception as exc:            # never let one bad tick kill the sampler
                self.last_error = exc

    def _read(self, target: _Target) -> tuple:
        # The counters and the clock must be read together: if this thread is
        # preempted between them, the time stamp drifts from the counters and
        # a sample reads many times 100 %.  Reads take tens of microseconds
        # (a few milliseconds when another Python thread holds the GIL), so a
        # much slower one was preempted: read again.
        for _ in range(_READ_TRIES):
            a = time.monotonic()
            vcpu = {i: read_thread_sched(target.pid, tid) for i, tid in target.threads.items()}
            main = read_main_thread_ns(target.pid)
            total = read_process_ns(target.pid)
            b = time.monotonic()
            if b - a <= _READ_SLACK_S:
                break
        snap = None
        if target.has_stats:
            try:
                snap = target.vm.stats()
            except KitError:
                snap = None
        try:
            rss = read_rss_bytes(target.pid)
        except (OSError, ValueError, IndexError):
            rss = 0
        return ((a + b) / 2, vcpu, total, snap, main, rss)

    def _tick(self) -> None:
        with self._lock:
            target = self._target
        if target is None:
            return
        try:
            if not target.vm.running:
                raise ProcessLookupError
            reading = self._read(target)
            if not target.vm.running:           # exited during the read: values may be stale
                raise ProcessLookupError
        except (OSError, ValueError):
            with self._lock:
                if self._target is target:
                    self._target = None
            return
        base, target.base = target.base, reading
        if base is None:
            return
        sample = self._sample(target, base, reading)
        with self._lock:
            if self._target is not target:      # switched meanwhile: drop the straddling sample
                return
            self._samples.append(sample)
            listeners = list(self._listeners)
        for fn in listeners:
            try:
                fn(sample)
            except Exception as exc:
                self._report(fn, exc)

    def _sample(self, target: _Target, base: tuple, reading: tuple) -> Sample:
        t0, vcpu0, total0, snap0, main0, _ = base
        t1, vcpu1, total1, snap1, main1, rss = reading
        dt = t1 - t0
        both = [i for i in vcpu1 if i in vcpu0]
        vcpu = {i: 100.0 * (vcpu1[i][0] - vcpu0[i][0]) / 1e9 / dt for i in both}
        wanted = {i: 100.0 * (sum(vcpu1[i]) - sum(vcpu0[i])) / 1e9 / dt for i in both}
        total = 100.0 * (total1 - total0) / 1e9 / dt
        halted: dict[int, float] = {}
        rate: dict[int, float] = {}
        rates: dict[str, dict[int, float]] = {}
        if snap0 is not None and snap1 is not None:
            halted = dict(enumerate(guest.halted_fraction(snap0, snap1, target.vm.ready_time)))
            rate = dict(enumerate(guest.idle_rate(snap0, snap1)))
            rates = {name: dict(enumerate(guest.counter_rate(snap0, snap1, name)))
                     for name in snap1.fields if guest.is_counter(name)}
        if not halted:
            halted = {i: math.nan for i in vcpu}
            rate = {i: math.nan for i in vcpu}
        return Sample(
            t=t1 - (self.t0 or 0.0), phase=target.phase, vcpu=vcpu, total=total,
            halted=halted, idle_rate=rate, rates=rates, wanted=wanted,
            main=100.0 * (main1 - main0) / 1e9 / dt, cpu_s=total1 / 1e9, rss=rss,
        )

    def _report(self, fn: Callable, exc: BaseException) -> None:
        self.listener_errors.append(exc)
        if id(fn) in self._reported:
            return
        self._reported.add(id(fn))
        where = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        warnings.warn(
            f"kitlib sampler: listener {getattr(fn, '__qualname__', fn)!r} raised {where}; "
            "it stays subscribed, and further errors from it are not shown",
            RuntimeWarning,
            stacklevel=1,
        )

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        vm = self.watching
        return f"<Sampler {self.hz:g} Hz, {state}, {len(self._samples)} samples, watching {vm.name if vm else 'nothing'}>"
