"""Find QEMU, choose the accelerator, and write its command line.

The command line: guest RAM in a shared file under /dev/shm (so the host
can read the guest's stats block without waking it), named vCPU threads
(``-name ...,debug-threads=on``), a QMP socket, the serial console on stdio
with the terminal's signal keys off (``-chardev stdio,signal=off``: without
it QEMU keeps ISIG, and a 0x03 or 0x1c typed to the guest would be SIGINT or
SIGQUIT to QEMU; QEMU's documentation of ``-chardev stdio``) and the isa-debug-exit device (a guest's write of v ends QEMU with status
(v << 1) | 1).  TCG is the default: under nested virtualisation /dev/kvm
works, but its timings are erratic.  Devices and their back-ends are added
as QEMU's own Python ``QEMUMachine`` does: ``-device <value>`` a device, and
further arguments as given (``-netdev user,id=n0``).
"""

from __future__ import annotations

import fcntl
import functools
import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from .errors import KvmUnavailable, QemuNotFound

__all__ = ["find_qemu", "qemu_version", "kvm_usable", "resolve_accel", "command_line",
           "device_args", "check_args", "host_cpu_set", "confine"]

QEMU_BINARY = "qemu-system-x86_64"
EXIT_SUCCESS = 33   # guest wrote 0x10 to isa-debug-exit: (0x10 << 1) | 1
EXIT_FAILURE = 35   # guest wrote 0x11
CONSOLE_ID = "kitcon"   # the serial console's character device
_KVM_GET_API_VERSION = 0xAE00
_KVM_API_VERSION = 12


def find_qemu() -> str:
    """Path of qemu-system-x86_64: ``$KIT_QEMU`` if set, else from PATH."""
    env = os.environ.get("KIT_QEMU")
    if env:
        if os.sep in env:
            if os.path.isfile(env) and os.access(env, os.X_OK):
                return env
            raise QemuNotFound(f"KIT_QEMU={env} is not an executable file")
        found = shutil.which(env)
        if found is None:
            raise QemuNotFound(f"KIT_QEMU={env} is not on PATH")
        return found
    found = shutil.which(QEMU_BINARY)
    if found is None:
        raise QemuNotFound(f"{QEMU_BINARY} is not on PATH")
    return found


def qemu_version(qemu: str | None = None) -> str:
    """QEMU's version number, e.g. ``"7.2.22"``."""
    return _version(qemu or find_qemu())


@functools.lru_cache(maxsize=4)
def _version(qemu: str) -> str:
    out = subprocess.run(
        [qemu, "--version"], capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL
    ).stdout
    match = re.search(r"version\s+(\S+)", out)
    return match.group(1) if match else out.strip().splitlines()[0] if out.strip() else "unknown"


