"""The guest's own view: its per-CPU stats block, read from guest RAM.

The kernel keeps counters in ``kit_stats`` (layout: kernel/stats.h).  Guest
RAM is a shared file under /dev/shm, and the kernel is identity-mapped, so the
symbol's address is the block's offset in that file: the host reads it with
mmap and never wakes the guest (console output would).

The block describes itself: a header, then ``fields`` naming the u64
counters of each per-CPU record, so a new counter needs no Python change.
Counters that change together are guarded by a per-CPU sequence count
(``seq``): a copy is good only if ``seq`` was even and unchanged around it.

Reads use native ``struct`` formats on 8-byte aligned offsets: each u64 is
copied with one aligned load (Intel SDM Vol. 3A 9.1.1: atomic), never byte
by byte, so a counter is never seen half-written.
"""

from __future__ import annotations

import math
import mmap
import os
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import KitError
from .hosttsc import read_tsc

__all__ = ["StatsBlock", "StatsSnapshot", "halted_fraction", "idle_rate", "MAGIC"]

MAGIC = b"KITSTATS"
VERSION = 1
# struct kitstats up to fields[]: magic, version, ncpu, cpu_offset, cpu_stride,
# tsc_hz, ready_tsc.  The names (fields[]) run from there to cpu_offset, as the
# block itself says: the host never assumes the size of that area.
_HEADER = struct.Struct("@8sIIIIQQ")
_WINDOW = 64 * 1024                         # bytes mapped from the block's page on
_SEQ_TIMEOUT = 0.2                          # seconds a record may stay mid-update
_MAX_CPUS = 256


@dataclass(frozen=True)
class StatsSnapshot:
    """One read of the stats block.

    ``host_time`` is time.monotonic() at the read; ``cpus[n]`` maps each
    field name to CPU n's value.  ``valid`` is False until the kernel has
    filled in the block (or when it cannot be read).
    """

    host_time: float
    tsc_hz: int = 0
    ready_tsc: int = 0
    cpus: tuple[dict[str, int], ...] = ()
    valid: bool = False
    fields: tuple[str, ...] = field(default=(), compare=False)
    guest_tsc: int = 0          # the guest's TSC at the read, from the host's (hosttsc.py); 0: unknown

    @property
    def ncpu(self) -> int:
        return len(self.cpus)

    def __repr__(self) -> str:
        if not self.valid:
            return f"<StatsSnapshot t={self.host_time:.3f} (not valid yet)>"
        return f"<StatsSnapshot t={self.host_time:.3f} ncpu={self.ncpu} tsc_hz={self.tsc_hz}>"


