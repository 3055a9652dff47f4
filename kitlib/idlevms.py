"""What idle VMs cost one host each: how many students' lesson VMs a node holds.

A student who leaves a lesson open leaves its VM idle: its cores halted,
waiting for a command on the console.  ``measure_idle_vms`` boots one such
VM alone, then ``n`` at once, lets each settle, and reads for every VM:

* host CPU over the same window: the whole QEMU process (all its threads:
  the vCPUs, the main loop, helpers) from the process CPU clock, the vCPU
  threads' run time and runnable time (``/proc/<pid>/task/<tid>/schedstat``)
  and the main thread's, beside the guest's own share of time halted;
* memory: resident (``/proc/<pid>/statm``), proportional (PSS, from
  ``/proc/<pid>/smaps_rollup``, Linux 4.14 and newer: shared pages such as
  QEMU's own code divided among the processes that map them), private, and
  how much of the guest RAM file in /dev/shm the guest has touched.

Memory is read before the host maps the guest's RAM to read its statistics,
so the RAM file's pages count wholly to QEMU's PSS.  The VM alone is
measured a second time while a Sampler reads it ten times a second, as a
lesson's live plot does: this process's own CPU time over that window,
against the first, is what the sampling costs a student's notebook kernel.
The VMs alone and together run the same image in the same run, so their
ratio is the crowding's cost whatever the host's load.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from dataclasses import asdict, dataclass

from . import guest
from .build import Image
from .hostcpu import Sampler, read_main_thread_ns, read_process_ns, read_rss_bytes, read_thread_sched
from .vm import VM

__all__ = ["VmCost", "Crowd", "IdleVms", "measure_idle_vms", "read_memory"]

MIB = 1 << 20


@dataclass(frozen=True)
class Memory:
    """One process's memory, MiB (``pss`` and ``private`` NaN where the kernel has no smaps_rollup)."""

    rss: float
    pss: float
    private: float


def read_memory(pid: int) -> Memory:
    """Resident, proportional and private memory of process ``pid``."""
    rss = read_rss_bytes(pid) / MIB
    fields: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                key, _, rest = line.partition(":")
                parts = rest.split()
                if len(parts) == 2 and parts[1] == "kB":
                    fields[key] = int(parts[0])
    except OSError:
        return Memory(rss, math.nan, math.nan)
    if "Pss" not in fields:
        return Memory(rss, math.nan, math.nan)
    private = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
    return Memory(rss, fields["Pss"] / 1024, private / 1024)


def _file_mb(path: os.PathLike | str | None) -> float:
    """MiB a (sparse) file fills: the guest RAM pages touched so far."""
    try:
        return os.stat(path).st_blocks * 512 / MIB if path is not None else math.nan
    except OSError:
        return math.nan


