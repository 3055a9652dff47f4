"""The Linux peer: a Linux guest on the same QEMU network, serving the same page.

Lesson 07 loads the kit's kernel and, beside it, a guest that runs what a
cloud VM runs: Debian's cloud kernel, busybox, and ``peer/httpd.c`` (an
epoll HTTP/1.1 keep-alive server), in an initramfs.  ``build_peer()`` makes
it from Debian's own packages, ``PeerVM`` boots it with the kit VM's network
card and machinery (orphan-free QEMU, console, QMP, host CPU sampling).

The build:
 - ``apt-get download`` of ``linux-image-cloud-amd64`` (a metapackage), the
   versioned kernel package it depends on, and ``busybox-static``, into
   ``build/peer/debs/`` (about 28 MB); later builds use these files and do
   not ask the network again (``refresh=True`` does);
 - from the kernel package, ``/boot/vmlinuz-*`` and the modules the card
   needs: the cloud kernel builds virtio, virtio_pci and virtio_net as
   modules, so virtio_pci and virtio_net are loaded from /init with every
   module they depend on (each module's ``.modinfo`` section, ``depends=``),
   dependencies first, decompressed here if the package compressed them;
 - ``peer/httpd.c`` compiled with ``gcc -static -O2`` (glibc's static
   library is Debian's libc6-dev);
 - an initramfs: a "newc" cpio archive (Linux's
   Documentation/driver-api/early-userspace/buffer-format.rst), written here
   and gzip-compressed, with ``peer/init`` as /init and a /dev/console node,
   which the kernel opens for /init before any devtmpfs is mounted.

Invariants:
 - the outputs in ``build/peer/`` are rebuilt only when an input changed
   (the packages' files, ``peer/httpd.c``, ``peer/init``, this builder's
   format): ``peer.json`` records the inputs' fingerprint;
 - every output is written to a temporary name and renamed, under an
   flock(2) on ``build/peer/.lock``, so a reader never sees half a file;
 - a failure to get the packages is PeerUnavailable, with what apt said and
   the command to run; a lesson or test skips with its message.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import html
import io
import json
import lzma
import os
import re
import shutil
import subprocess
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from . import paths
from . import qemu as _qemu
from .build import changed_source
from .errors import TOOLCHAIN_INSTALL_HINT, BuildError, KitError, PeerUnavailable, StaleImage
from .process import QemuProcess
from .vm import VM

__all__ = ["PeerImage", "PeerVM", "build_peer", "built_version", "READY", "MEMORY_MB", "BASE_APPEND"]

KERNEL_PACKAGE = "linux-image-cloud-amd64"      # depends on linux-image-<abi>-cloud-amd64
BUSYBOX_PACKAGE = "busybox-static"
CARD_MODULES = ("virtio_pci", "virtio_net")     # the card's drivers; their dependencies follow
READY = "peer: ready"                           # printed by peer/init once httpd listens
PANICS = ("peer: panic ", "Kernel panic - not syncing: ")
# The kernel's command line (Linux's Documentation/admin-guide/
# kernel-parameters.txt), chosen so that Linux gets the machine at its best:
#  - console=ttyS0, the kit VM's serial port; quiet: the kernel's log stays
#    off it (each byte on the UART is an I/O exit);
#  - panic=-1: a panic reboots at once, which -no-reboot makes QEMU's exit;
#  - tsc=reliable: under TCG the guest's TSC is the host's plus an offset,
#    so it is monotonic and agrees across vCPUs, but Linux's boot-time sync
#    check sees the emulated vCPUs' skew and falls back to the HPET, whose
#    every read is an emulated MMIO access: measured here, about half the
#    requests per second at one connection;
#  - mitigations=off: TCG executes nothing speculatively, so the
#    speculative-execution mitigations (retpolines, RSB filling, user-copy
#    barriers) cost time against a flaw this CPU cannot have, and the kit's
#    kernel has none.
BASE_APPEND = "console=ttyS0 quiet panic=-1 tsc=reliable mitigations=off"
# Measured (QEMU 7.2, TCG, 2 vCPUs): 96 MiB boots and serves; with 64 MiB
# the kernel resets before it prints a line.  256 leaves room for socket
# buffers under load; the RAM file in /dev/shm only holds the pages touched.
MEMORY_MB = 256
FORMAT = 1              # bump when the initramfs's layout changes: cached images are rebuilt
APT_HINT = ("On Debian, refresh apt's package lists (sudo apt-get update) and check the network; "
            f"the peer needs Debian's {KERNEL_PACKAGE} and {BUSYBOX_PACKAGE}, which other "
            "distributions do not have, so there the lesson skips it")
LIBC_HINT = "Install glibc's static library: sudo apt-get install libc6-dev   (or: ./kit setup)"


@dataclass(frozen=True)
class PeerImage:
    """The Linux peer on disk: a kernel and its initramfs, the things a PeerVM boots.

    ``rebuilt`` is True when ``build_peer`` wrote them (False when they were
    up to date); ``downloaded`` when it fetched the packages; ``seconds`` is
    how long that build took.
    """

    kernel: Path
    initrd: Path
    version: str                        # the kernel's release, e.g. "6.1.0-57-cloud-amd64"
    modules: tuple[str, ...]            # loaded by /init, in order
    rebuilt: bool = False
    downloaded: bool = False
    seconds: float = 0.0
    sources: tuple[tuple[str, int, int], ...] = field(default=(), repr=False, compare=False)

    stage = "peer"                      # what a VM's repr calls its image

    @property
    def path(self) -> Path:
        """The kernel (a VM's image path)."""
        return self.kernel

    def stale(self) -> str | None:
        """Why the image no longer matches peer/httpd.c or peer/init, or None."""
        why = changed_source(self.sources)
        if why is not None:
            return why
        for f in (self.kernel, self.initrd):
            if not f.is_file():
                return f"{f} is gone"
        return None

    def check_fresh(self) -> None:
        """Raise StaleImage if the peer's sources changed since it was built."""
        why = self.stale()
        if why is not None:
            raise StaleImage("peer", str(self.initrd), why, "kitlib.peer.build_peer() (on a shell: kit peer build)")

    def has_symbol(self, name: str) -> bool:
        """A Linux guest has no ``kit_stats``: it is watched from the host only."""
        return False

    def symbol(self, name: str) -> int:
        raise KitError(f"the Linux peer has no symbol {name!r}: it is not the kit's kernel, and only "
                       "the host's view of it (QEMU's threads) can be measured")

    def __repr__(self) -> str:
        state = "rebuilt" if self.rebuilt else "up to date"
        return f"<PeerImage Linux {self.version}: {self.initrd.name}, {state}>"

    def _repr_html_(self) -> str:
        state = "rebuilt" if self.rebuilt else "up to date"
        return (f"<b>Linux peer</b>: kernel <code>{html.escape(self.version)}</code>, "
                f"<code>{html.escape(str(self.initrd))}</code> ({state})")


class PeerVM(VM):
    """A PeerImage booted in QEMU as the kit boots its kernels.

    The same machine, accelerator, vCPU threads, QMP, console and clean stop
    as VM; the network card by default (``net=True``: the same user network,
    port forward and virtio-net card as the kit's VM); ``memory_mb`` 256 by
    default; ``append`` adds to the kernel's command line (BASE_APPEND:
    ``console=ttyS0 quiet panic=-1 tsc=reliable mitigations=off``).  ``wait_ready`` waits for
    ``peer: ready``; a ``peer: panic`` line (from /init) or a Linux
    ``Kernel panic`` is GuestPanic.  It has no ``kit_stats`` block and no
    console commands.

    >>> with PeerVM(build_peer(), cpus=2) as vm:
    ...     vm.wait_ready()
    ...     urllib.request.urlopen(vm.url).read()
    """

    ready_line = READY
    panic_marks = PANICS

    def __init__(self, image: PeerImage, *, cpus: int = 1, memory_mb: int = MEMORY_MB,
                 append: str = "", net: bool = True, boot_timeout: float = 120.0, **options) -> None:
        super().__init__(image, cpus=cpus, memory_mb=memory_mb, append=append, net=net,
                         boot_timeout=boot_timeout, **options)

    @staticmethod
    def _image(image) -> PeerImage:         # type: ignore[override]
        if not isinstance(image, PeerImage):
            raise KitError(f"PeerVM boots the Linux peer (kitlib.peer.build_peer()), not {image!r}")
        return image

    def _argv(self, proc: QemuProcess) -> list[str]:
        append = f"{BASE_APPEND} {self.append}".strip()
        return _qemu.command_line(
            self.image.kernel, initrd=self.image.initrd, name=self.name, shm_path=proc.shm_path,
            qmp_path=proc.qmp_path, cpus=self.cpus, memory_mb=self.memory_mb, append=append,
            accel=self.accel, machine=self.machine, qemu=self.qemu,
            extra=[*self.args, *_qemu.device_args(self.devices)],
        )

    def command(self, line: str, timeout: float = 10.0) -> str:
        raise KitError("the Linux peer reads no commands on its console: its /init only sleeps")


# -- the build

def build_peer(*, root: Path | str | None = None, refresh: bool = False) -> PeerImage:
    """Build the Linux peer into ``build/peer/`` (nothing if it is up to date).

    ``refresh`` downloads the packages again (a newer kernel, say).  Raises
    PeerUnavailable when Debian's packages cannot be had or glibc's static
    library is missing, BuildError when peer/httpd.c does not compile.
    """
    t0 = time.monotonic()
    root_dir = Path(root).resolve() if root is not None else paths.root()
    src = root_dir / "peer"
    out = paths.build_dir(root_dir) / "peer"
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)        # released when the file closes
        debs, downloaded = _packages(out / "debs", refresh)
        sources = [src / "httpd.c", src / "init"]
        key = _fingerprint(debs, sources)
        manifest = out / "peer.json"
        kernel, initrd = out / "vmlinuz", out / "initramfs.cpio.gz"
        old = _read_json(manifest)
        if old.get("key") == key and kernel.is_file() and initrd.is_file():
            return _image(kernel, initrd, old, sources, rebuilt=False, downloaded=downloaded, t0=t0)
        info = _assemble(debs, sources, out, kernel, initrd)
        info["key"] = key
        _write(manifest, (json.dumps(info, indent=2) + "\n").encode())
        return _image(kernel, initrd, info, sources, rebuilt=True, downloaded=downloaded, t0=t0)