class StatsBlock:
    """Read-only view of ``kit_stats`` in a VM's RAM file.

    Opens lazily: until QEMU has created and sized the file, ``read()``
    returns an invalid snapshot instead of failing.  Thread-safe.
    """

    def __init__(self, ram_path: str | os.PathLike, address: int):
        self.ram_path = Path(ram_path)
        self.address = int(address)
        self._lock = threading.Lock()
        self._mm: mmap.mmap | None = None
        self._base = 0          # offset of the block inside the mapping
        self._closed = False
        self._offset: int | None = None    # guest TSC - host TSC, a lower bound (_guest_tsc_locked)

    def _open_locked(self) -> bool:
        if self._mm is not None:
            return True
        if self._closed:
            raise KitError("the stats block was closed (the VM has stopped)")
        try:
            fd = os.open(self.ram_path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        try:
            size = os.fstat(fd).st_size
            start = self.address - self.address % mmap.ALLOCATIONGRANULARITY
            if size < self.address + _HEADER.size:
                if size > 0:
                    raise KitError(
                        f"kit_stats at {self.address:#x} lies outside guest RAM "
                        f"({size >> 20} MiB): is the kernel identity-mapped below the RAM size?"
                    )
                return False
            length = min(size - start, _WINDOW)
            self._mm = mmap.mmap(fd, length, mmap.MAP_SHARED, mmap.PROT_READ, offset=start)
            self._base = self.address - start
        finally:
            os.close(fd)
        return True

    def read(self) -> StatsSnapshot:
        """A consistent copy of every CPU's record (seqlock-checked)."""
        with self._lock:
            t0 = time.monotonic()
            if not self._open_locked():
                return StatsSnapshot(host_time=t0)
            snap = self._read_locked()
            host_tsc = read_tsc()
            t1 = time.monotonic()
            guest_tsc = self._guest_tsc_locked(host_tsc, snap[1], snap[2]) if snap[3] else 0
        return StatsSnapshot(
            host_time=(t0 + t1) / 2,
            tsc_hz=snap[0],
            ready_tsc=snap[1],
            cpus=snap[2],
            valid=snap[3],
            fields=snap[4],
            guest_tsc=guest_tsc,
        )

    def _guest_tsc_locked(self, host_tsc: int | None, ready_tsc: int,
                          cpus: tuple[dict[str, int], ...]) -> int:
        """The guest's TSC now: the host's plus the offset between them.

        Every stamp in the block was taken before this read, so each gives
        offset >= stamp - host_tsc; the largest such bound so far is the
        estimate.  It only grows, and it is tight as soon as a stamp is
        read just after it was taken (a spinning CPU's last_tsc, or a halt
        that has just begun).
        """
        if host_tsc is None:
            return 0
        stamps = [ready_tsc] + [c.get(k, 0) for c in cpus for k in ("last_tsc", "halt_since")]
        bound = max(stamps) - host_tsc
        if self._offset is None or bound > self._offset:
            self._offset = bound
        return host_tsc + self._offset

    def _read_locked(self) -> tuple[int, int, tuple[dict[str, int], ...], bool, tuple[str, ...]]:
        mm = self._mm
        assert mm is not None
        magic, version, ncpu, cpu_offset, stride, tsc_hz, ready_tsc = _HEADER.unpack_from(mm, self._base)
        if magic != MAGIC:
            return (0, 0, (), False, ())
        if version != VERSION:
            raise KitError(f"stats block version {version}, this kitlib reads version {VERSION}: update kitlib")
        names_at, names_end = self._base + _HEADER.size, self._base + min(cpu_offset, len(mm) - self._base)
        raw = mm[names_at:names_end] if names_end > names_at else b""
        names = tuple(raw.split(b"\0", 1)[0].decode("ascii", "replace").split())
        nfields = len(names)
        end = self._base + cpu_offset + ncpu * stride
        if (
            ncpu > _MAX_CPUS or not names or stride < 8 * nfields or cpu_offset < _HEADER.size
            or cpu_offset % 8 or stride % 8 or self._base % 8 or end > len(mm)
        ):
            raise KitError(
                f"stats block header is inconsistent (ncpu={ncpu}, cpu_offset={cpu_offset}, "
                f"stride={stride}, {nfields} fields): kernel/stats.h and the kernel disagree"
            )
        record = struct.Struct(f"@{nfields}Q")
        seq_at = names.index("seq") if "seq" in names else None
        cpus = []
        for cpu in range(ncpu):
            offset = self._base + cpu_offset + cpu * stride
            values = self._read_record(mm, record, offset, seq_at, cpu)
            cpus.append(dict(zip(names, values)))
        return (tsc_hz, ready_tsc, tuple(cpus), True, names)

    @staticmethod
    def _read_record(
        mm: mmap.mmap, record: struct.Struct, offset: int, seq_at: int | None, cpu: int
    ) -> tuple[int, ...]:
        if seq_at is None:
            return record.unpack_from(mm, offset)
        seq_offset = offset + 8 * seq_at
        deadline = time.monotonic() + _SEQ_TIMEOUT
        spins = 0
        while True:
            before = struct.unpack_from("@Q", mm, seq_offset)[0]
            if not before & 1:
                values = record.unpack_from(mm, offset)
                after = struct.unpack_from("@Q", mm, seq_offset)[0]
                if before == after == values[seq_at]:
                    return values
            spins += 1
            if spins % 64 == 0:
                if time.monotonic() > deadline:
                    raise KitError(
                        f"CPU {cpu}'s stats record stayed mid-update for {_SEQ_TIMEOUT} s "
                        "(seq odd or changing): does the kernel leave its seqlock odd?"
                    )
                time.sleep(0)   # let a descheduled vCPU thread finish its update

    def close(self) -> None:
        """Unmap the RAM file; later reads raise KitError."""
        with self._lock:
            self._closed = True
            if self._mm is not None:
                self._mm.close()
                self._mm = None

    def __repr__(self) -> str:
        return f"<StatsBlock {self.ram_path} @ {self.address:#x}>"


def _guest_now(snap: StatsSnapshot, ready_time: float) -> float:
    """The guest's TSC at the read: from the host's TSC where it can be read,
    else from the guest's rate, anchored at the 'kit: ready' line (which
    drifts by the rate's error)."""
    if snap.guest_tsc:
        return snap.guest_tsc
    return snap.ready_tsc + snap.tsc_hz * (snap.host_time - ready_time)


def _ongoing(snap: StatsSnapshot, cpu: dict[str, int], ready_time: float) -> float:
    """Cycles of a halt still in progress at the snapshot (0 if the CPU runs)."""
    since = cpu.get("halt_since", 0)
    if not since:
        return 0.0
    return max(0.0, _guest_now(snap, ready_time) - since)


def halted_fraction(a: StatsSnapshot, b: StatsSnapshot, ready_time: float | None) -> list[float]:
    """Fraction of the interval a -> b that each CPU spent halted, in [0, 1].

    halted = Δhalted_tsc + ongoing(b) - ongoing(a); a halt in progress is
    counted by the host because a halted CPU cannot count it.  NaN for CPUs
    not known at both ends, when tsc_hz is 0, a snapshot is invalid, or the
    time of 'kit: ready' (``ready_time``, host monotonic seconds) is unknown.
    """
    n = len(b.cpus)
    dt = b.host_time - a.host_time
    if not (a.valid and b.valid) or b.tsc_hz == 0 or ready_time is None or dt <= 0:
        return [math.nan] * n
    span = b.guest_tsc - a.guest_tsc if a.guest_tsc and b.guest_tsc else b.tsc_hz * dt
    if span <= 0:
        return [math.nan] * n
    out = []
    for i, cb in enumerate(b.cpus):
        if i >= len(a.cpus) or "halted_tsc" not in cb:
            out.append(math.nan)
            continue
        ca = a.cpus[i]
        halted = (cb["halted_tsc"] - ca["halted_tsc"]) + _ongoing(b, cb, ready_time) - _ongoing(a, ca, ready_time)
        out.append(min(1.0, max(0.0, halted / span)))
    return out


def is_counter(name: str) -> bool:
    """Whether a per-CPU field counts events (stats.h: fields named ``*_tsc``
    or ``*_since`` are TSC stamps, ``*_now`` are levels, such as connections
    open now, which go up and down, and ``seq`` is the sequence count)."""
    return name != "seq" and not name.endswith(("_tsc", "_since", "_now"))


def counter_rate(a: StatsSnapshot, b: StatsSnapshot, name: str) -> list[float]:
    """Events per second of counter ``name`` on each CPU over a -> b (NaN when unknown)."""
    n = len(b.cpus)
    dt = b.host_time - a.host_time
    if not (a.valid and b.valid) or dt <= 0:
        return [math.nan] * n
    out = []
    for i, cb in enumerate(b.cpus):
        if i >= len(a.cpus) or name not in cb or name not in a.cpus[i]:
            out.append(math.nan)
            continue
        out.append(max(0.0, (cb[name] - a.cpus[i][name]) / dt))
    return out


def idle_rate(a: StatsSnapshot, b: StatsSnapshot) -> list[float]:
    """Idle-loop passes per second of each CPU over a -> b (NaN when unknown)."""
    return counter_rate(a, b, "idle_passes")
