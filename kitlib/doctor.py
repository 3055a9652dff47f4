"""``kit doctor``: is everything the kit needs on this machine?"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass

from .errors import QEMU_INSTALL_HINT, KitError
from .process import shm_free_mb

SHM_NEED_MB = 64            # VM's default memory_mb: its RAM file in /dev/shm


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    hint: str = ""
    optional: bool = False


def _version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"({e})"
    return out.splitlines()[0] if out else ""


def _tool(name: str, command: str, package: str, version: str = "--version") -> Check:
    path = shutil.which(command)
    if path is None:
        return Check(name, False, f"{command} not found",
                     f"install it: sudo apt-get install {package}   (or: ./kit setup)")
    return Check(name, True, _version([command, version])[:100])


# `qemu-system-x86_64 --version` begins so (QEMU's own vl.c: "QEMU emulator version ...").
_QEMU_VERSION = re.compile(r"^QEMU emulator version (\S+)", re.M)


def _qemu(qemu: str) -> Check:
    """QEMU must run and answer ``--version`` as QEMU does, not merely exist."""
    try:
        done = subprocess.run([qemu, "--version"], capture_output=True, text=True, timeout=10,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        return Check("qemu", False, f"{qemu} does not run ({e})", QEMU_HINT)
    m = _QEMU_VERSION.search(done.stdout)
    if done.returncode != 0 or m is None:
        said = (done.stdout + done.stderr).strip().splitlines()
        return Check("qemu", False, f"{qemu} --version exited with status {done.returncode} and said "
                     f"{said[0][:80]!r}" if said else f"{qemu} --version exited with status "
                     f"{done.returncode} and said nothing: not QEMU", QEMU_HINT)
    return Check("qemu", True, f"{done.stdout.splitlines()[0]} ({qemu})")


QEMU_HINT = (f"KIT_QEMU must name qemu-system-x86_64, or be unset; install QEMU with: {QEMU_INSTALL_HINT}")


def _shm(need_mb: int = SHM_NEED_MB) -> Check:
    """Guest RAM is a file in /dev/shm: it must be writable and have room for a VM's RAM."""
    try:
        with tempfile.NamedTemporaryFile(dir="/dev/shm", prefix="kit-doctor-"):
            pass
    except OSError as e:
        return Check("/dev/shm", False, str(e), "the guest-stats view needs a writable /dev/shm (tmpfs)")
    free = shm_free_mb()
    if free < need_mb:
        return Check("/dev/shm", False, f"writable, but {free:.0f} MiB free: a VM of the default size needs "
                     f"{need_mb} MiB there (a guest touching RAM that does not fit dies of SIGBUS)",
                     "remove old files from /dev/shm (ls -la /dev/shm), or give VMs less memory_mb")
    return Check("/dev/shm", True, f"writable, {free:.0f} MiB free (a VM of the default size needs "
                 f"{need_mb} MiB: the guest's RAM is shared through it)")


def checks() -> list[Check]:
    """Each piece the kit needs, found or not, with a hint for what is missing."""
    from .qemu import find_qemu, kvm_usable

    out = []
    try:
        out.append(_qemu(find_qemu()))
    except KitError as e:
        out.append(Check("qemu", False, "qemu-system-x86_64 not found", str(e)))
    out.append(_tool("gcc", "gcc", "gcc"))
    out.append(_tool("ld", "ld", "binutils"))
    out.append(_tool("make", "make", "make"))
    out.append(_shm())
    out += [_tool(*tool) for tool in NET_TOOLS]
    out.append(_fuzzer_runtime())
    out.append(_static_libc())
    out.append(_peer())

    if kvm_usable():
        out.append(Check("kvm", True, "/dev/kvm is usable (opt in with KIT_ACCEL=kvm; TCG is the default)",
                         optional=True))
    else:
        why = "absent" if not os.path.exists("/dev/kvm") else "not readable and writable by you"
        out.append(Check("kvm", False, f"/dev/kvm {why}: QEMU runs under TCG (the default)",
                         "optional: add yourself to the kvm group for KVM", optional=True))

    out += [_package(module, dist, use) for module, dist, use in PACKAGES]
    return out


# The net stage's HTTP clients and the parsers' fuzzer compiler: the check's
# name, the command, the Debian package (./kit's pkg_for installs the same),
# the option that makes it say its version.
NET_TOOLS = (
    ("wrk", "wrk", "wrk", "--version"),
    ("ab", "ab", "apache2-utils", "-V"),
    ("curl", "curl", "curl", "--version"),
    ("clang", "clang", "clang", "--version"),
)