@dataclass(frozen=True)
class VmCost:
    """One idle VM over one window: host CPU in % of one host core (all vCPUs
    summed), the guest's halted share (mean over its CPUs, 0..1), memory in MiB."""

    total_pct: float            # the whole QEMU process
    vcpu_pct: float             # its vCPU threads, run time
    runnable_pct: float         # its vCPU threads, running or waiting for a host core
    main_pct: float             # its main thread (timers, devices)
    halted: float
    rss_mb: float
    pss_mb: float
    private_mb: float
    ram_file_mb: float          # the guest RAM file's touched pages in /dev/shm

    def to_dict(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Crowd:
    """``n`` VMs of one kind measured at once over ``seconds``."""

    n: int
    seconds: float
    vms: tuple[VmCost, ...]
    python_pct: float           # this Python process over the window, % of one host core

    def mean(self, field: str) -> float:
        values = [getattr(v, field) for v in self.vms if not math.isnan(getattr(v, field))]
        return statistics.fmean(values) if values else math.nan

    def to_dict(self) -> dict[str, object]:
        fields = VmCost.__dataclass_fields__
        return {"vms": self.n, "seconds": self.seconds, "python_pct": round(self.python_pct, 4),
                "mean_per_vm": {f: round(self.mean(f), 4) for f in fields},
                "total_pct_all": round(sum(v.total_pct for v in self.vms), 4),
                "per_vm": [v.to_dict() for v in self.vms]}


def _reading(vm: VM) -> tuple[float, int, dict[int, tuple[int, int]], int]:
    t = time.monotonic()
    threads = {i: read_thread_sched(vm.pid, tid) for i, tid in vm.vcpu_threads().items()}
    return t, read_process_ns(vm.pid), threads, read_main_thread_ns(vm.pid)


def _measure(vms: list[VM], seconds: float, settle: float, sample_hz: float | None = None) -> Crowd:
    """Every VM of ``vms`` (booted, ready) over the same window after ``settle``;
    with ``sample_hz``, a Sampler watches the first, as a lesson's live plot does."""
    time.sleep(settle)
    memory = [read_memory(vm.pid) for vm in vms]             # before the host maps guest RAM
    files = [_file_mb(vm.shm_path) for vm in vms]
    for vm in vms:
        vm.vcpu_threads()                                    # QMP now, not inside the window
    sampler = Sampler(sample_hz).start() if sample_hz else None
    if sampler is not None:
        sampler.watch(vms[0], "idle")
    try:
        snaps0 = [vm.stats() for vm in vms]
        before = [_reading(vm) for vm in vms]
        p0 = time.process_time()
        time.sleep(seconds)
        p1 = time.process_time()
        after = [_reading(vm) for vm in vms]
        snaps1 = [vm.stats() for vm in vms]
    finally:
        if sampler is not None:
            sampler.stop()
    costs = []
    for vm, mem, ram, a, b, s0, s1 in zip(vms, memory, files, before, after, snaps0, snaps1):
        dt = b[0] - a[0]

        def pct(ns: int) -> float:                          # % of one host core over the window
            return 100.0 * ns / 1e9 / dt

        run = sum(b[2][i][0] - a[2][i][0] for i in b[2])
        wanted = sum(sum(b[2][i]) - sum(a[2][i]) for i in b[2])
        halted = [h for h in guest.halted_fraction(s0, s1, vm.ready_time) if not math.isnan(h)]
        costs.append(VmCost(total_pct=pct(b[1] - a[1]), vcpu_pct=pct(run), runnable_pct=pct(wanted),
                            main_pct=pct(b[3] - a[3]),
                            halted=statistics.fmean(halted) if halted else math.nan,
                            rss_mb=mem.rss, pss_mb=mem.pss, private_mb=mem.private, ram_file_mb=ram))
    window = after[0][0] - before[0][0]
    return Crowd(len(vms), seconds, tuple(costs), 100.0 * (p1 - p0) / window)


@dataclass(frozen=True)
class IdleVms:
    """One VM alone, the same VM while sampled as a lesson samples it, and ``n`` at once."""

    alone: Crowd
    sampled: Crowd
    sample_hz: float
    together: Crowd


def measure_idle_vms(image: Image, n: int, *, cpus: int = 2, append: str = "idle=hlt", seconds: float = 10.0,
                     settle: float = 3.0, sample_hz: float = 10.0, boot_timeout: float = 120.0) -> IdleVms:
    """One VM of ``image`` alone, unwatched and then sampled at ``sample_hz``
    (this process's CPU is then what a student's notebook kernel spends on a
    live plot), then ``n`` at once, each idle: their costs."""
    print("one VM alone")
    with VM(image, cpus=cpus, append=append, boot_timeout=boot_timeout) as vm:
        vm.wait_ready()
        alone = _measure([vm], seconds, settle)
        print(f"the same VM, sampled at {sample_hz:g} Hz")
        sampled = _measure([vm], seconds, 0.0, sample_hz)
    print(f"{n} VMs at once")
    vms = [VM(image, cpus=cpus, append=append, boot_timeout=boot_timeout) for _ in range(n)]
    try:
        for vm in vms:
            vm.start()
        for vm in vms:
            vm.wait_ready()
        together = _measure(vms, seconds, settle)
    finally:
        for vm in vms:
            vm.stop()
    return IdleVms(alone, sampled, sample_hz, together)
