"""``kit doctor``: is everything the kit needs on this machine?"""

from __future__ import annotations

import importlib
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import QEMU_INSTALL_HINT, KitError
from .process import PREFIX, shm_dir

SHM_NEED_MB = 64            # VM's default memory_mb: its RAM file in /dev/shm
SHM_ROOMY_MB = 256          # the Linux peer's memory_mb (peer.MEMORY_MB): below this, say so


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


@dataclass(frozen=True)
class ShmState:
    """What the /dev/shm check looks at (MiB): gathered by ``shm_state``, given by tests."""

    path: str
    total_mb: float
    free_mb: float
    kit_mb: float                   # in the kit's own files there (kit-*: RAM of VMs running, or left over)
    error: str | None = None        # why a file could not be made there, or None


def shm_state(path: Path | None = None) -> ShmState:
    """The state of the directory guest RAM files go to (``/dev/shm``)."""
    where = Path(path) if path is not None else shm_dir()
    error = None
    try:
        with tempfile.NamedTemporaryFile(dir=where, prefix="kit-doctor-"):
            pass
    except OSError as e:
        error = str(e)
    try:
        usage = shutil.disk_usage(where)
        total, free = usage.total / (1 << 20), usage.free / (1 << 20)
    except OSError:
        total = free = 0.0
    kit = 0
    for f in where.glob(f"{PREFIX}*"):
        try:
            kit += f.stat().st_blocks * 512         # what the file fills, not its (sparse) size
        except OSError:
            continue
    return ShmState(str(where), total, free, kit / (1 << 20), error)


def _shm(state: ShmState | None = None, need_mb: int = SHM_NEED_MB, roomy_mb: int = SHM_ROOMY_MB) -> Check:
    """Guest RAM is a file in /dev/shm (a tmpfs): it must be writable and have
    room for a VM's RAM.  A VM's file fills only the pages its guest touched,
    so a small /dev/shm (64 MiB is a container's usual default: Docker's
    --shm-size) holds the kit's kernels; the Linux peer's 256 MiB may not fit."""
    st = state if state is not None else shm_state()
    if st.error is not None:
        return Check("/dev/shm", False, st.error, "the guest-stats view needs a writable /dev/shm (tmpfs)")
    others = max(0.0, st.total_mb - st.free_mb - st.kit_mb)
    use = f"in use: {st.kit_mb:.0f} MiB by the kit's files, {others:.0f} MiB by others"
    if st.free_mb < need_mb:
        why = ("the kit's files fill most of it: VMs running, or left by a killed run "
               "(ls -la /dev/shm/kit-*; a file whose VM is gone can go)" if st.kit_mb >= others else
               "other programs' files fill most of it (ls -la /dev/shm)")
        return Check("/dev/shm", False, f"writable, {st.free_mb:.0f} of {st.total_mb:.0f} MiB free ({use}): "
                     f"a VM of the default size needs {need_mb} MiB there (a guest touching RAM that does not "
                     f"fit dies of SIGBUS)", f"{why}; or give VMs less memory_mb")
    if st.total_mb < roomy_mb:
        return Check("/dev/shm", True, f"writable, small: {st.free_mb:.0f} of {st.total_mb:.0f} MiB free ({use}). "
                     f"Fine for the kit's kernels (a VM's {need_mb} MiB RAM file fills only what its guest "
                     f"touches); the Linux peer of lesson 07 has {roomy_mb} MiB of RAM and may not fit "
                     f"(a container gets more with docker run --shm-size=512m)")
    return Check("/dev/shm", True, f"writable, {st.free_mb:.0f} of {st.total_mb:.0f} MiB free ({use}; a VM of "
                 f"the default size needs {need_mb} MiB: the guest's RAM is shared through it)")


def _pty(openpty: Callable[[], tuple[int, int]] = os.openpty) -> Check:
    """pexpect talks to QEMU's console through a pseudo-terminal: one must open
    and carry a line (a container without /dev/ptmx or a devpts mount cannot)."""
    hint = ("the kit needs pseudo-terminals: /dev/ptmx and devpts mounted on /dev/pts "
            "(in a chroot or a bare container: mount -t devpts devpts /dev/pts)")
    try:
        master, slave = openpty()
    except OSError as e:
        return Check("pty", False, f"no pseudo-terminal opens ({e.strerror or e})", hint)
    try:
        os.write(slave, b"kit\n")
        ready, _, _ = select.select([master], [], [], 2.0)
        got = os.read(master, 64) if ready else b""
    except OSError as e:
        return Check("pty", False, f"a pseudo-terminal opened but carries nothing ({e.strerror or e})", hint)
    finally:
        os.close(master)
        os.close(slave)
    if b"kit" not in got:
        return Check("pty", False, f"a pseudo-terminal opened but a line written to it came back as {got!r}", hint)
    return Check("pty", True, "a pseudo-terminal carries a line (pexpect talks to QEMU's console through one)")


def _kvm(exists: bool | None = None, usable: bool | None = None) -> Check:
    """KVM is optional: TCG is the default.  Where /dev/kvm is absent (a
    container, a VM without nested virtualisation, Binder) there is nothing to
    join, so no group hint; where it exists but cannot be opened, the group helps."""
    from .qemu import kvm_usable

    exists = os.path.exists("/dev/kvm") if exists is None else exists
    usable = (exists and kvm_usable()) if usable is None else usable
    if usable:
        return Check("kvm", True, "/dev/kvm is usable (opt in with KIT_ACCEL=kvm; TCG is the default)",
                     optional=True)
    if not exists:
        return Check("kvm", False, "no /dev/kvm here (a container, or a VM without nested virtualisation): "
                     "QEMU uses TCG, the default, which every lesson expects", optional=True)
    return Check("kvm", False, "/dev/kvm is here but not readable and writable by you: QEMU runs under TCG "
                 "(the default)", "optional: add yourself to the kvm group for KVM", optional=True)


def checks() -> list[Check]:
    """Each piece the kit needs, found or not, with a hint for what is missing."""
    from .qemu import find_qemu

    out = []
    try:
        out.append(_qemu(find_qemu()))
    except KitError as e:
        out.append(Check("qemu", False, "qemu-system-x86_64 not found", str(e)))
    out.append(_tool("gcc", "gcc", "gcc"))
    out.append(_tool("ld", "ld", "binutils"))
    out.append(_tool("make", "make", "make"))
    out.append(_shm())
    out.append(_pty())
    out += [_tool(*tool) for tool in NET_TOOLS]
    out.append(_browser())
    out.append(_fuzzer_runtime())
    out.append(_static_libc())
    out.append(_peer())

    out.append(_kvm())

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


def _browser() -> Check:
    """Debian's chromium, in which tests/test_browser.py runs a lesson in
    JupyterLab (Playwright drives it).  Optional: only that test needs it,
    and it skips without (./kit's browser_setup installs it)."""
    check = _tool("chromium", "chromium", "chromium")
    if check.ok:
        return replace(check, optional=True)
    return replace(check, optional=True, hint=check.hint + "; only the browser test needs it "
                   "(Ubuntu's package installs a snap, which does not run in a container)")


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