def _kvm_problem() -> str | None:
    """Why /dev/kvm cannot be used, or None when it can."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return "/dev/kvm does not exist (no hardware virtualisation, or the kvm module is not loaded)"
    except PermissionError:
        return "your user may not open /dev/kvm"
    except OSError as exc:
        return f"/dev/kvm cannot be opened ({exc.strerror})"
    try:
        version = fcntl.ioctl(fd, _KVM_GET_API_VERSION)
    except OSError as exc:
        return f"/dev/kvm does not answer KVM_GET_API_VERSION ({exc.strerror})"
    finally:
        os.close(fd)
    if version != _KVM_API_VERSION:
        return f"/dev/kvm reports API version {version}, expected {_KVM_API_VERSION}"
    return None


def kvm_usable() -> bool:
    """Whether /dev/kvm can be opened and answers like KVM."""
    return _kvm_problem() is None


def resolve_accel(accel: str = "auto") -> str:
    """Turn ``"auto"``, ``"tcg"`` or ``"kvm"`` into the accelerator to use.

    ``auto`` is TCG unless ``KIT_ACCEL=kvm`` is set and KVM is usable: TCG
    gives the same picture on every machine, which a lesson relies on.
    ``kvm`` raises KvmUnavailable (with a hint) when /dev/kvm is unusable.
    """
    accel = (accel or "auto").lower()
    if accel == "auto":
        if os.environ.get("KIT_ACCEL", "").lower() == "kvm" and kvm_usable():
            return "kvm"
        return "tcg"
    if accel == "tcg":
        return "tcg"
    if accel == "kvm":
        problem = _kvm_problem()
        if problem is not None:
            raise KvmUnavailable(problem)
        return "kvm"
    raise ValueError(f"accel must be 'auto', 'tcg' or 'kvm', not {accel!r}")


def command_line(
    kernel: str | os.PathLike,
    *,
    name: str,
    shm_path: str | os.PathLike,
    qmp_path: str | os.PathLike,
    cpus: int = 1,
    memory_mb: int = 64,
    append: str = "",
    accel: str = "tcg",
    machine: str = "pc",
    qemu: str | None = None,
    extra: list[str] | tuple[str, ...] = (),
    initrd: str | os.PathLike | None = None,
) -> list[str]:
    """The argv that boots ``kernel`` (see the module's docstring), then ``extra``.

    ``initrd`` is a Linux kernel's initial RAM file system (``-initrd``).

    ``accel`` must already be resolved ("tcg" or "kvm"); under KVM the CPU
    model is ``qemu64`` because ``-cpu host`` aborts on nested hosts.
    """
    if accel not in ("tcg", "kvm"):
        raise ValueError(f"command_line needs a resolved accel ('tcg' or 'kvm'), not {accel!r}")
    mem = f"{int(memory_mb)}M"
    argv = [
        qemu or find_qemu(),
        "-M", machine,
        "-smp", str(int(cpus)),
        "-m", mem,
        "-kernel", str(Path(kernel)),
    ]
    if initrd is not None:
        argv += ["-initrd", str(Path(initrd))]
    if append:
        argv += ["-append", append]
    argv += [
        "-object", f"memory-backend-file,id=ram,size={mem},mem-path={shm_path},share=on",
        "-machine", "memory-backend=ram",
        "-name", f"{name},debug-threads=on",
        "-qmp", f"unix:{qmp_path},server=on,wait=off",
        "-chardev", f"stdio,id={CONSOLE_ID},signal=off",
        "-serial", f"chardev:{CONSOLE_ID}",
        "-display", "none",
        "-monitor", "none",
        "-no-reboot",
        "-nic", "none",         # no default NIC (on pc an e1000 on user networking): devices= adds one
        "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
    ]
    argv += ["-accel", "tcg"] if accel == "tcg" else ["-accel", "kvm", "-cpu", "qemu64"]
    argv += list(extra)
    return argv


# Options the kit sets itself: a second one would take the console, QMP, the
# RAM file or the kernel away from the VM object that reads them.
_OWNED = frozenset({"-kernel", "-append", "-initrd", "-serial", "-qmp", "-monitor", "-mon",
                    "-chardev", "-display", "-nographic", "-daemonize", "-name", "-smp", "-m",
                    "-M", "-accel", "-enable-kvm", "-no-reboot", "-pidfile", "-S"})


def device_args(devices: list[str] | tuple[str, ...]) -> list[str]:
    """``-device <value>`` for each device (e.g. ``"virtio-net-pci,netdev=n0"``).

    A device is the option's value: a driver name, then ``,key=value``
    properties.  A flag (``-device ...``) or an empty string is a ValueError.
    """
    argv: list[str] = []
    for d in devices:
        if not isinstance(d, str) or not d.strip() or d.startswith("-") or any(c.isspace() for c in d):
            raise ValueError(f"a device is the value of -device, such as 'virtio-net-pci,netdev=n0', "
                             f"not {d!r}")
        argv += ["-device", d]
    return argv


def check_args(args: list[str] | tuple[str, ...]) -> list[str]:
    """Further QEMU arguments, one word each (``["-netdev", "user,id=n0"]``).

    The first must be an option; options the kit sets itself (the console,
    QMP, the kernel, the machine's size) are a ValueError.
    """
    args = list(args)
    for a in args:
        if not isinstance(a, str) or not a:
            raise ValueError(f"QEMU arguments are non-empty strings, not {a!r}")
    if args and not args[0].startswith("-"):
        raise ValueError(f"QEMU arguments start with an option (e.g. '-netdev'), not {args[0]!r}")
    owned = sorted(_OWNED.intersection(args))
    if owned:
        raise ValueError(f"{', '.join(owned)}: the kit sets {'this' if len(owned) == 1 else 'these'} "
                         "itself (use VM's own parameters)")
    return args


def host_cpu_set(host_cpus: "int | Iterable[int] | None") -> frozenset[int] | None:
    """The host CPUs a VM's QEMU may run on: None for all that this process may use.

    An int n is the first n of the CPUs this process may use (all of them
    when it may use fewer); a collection names the CPUs, each one this
    process may use.  This is how a lesson makes vCPUs outnumber host cores
    on any host: ``host_cpus=2`` with 4 vCPUs.
    """
    if host_cpus is None:
        return None
    allowed = sorted(os.sched_getaffinity(0))
    if isinstance(host_cpus, bool) or not isinstance(host_cpus, (int, Iterable)):
        raise ValueError(f"host_cpus is a number of host CPUs or a collection of CPU numbers, not {host_cpus!r}")
    if isinstance(host_cpus, int):
        if host_cpus < 1:
            raise ValueError(f"host_cpus must be at least 1, not {host_cpus}")
        return frozenset(allowed[:host_cpus])
    cpus = frozenset(int(c) for c in host_cpus)
    if not cpus or not cpus <= set(allowed):
        raise ValueError(f"host_cpus {sorted(cpus)} must be a non-empty subset of the CPUs this process "
                         f"may use, {allowed}")
    return cpus


def confine(pid: int, cpus: frozenset[int]) -> None:
    """Let QEMU (process ``pid``) run only on the host CPUs ``cpus``.

    The main thread first: a thread inherits its creator's CPU affinity
    (sched_setaffinity(2)), and QEMU's main thread creates the vCPU threads,
    so those it makes from now on are confined; then every thread it has
    already, which covers any made before.
    """
    os.sched_setaffinity(pid, cpus)
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return                              # it has already exited
    for tid in tids:
        try:
            os.sched_setaffinity(int(tid), cpus)
        except ProcessLookupError:
            pass                            # that thread has ended