FUZZER_LIB = "libclang_rt.fuzzer-x86_64.a"


def _clang_major() -> str | None:
    m = re.search(r"clang version (\d+)", _version(["clang", "--version"]))
    return m.group(1) if m else None


def _fuzzer_runtime() -> Check:
    """libFuzzer's runtime has no command: clang names its file, or echoes the
    bare name back when it has none.  Its package is libclang-rt-<major>-dev
    on Debian 12 (libclang-common-<major>-dev on Ubuntu 22.04 and older)."""
    if shutil.which("clang") is None:
        return Check("libFuzzer", False, "needs clang first", "install clang, then run this again   (or: ./kit setup)")
    try:
        path = subprocess.run(["clang", f"-print-file-name={FUZZER_LIB}"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        path = f"({e})"
    if os.path.isabs(path) and os.path.isfile(path):
        return Check("libFuzzer", True, path)
    major = _clang_major() or "14"
    return Check("libFuzzer", False, f"clang {major} has no {FUZZER_LIB}",
                 f"install it: sudo apt-get install libclang-rt-{major}-dev   "
                 f"(Ubuntu 22.04: libclang-common-{major}-dev; or: ./kit setup)")


def _static_libc() -> Check:
    """glibc's static library, which the Linux peer's server is linked with
    (``gcc -static``).  Like clang, gcc names the file, or echoes the bare
    name back when it has none; Debian's gcc only recommends libc6-dev."""
    hint = "install it: sudo apt-get install libc6-dev   (or: ./kit setup)"
    if shutil.which("gcc") is None:
        return Check("libc.a", False, "needs gcc first", "install gcc, then run this again   (or: ./kit setup)")
    try:
        path = subprocess.run(["gcc", "-print-file-name=libc.a"], capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        path = f"({e})"
    if os.path.isabs(path) and os.path.isfile(path):
        return Check("libc.a", True, f"{path} (the Linux peer's server links statically)")
    return Check("libc.a", False, "gcc finds no static C library (the Linux peer's server needs it)", hint)


def _peer() -> Check:
    """The Linux peer (kit peer build): built already, or can its packages be had?
    Optional: where they cannot, lesson 07 skips the peer."""
    from .peer import APT_HINT, BUSYBOX_PACKAGE, KERNEL_PACKAGE, built_version

    version = built_version()
    if version is not None:
        return Check("linux peer", True, f"built: Linux {version} (build/peer/)", optional=True)
    missing = [c for c in ("apt-get", "apt-cache", "dpkg-deb") if shutil.which(c) is None]
    if missing:
        return Check("linux peer", False, f"{', '.join(missing)} not found: Debian's packages cannot be "
                     "fetched here, so lesson 07 skips the Linux peer", APT_HINT, optional=True)
    try:
        known = subprocess.run(["apt-cache", "show", KERNEL_PACKAGE, BUSYBOX_PACKAGE], capture_output=True,
                               text=True, timeout=30, stdin=subprocess.DEVNULL).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        known = False
    if not known:
        return Check("linux peer", False, f"apt knows no {KERNEL_PACKAGE} or {BUSYBOX_PACKAGE}",
                     APT_HINT, optional=True)
    return Check("linux peer", True, f"not built; `kit peer build` downloads {KERNEL_PACKAGE} and "
                 f"{BUSYBOX_PACKAGE} (about 28 MB) once", optional=True)


# Python packages: the module imported, the distribution pip installs, what needs it.
PACKAGES = (
    ("pexpect", "pexpect", "the VM's console"),
    ("elftools", "pyelftools", "finding the guest's statistics block"),
    ("numpy", "numpy", "the lessons' plots"),
    ("plotly", "plotly", "the lessons' plots"),
    ("anywidget", "anywidget", "the lessons' live plots"),
    ("ipywidgets", "ipywidgets", "the lessons' controls"),
)


def _package(module: str, dist: str, use: str) -> Check:
    """Whether ``module`` imports; any failure of its import counts as missing."""
    try:
        m = importlib.import_module(module)
    except Exception as e:                  # a broken install fails in its own way
        why = "not installed" if isinstance(e, ImportError) else f"fails to import ({type(e).__name__}: {e})"
        return Check(module, False, f"{why}; needed for {use}",
                     f"install it: {sys.executable} -m pip install {dist}   (or: ./kit setup)")
    return Check(module, True, getattr(m, "__version__", "installed"))