def built_version(root: Path | str | None = None) -> str | None:
    """The kernel release of the peer in ``build/peer/`` if one was built, else None."""
    out = paths.build_dir(Path(root).resolve() if root is not None else None) / "peer"
    info = _read_json(out / "peer.json")
    if (out / "vmlinuz").is_file() and (out / "initramfs.cpio.gz").is_file() and isinstance(info.get("version"), str):
        return info["version"]
    return None


def _image(kernel: Path, initrd: Path, info: dict, sources: list[Path], *, rebuilt: bool,
           downloaded: bool, t0: float) -> PeerImage:
    stats = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in sources)
    return PeerImage(kernel=kernel, initrd=initrd, version=info.get("version", "?"),
                     modules=tuple(info.get("modules", ())), rebuilt=rebuilt, downloaded=downloaded,
                     seconds=time.monotonic() - t0, sources=stats)


def _assemble(debs: dict[str, Path], sources: list[Path], out: Path, kernel: Path, initrd: Path) -> dict:
    """Extract, compile and pack: write the kernel and the initramfs; return what they hold."""
    httpd_c, init = sources
    for s in sources:
        if not s.is_file():
            raise KitError(f"{s} is missing: is this the idlekit tree?")
    image_pkg = next(p for name, p in debs.items() if name != KERNEL_PACKAGE and name != BUSYBOX_PACKAGE)
    found = _members(image_pkg, _kernel_member)
    vmlinuz = [n for n in found if n.startswith("boot/vmlinuz-")]
    if not vmlinuz:
        raise KitError(f"{image_pkg.name} holds no /boot/vmlinuz-*: not a kernel package")
    version = vmlinuz[0].rsplit("vmlinuz-", 1)[1]
    builtin = {_module_name(line) for line in
               found.get(f"lib/modules/{version}/modules.builtin", b"").decode().split()}
    modules = dict(_iter_modules(found))
    order = _load_order(CARD_MODULES, modules, builtin)
    busybox = _members(debs[BUSYBOX_PACKAGE], lambda n: n == "bin/busybox").get("bin/busybox")
    if busybox is None:
        raise KitError(f"{debs[BUSYBOX_PACKAGE].name} holds no /bin/busybox")
    httpd = _compile(httpd_c, out / "httpd")

    files: list[tuple[str, int, bytes]] = [
        ("init", 0o100755, init.read_bytes()),
        ("bin/busybox", 0o100755, busybox),
        ("bin/httpd", 0o100755, httpd),
        ("etc/modules", 0o100644, "".join(f"{m}\n" for m in order).encode()),
    ]
    files += [(f"lib/modules/{m}.ko", 0o100644, _decompress(m, *modules[m])) for m in order]
    archive = _cpio(["bin", "dev", "etc", "lib", "lib/modules", "proc", "sys", "tmp"],
                    [("dev/console", 5, 1)], files)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=6, mtime=0) as gz:
        gz.write(archive)
    _write(kernel, found[vmlinuz[0]])
    _write(initrd, buf.getvalue())
    return {"version": version, "modules": order,
            "packages": {name: p.name for name, p in sorted(debs.items())}}


