"""The host's time-stamp counter, read from Python.

A halted guest CPU cannot say how long it has been halted: the host adds
the halt in progress, now - halt_since, in the guest's clock (guest.py).
The guest's TSC is the host's plus a constant: under TCG QEMU derives the
guest's RDTSC from the host's (``cpu_get_host_ticks``, in cpus_get_elapsed_ticks),
and under KVM the CPU adds the VMCS's TSC offset (SDM Vol. 3C 25.3, Changes
to Instruction Behavior in VMX Non-Root Operation: RDTSC).  So reading the
host's TSC gives the guest's "now" once the offset is known, with no drift;
a rate from the guest's own calibration would drift by its error, several
milliseconds a second.

RDTSC is one instruction with no Python binding, so it is run from a page
of executable memory (10 bytes of machine code).  ``read_tsc()`` returns
None where that cannot be done (another architecture, a kernel that forbids
executable mappings or RDTSC in user mode): callers fall back to the rate.
"""

from __future__ import annotations

import ctypes
import mmap
import platform

__all__ = ["read_tsc"]

# rdtsc; shl $32, %rdx; or %rdx, %rax; ret (SDM Vol. 2B, RDTSC: EDX:EAX)
_CODE = bytes([0x0F, 0x31, 0x48, 0xC1, 0xE2, 0x20, 0x48, 0x09, 0xD0, 0xC3])


def _load():
    if platform.machine() not in ("x86_64", "AMD64"):
        return None
    try:
        page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        page.write(_CODE)
        fn = ctypes.CFUNCTYPE(ctypes.c_uint64)(ctypes.addressof(ctypes.c_char.from_buffer(page)))
        fn()                            # a #GP here (CR4.TSD set) would kill the process, not raise
        return page, fn                 # the page lives as long as the function
    except (OSError, ValueError, TypeError):
        return None


_rdtsc = _load()


def read_tsc() -> int | None:
    """The host CPU's TSC now, or None if it cannot be read here."""
    return _rdtsc[1]() if _rdtsc is not None else None
