"""What the kernel can take, checked before QEMU starts: a kernel given more
fails in ways that do not name the cause (a command line over its buffer
reads as a bad PVH magic, too little RAM as a missing ACPI signature).
Each limit names the kernel constant it mirrors; tests/test_limits.py reads
the kernel's headers and checks that they agree.
"""

from __future__ import annotations

import re

from .errors import KitError

__all__ = ["CPUS_MAX", "CMDLINE_MAX", "CMDLINE_WORDS", "MEMORY_MB_MIN", "MEMORY_MB_MAX", "NAME_MAX",
           "check_cpus", "check_memory", "check_append", "check_name"]

CPUS_MAX = 16               # kernel/stats.h NCPU_MAX: the kernel brings up at most this many
CMDLINE_MAX = 1023          # kernel/defs.h CMDLINE_MAX, less the NUL: bytes of the command line
CMDLINE_WORDS = 64          # kernel/defs.h CMDLINE_ARGS: words of the command line
# Measured: with 16 vCPUs every stage boots in 5 MiB; in 4 MiB, from stage sched
# on, the ACPI tables QEMU writes at the top of RAM land on the kernel's image.
MEMORY_MB_MIN = 5
MEMORY_MB_MAX = 4096        # kernel/mmu.h IDMAP_END: the kernel maps the first 4 GiB only
NAME_MAX = 40               # a name is in a socket path, whose limit is 107 bytes (unix(7))
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def check_cpus(cpus: int) -> int:
    """``cpus`` as an int, or a KitError naming the range."""
    if isinstance(cpus, bool) or int(cpus) != cpus or not 1 <= int(cpus) <= CPUS_MAX:
        raise KitError(f"cpus={cpus!r}: a VM has 1 to {CPUS_MAX} vCPUs (the kernel's NCPU_MAX)")
    return int(cpus)


def check_memory(memory_mb: int) -> int:
    """``memory_mb`` as an int, or a KitError naming the range."""
    if isinstance(memory_mb, bool) or int(memory_mb) != memory_mb \
            or not MEMORY_MB_MIN <= int(memory_mb) <= MEMORY_MB_MAX:
        raise KitError(f"memory_mb={memory_mb!r}: a VM has {MEMORY_MB_MIN} to {MEMORY_MB_MAX} MiB of RAM "
                       f"(less does not boot every stage; the kernel maps only the first 4 GiB)")
    return int(memory_mb)


def check_append(append: str) -> str:
    """``append`` if the kernel's command-line buffer holds it, else a KitError."""
    if not isinstance(append, str):
        raise KitError(f"append is the kernel's command line, a string, not {append!r}")
    size, words = len(append.encode()), len(append.split())
    if size > CMDLINE_MAX or words > CMDLINE_WORDS:
        raise KitError(f"the kernel's command line is {size} bytes and {words} words; the kernel takes "
                       f"at most {CMDLINE_MAX} bytes and {CMDLINE_WORDS} words (kernel/defs.h CMDLINE_MAX, "
                       "CMDLINE_ARGS)")
    if "\0" in append:
        raise KitError("the kernel's command line cannot hold a NUL byte")
    return append


def check_name(name: str) -> str:
    """``name`` if it can name a VM's files and sockets, else a KitError."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or len(name) > NAME_MAX:
        raise KitError(f"name={name!r}: a VM's name is 1 to {NAME_MAX} letters, digits, '_', '.' or '-', "
                       "starting with a letter or digit (it names the guest's RAM file in /dev/shm)")
    return name