# -- packages

def _packages(cache: Path, refresh: bool) -> tuple[dict[str, Path], bool]:
    """Package name -> .deb in ``cache``, downloading them if they are not
    there (or ``refresh``); and whether they were downloaded now."""
    have = _debs(cache)
    if not refresh and KERNEL_PACKAGE in have and BUSYBOX_PACKAGE in have and len(have) == 3:
        return have, False
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise PeerUnavailable("apt-get and dpkg-deb are not on this machine (not Debian or Ubuntu)", APT_HINT)
    fresh = cache.with_name(cache.name + ".new")
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(parents=True)
    try:
        _apt_download(fresh, [KERNEL_PACKAGE, BUSYBOX_PACKAGE])
        meta = _debs(fresh).get(KERNEL_PACKAGE)
        if meta is None:
            raise PeerUnavailable(f"apt-get download left no {KERNEL_PACKAGE} package", APT_HINT)
        _apt_download(fresh, [_kernel_dependency(meta)])
        got = _debs(fresh)
        if len(got) != 3:
            raise PeerUnavailable(f"apt-get download gave {sorted(got)}, not the three packages", APT_HINT)
        shutil.rmtree(cache, ignore_errors=True)
        fresh.rename(cache)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
    return _debs(cache), True


def _apt_download(where: Path, names: list[str]) -> None:
    env = {**os.environ, "LC_ALL": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive"}
    try:
        done = subprocess.run(["apt-get", "download", "-q", *names], cwd=where, capture_output=True,
                              text=True, errors="replace", env=env, stdin=subprocess.DEVNULL, timeout=600)
    except subprocess.TimeoutExpired:
        raise PeerUnavailable(f"apt-get download {' '.join(names)} took over 10 minutes", APT_HINT) from None
    if done.returncode != 0:
        said = [line for line in done.stderr.splitlines() if line.startswith("E:")] or done.stderr.splitlines()
        raise PeerUnavailable(f"apt-get download {' '.join(names)} failed ({'; '.join(said[-3:]) or 'no message'})",
                              APT_HINT)


def _kernel_dependency(meta: Path) -> str:
    """``linux-image-<abi>-cloud-amd64=<version>``: the metapackage's kernel."""
    depends = _deb_field(meta, "Depends")
    for alt in depends.split(","):
        m = re.match(r"\s*(linux-image-[\w.+-]+)\s*(?:\(\s*=\s*([^)\s]+)\s*\))?", alt)
        if m:
            return m.group(1) + (f"={m.group(2)}" if m.group(2) else "")
    raise PeerUnavailable(f"{meta.name} depends on no linux-image package ({depends!r})", APT_HINT)


def _deb_field(deb: Path, name: str) -> str:
    done = subprocess.run(["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True,
                          errors="replace", stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise KitError(f"dpkg-deb cannot read {deb}: {done.stderr.strip()}")
    return done.stdout.strip()


def _debs(folder: Path) -> dict[str, Path]:
    """Package name -> .deb for the packages in ``folder``."""
    if not folder.is_dir():
        return {}
    return {_deb_field(p, "Package"): p for p in sorted(folder.glob("*.deb"))}


def _members(deb: Path, wanted) -> dict[str, bytes]:
    """The files of ``deb`` whose path (without "./") ``wanted`` accepts, read
    from its data archive as dpkg-deb streams it (one pass, nothing unpacked)."""
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    found: dict[str, bytes] = {}
    assert proc.stdout is not None
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for member in tar:
                name = member.name.removeprefix("./")
                if member.isfile() and wanted(name):
                    f = tar.extractfile(member)
                    assert f is not None
                    found[name] = f.read()
    except tarfile.TarError as exc:
        proc.kill()
        raise KitError(f"{deb} is not a package dpkg-deb can read ({exc})") from None
    finally:
        proc.stdout.close()
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        status = proc.wait()
    if status != 0:
        raise KitError(f"dpkg-deb --fsys-tarfile {deb} failed: {err.strip()}")
    return found


def _kernel_member(name: str) -> bool:
    """The kernel package's files the peer needs: the kernel, the list of
    built-in modules, and every module of the virtio family."""
    return (name.startswith("boot/vmlinuz-") or name.endswith("/modules.builtin")
            or bool(re.search(r"/(virtio[\w-]*|[\w-]*failover)\.ko(\.\w+)?$", name)))


def _fingerprint(debs: dict[str, Path], sources: Iterable[Path]) -> str:
    h = hashlib.sha256(f"format {FORMAT}\n".encode())
    for name, p in sorted(debs.items()):
        st = p.stat()
        h.update(f"{name} {p.name} {st.st_size} {st.st_mtime_ns}\n".encode())
    for s in sources:
        h.update(s.name.encode() + b"\n" + (s.read_bytes() if s.is_file() else b"-") + b"\n")
    return h.hexdigest()


# -- modules

def _module_name(path: str) -> str:
    """A module's name from its file: kernel/drivers/net/virtio_net.ko.xz -> virtio_net."""
    base = path.rsplit("/", 1)[-1]
    return re.sub(r"\.ko(\.\w+)?$", "", base).replace("-", "_")


def _decompress(name: str, path: str, data: bytes) -> bytes:
    """A module as insmod takes it: busybox's insmod reads plain ELF only, so a
    module the package compressed (xz in Debian 13's kernels) is unpacked here."""
    if path.endswith(".ko"):
        return data
    if path.endswith(".ko.xz"):
        return lzma.decompress(data)
    if path.endswith(".ko.gz"):
        return gzip.decompress(data)
    raise PeerUnavailable(f"the module {name} is compressed as {path.rsplit('.', 1)[-1]}, which the kit "
                          "cannot unpack", "Use a kernel package whose modules are plain or xz-compressed")


def _modinfo(ko: bytes) -> dict[str, str]:
    """The ``key=value`` strings of a module's ``.modinfo`` section."""
    from elftools.elf.elffile import ELFFile

    section = ELFFile(io.BytesIO(ko)).get_section_by_name(".modinfo")
    if section is None:
        return {}
    info: dict[str, str] = {}
    for item in section.data().split(b"\0"):
        key, eq, value = item.decode(errors="replace").partition("=")
        if eq:
            info.setdefault(key, value)
    return info


def _load_order(roots: Iterable[str], modules: dict[str, tuple[str, bytes]], builtin: set[str]) -> list[str]:
    """The modules to insmod for ``roots``, each after the ones it depends on;
    a module built into the kernel needs no loading."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in seen or name in builtin:
            return
        if name not in modules:
            raise KitError(f"the kernel package has no module {name!r} (needed by {' -> '.join(chain) or 'the card'}) "
                           "and does not build it in")
        seen.add(name)
        path, data = modules[name]
        deps = _modinfo(_decompress(name, path, data)).get("depends", "")
        for dep in filter(None, deps.split(",")):
            visit(dep.replace("-", "_"), (*chain, name))
        order.append(name)

    for root in roots:
        visit(root, ())
    return order


def _iter_modules(found: dict[str, bytes]) -> Iterator[tuple[str, tuple[str, bytes]]]:
    """(name, (path, data)) of each module among the extracted files."""
    for n, data in found.items():
        if re.search(r"\.ko(\.\w+)?$", n):
            yield _module_name(n), (n, data)


# -- the archive

def _cpio(dirs: list[str], nodes: list[tuple[str, int, int]], files: list[tuple[str, int, bytes]]) -> bytes:
    """A "newc" cpio archive (buffer-format.rst): each entry a 110-byte ASCII
    header ("070701", then 13 fields of 8 hex digits), its NUL-terminated name
    and its data, each padded to a multiple of 4 bytes; "TRAILER!!!" ends it.
    Owner root, time 0, so equal inputs give equal archives."""
    out = bytearray()
    ino = 0

    def entry(name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)) -> None:
        nonlocal ino
        ino += 1
        raw = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, 2 if mode & 0o040000 else 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(raw), 0)
        out.extend(b"070701" + b"".join(b"%08X" % f for f in fields) + raw)
        out.extend(b"\0" * (-len(out) % 4))
        out.extend(data)
        out.extend(b"\0" * (-len(out) % 4))

    for d in dirs:
        entry(d, 0o040755)
    for name, major, minor in nodes:
        entry(name, 0o020600, rdev=(major, minor))
    for name, mode, data in files:
        entry(name, mode, data)
    entry("TRAILER!!!", 0)
    return bytes(out)


def _compile(source: Path, out: Path) -> bytes:
    """``gcc -static -O2`` of the peer's server; its bytes."""
    gcc = shutil.which("gcc")
    if gcc is None:
        raise KitError(f"`gcc` is not installed, so the peer's server cannot be built. Install the "
                       f"toolchain with: {TOOLCHAIN_INSTALL_HINT}")
    tmp = out.with_name(out.name + ".tmp")
    done = subprocess.run([gcc, "-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(tmp), str(source)],
                          capture_output=True, text=True, errors="replace", stdin=subprocess.DEVNULL,
                          env={**os.environ, "LC_ALL": "C.UTF-8"})
    if done.returncode != 0:
        said = done.stderr.strip() or done.stdout.strip()
        if re.search(r"cannot find -lc\b", said):
            raise PeerUnavailable("gcc cannot link statically: glibc's static library (libc.a) is missing",
                                  LIBC_HINT)
        raise BuildError("peer", said)
    os.replace(tmp, out)
    return out.read_bytes()


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
