"""Run a kernel image in QEMU: console, outcomes, QMP, guest stats, clean stop.

A VM boots one Image.  Its waits (``wait_ready``, ``expect``, ``wait_exit``)
look at the console transcript and at QEMU's exit status, and turn every
outcome into a named error (errors.py): a ``kit: panic`` line or status 35
is GuestPanic, status 0 under -no-reboot is TripleFault, any other end is
GuestExited, and no answer in time is GuestTimeout.  How QEMU is spawned so
that it can never outlive Python is in process.py.
"""

from __future__ import annotations

import html
import itertools
import os
import re
import shutil
import signal
import socket
import threading
import time
import weakref
from pathlib import Path
from typing import Callable, Iterable, Sequence, TypeVar

from . import qemu as _qemu
from .build import Image
from .errors import (
    GuestExited,
    GuestPanic,
    GuestTimeout,
    KitError,
    QemuNotFound,
    TripleFault,
)
from .guest import StatsBlock, StatsSnapshot
from .process import PREFIX, QemuProcess, clean_stale, shm_dir, shm_free_mb
from .protocol import ANSWER_ENDS, CONSOLE_LINE_MAX, PANIC, READY, answer, tagged, tagged_answer_pattern
from .qmp import QMP
from . import limits

__all__ = ["VM", "clean_stale", "running", "stop_all"]

T = TypeVar("T")

PANIC_GRACE = 2.0           # seconds QEMU gets to exit after a panic line
_counter = itertools.count(1)

# The VMs of this process from start() until stopped (running(), stop_all()).
_live: "weakref.WeakSet[VM]" = weakref.WeakSet()
_live_lock = threading.Lock()


def running() -> list["VM"]:
    """The VMs this process started and has not stopped, oldest first."""
    with _live_lock:
        vms = [vm for vm in _live if vm._proc is not None and not vm._proc.cleaned]
    return sorted(vms, key=lambda vm: vm.spawn_time or 0.0)


def stop_all() -> int:
    """Stop every VM of this process (see running()); return how many there were."""
    vms = running()
    for vm in vms:
        vm.stop()
    return len(vms)


class VM:
    """A kernel image booted in QEMU.

    >>> with VM(build("boot"), append="idle=hlt") as vm:
    ...     vm.wait_ready()
    ...     vm.stats()

    ``image`` is an Image or the path of a kernel ELF; ``cpus`` and
    ``memory_mb`` size the machine; ``append`` is the kernel command line
    (``idle=spin|hlt``, ``test``, ``crash=...``); ``accel`` is "auto" (TCG
    unless ``KIT_ACCEL=kvm``), "tcg" or "kvm"; ``boot_timeout`` is the
    default for every wait; ``echo`` copies console lines to stdout as they
    arrive; ``name`` defaults to a unique ``kit-<pid>-<n>``.

    ``devices`` are ``-device`` values and ``args`` further QEMU arguments,
    as QEMU's Python ``QEMUMachine`` takes them (``add_device``,
    ``add_args``): a NIC is ``args=["-netdev", "user,id=n0"],
    devices=["virtio-net-pci,netdev=n0"]``.  ``net=True`` adds the network
    card of the net stage that way: QEMU's user-mode network with the
    guest's port 80 forwarded from a free TCP port on 127.0.0.1, which
    ``host_port`` holds (None without ``net``), IPv4 only, and a
    modern-only virtio-net card (``disable-legacy=on``) without option ROM;
    ``url`` is the guest's web server as the host reaches it.

    ``host_cpus`` confines QEMU to host CPUs: a number (the first that many
    of those this process may use) or a collection of CPU numbers; None,
    the default, lets it run on all of them.

    Waits raise named errors: GuestPanic (``kit: panic ...`` or status 35),
    TripleFault (status 0), GuestExited (any other end), GuestTimeout.
    ``wait_ready`` and ``wait_exit`` stop the VM when they fail; ``expect``
    leaves it running on a timeout so you can look further.  ``wait_exit``
    also stops (cleans up) the VM when it succeeds.

    A sibling that boots another kind of guest (``kitlib.peer.PeerVM``, a
    Linux kernel and initramfs) sets ``ready_line`` and ``panic_marks`` to
    its guest's lines and overrides ``_argv``; everything else is shared.
    """

    ready_line = READY              # the console line wait_ready() waits for
    panic_marks: tuple[str, ...] = (PANIC,)     # a console line with one: GuestPanic, the reason after it

    def __init__(
        self,
        image: Image | str | os.PathLike,
        *,
        cpus: int = 1,
        memory_mb: int = 64,
        append: str = "",
        accel: str = "auto",
        machine: str = "pc",
        boot_timeout: float = 30.0,
        echo: bool = False,
        name: str | None = None,
        devices: Sequence[str] = (),
        args: Sequence[str] = (),
        net: bool = False,
        host_cpus: int | Iterable[int] | None = None,
    ):
        self.image = self._image(image)
        self.host_cpus = _qemu.host_cpu_set(host_cpus)
        self.cpus = limits.check_cpus(cpus)
        self.memory_mb = limits.check_memory(memory_mb)
        self.append = limits.check_append(append)
        self.machine = machine
        self.boot_timeout = float(boot_timeout)
        self.qemu = _qemu.find_qemu()
        self.accel = _qemu.resolve_accel(accel)
        self.name = limits.check_name(name) if name is not None else f"{PREFIX}{os.getpid()}-{next(_counter)}"
        self.echo = echo
        self.devices: list[str] = []
        self.args: list[str] = []
        for d in devices:
            self.add_device(d)
        self.add_args(*args)
        self.host_port: int | None = None
        if net:
            self.host_port = _free_port()
            # ipv6=off (QEMU's manual, -netdev user: "ipv4=on|off and ipv6=on|off"):
            # with IPv6 on, the user network sends an unsolicited Router
            # Advertisement every 200 to 600 s (RFC 4861 6.2.1's default
            # MaxRtrAdvInterval and MinRtrAdvInterval; libslirp's RA timer,
            # ip6_icmp.c), which would wake an idle guest that has no IPv6.
            # With IPv4 only it sends nothing unasked.
            self.add_args("-netdev", f"user,id=n0,ipv6=off,hostfwd=tcp:127.0.0.1:{self.host_port}-:80")
            self.add_device("virtio-net-pci,netdev=n0,disable-legacy=on,romfile=")
        self._proc: QemuProcess | None = None
        self._cursor = 0
        self._vcpus: dict[int, int] | None = None
        self._qmp_lock = threading.Lock()
        self._command_lock = threading.Lock()   # one command on the console at a time
        self._tags = itertools.count(1)
        self.before = ""                # console text between the last match and the one before
        self.match: re.Match | str | None = None

    # -- devices
    def add_device(self, devopts: str) -> "VM":
        """Add ``-device <devopts>`` (before start)."""
        self._before_start("add a device")
        _qemu.device_args([devopts])
        self.devices.append(devopts)
        return self

    def add_args(self, *args: str) -> "VM":
        """Add QEMU arguments as given, e.g. ``add_args("-netdev", "user,id=n0")`` (before start)."""
        self._before_start("add arguments")
        self.args += _qemu.check_args(args)
        return self

    def _before_start(self, what: str) -> None:
        if getattr(self, "_proc", None) is not None:
            raise KitError(f"VM {self.name} has started: {what} before start()")

    # -- life cycle
    def start(self) -> "VM":
        """Spawn QEMU (returns at once; use wait_ready to wait for the kernel)."""
        if self._proc is not None:
            if self._proc.cleaned:
                raise KitError(f"VM {self.name} was stopped; create a new VM to boot again")
            return self
        self.image.check_fresh()
        clean_stale()
        with _live_lock:
            twin = next((vm for vm in _live if vm.name == self.name and vm is not self
                         and vm._proc is not None and not vm._proc.cleaned), None)
            if twin is not None:
                raise KitError(f"a VM named {self.name!r} is running in this process ({twin!r}); "
                               "give this one another name, or stop that one first")
            _live.add(self)
        try:
            return self._spawn()
        except BaseException:
            with _live_lock:
                _live.discard(self)
            raise

    @staticmethod
    def _image(image: Image | str | os.PathLike) -> Image:
        """The image this VM boots, from what the caller gave."""
        return image if isinstance(image, Image) else Image.from_path(image)

    def _argv(self, proc: QemuProcess) -> list[str]:
        """QEMU's command line for this VM, its files those of ``proc``."""
        return _qemu.command_line(
            self.image.path, name=self.name, shm_path=proc.shm_path, qmp_path=proc.qmp_path,
            cpus=self.cpus, memory_mb=self.memory_mb, append=self.append, accel=self.accel,
            machine=self.machine, qemu=self.qemu,
            extra=[*self.args, *_qemu.device_args(self.devices)],
        )

    def _spawn(self) -> "VM":
        proc = QemuProcess(self.name, self.echo, ready=self.ready_line, panics=self.panic_marks)
        argv = self._argv(proc)
        self.argv = argv
        try:
            proc.spawn(argv)
        except FileNotFoundError as exc:
            shutil.rmtree(proc.tmpdir, ignore_errors=True)
            raise QemuNotFound(f"{self.qemu} could not be started ({exc})") from None
        except BaseException:
            proc.stop()
            raise
        self._proc = proc
        self._finalizer = weakref.finalize(self, proc.stop)
        if self.host_cpus is not None and proc.child is not None:
            try:
                _qemu.confine(proc.child.pid, self.host_cpus)
            except BaseException:
                self.stop()
                raise
        return self

    def stop(self) -> None:
        """Stop QEMU (QMP quit, SIGTERM, SIGKILL), reap it, remove its files.  Idempotent."""
        if self._proc is not None:
            self._proc.stop()
        with _live_lock:
            _live.discard(self)

    close = stop

    def __enter__(self) -> "VM":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True from start() until QEMU has exited."""
        return self._proc is not None and self._proc.running

    @property
    def pid(self) -> int | None:
        """QEMU's process id (None before start)."""
        return self._proc.child.pid if self._proc is not None and self._proc.child is not None else None

    @property
    def exit_status(self) -> int | None:
        """QEMU's exit status once it has ended (negative: killed by that signal)."""
        return self._proc.status if self._proc is not None else None

    @property
    def spawn_time(self) -> float | None:
        """time.monotonic() when QEMU was spawned."""
        return self._proc.spawn_time if self._proc is not None else None

    @property
    def ready_time(self) -> float | None:
        """time.monotonic() when the ``kit: ready`` line arrived (None before)."""
        return self._proc.console.ready_time if self._proc is not None else None

    @property
    def panic(self) -> str | None:
        """The reason of a ``kit: panic`` line seen on the console, else None."""
        return self._proc.console.panic if self._proc is not None else None

    @property
    def url(self) -> str | None:
        """``http://127.0.0.1:<host_port>/``: the guest's port 80 (None without ``net``)."""
        return None if self.host_port is None else f"http://127.0.0.1:{self.host_port}/"

    @property
    def shm_path(self) -> Path | None:
        """The guest RAM file under /dev/shm."""
        return self._proc.shm_path if self._proc is not None else None

    # -- console
    @property
    def console(self) -> str:
        """Everything the guest printed so far ("\\r\\n" normalised to "\\n")."""
        if self._proc is None:
            return ""
        with self._proc.console.cond:
            return self._proc.console.text

    def tail(self, n: int = 20) -> str:
        """The last ``n`` console lines."""
        return self._proc.console.tail(n) if self._proc is not None else ""

    def stderr(self) -> str:
        """What QEMU itself printed (warnings, errors), from its log file."""
        return self._proc.read_stderr() if self._proc is not None else ""

    def send(self, text: str) -> None:
        """Type ``text`` on the guest's serial console."""
        proc = self._require_started()
        if not proc.running:
            raise KitError(f"VM {self.name} is not running")
        proc.child.send(text.encode())

    def say(self, line: str) -> None:
        """Print ``line`` among the echoed console lines (``echo=True``), after
        every whole line the guest has printed so far."""
        self._require_started().console.say(line)

    def sendline(self, text: str = "") -> None:
        """Type ``text`` and a newline on the guest's serial console."""
        self.send(text + "\n")

    def command(self, line: str, timeout: float = 10.0) -> str:
        """Type a console command (from stage idle on) and return the guest's whole answer.

        The kernel answers with lines that start with the command's first word
        and a colon: one line for most (``idle hlt`` -> ``"idle: hlt"``), and
        for ``stats`` one a CPU then ``stats: end``, returned joined by "\\n"
        (``protocol.stats_answer`` reads them).  An unknown command, a bad
        argument or a line over 63 bytes is a KitError with the guest's words.

        The line goes out tagged (``@<n> idle hlt``) and only lines with that
        tag are its answer, so a leftover of an earlier command (one that
        timed out, say) is never taken for this one's; callers on several
        threads take turns.
        """
        if not line.split():
            raise ValueError("command() needs a command, e.g. 'idle hlt'")
        if any(ord(c) < 0x20 or c == "\x7f" for c in line):
            raise ValueError(f"a command is one line of text without control characters, not {line!r}")
        if len(line.encode()) > CONSOLE_LINE_MAX:
            raise KitError(f"the command {line[:20]!r}... is {len(line.encode())} bytes; the guest's "
                           f"console takes at most {CONSOLE_LINE_MAX} (kernel/console.c LINEMAX)")
        with self._command_lock:
            proc = self._require_started()
            n = next(self._tags)
            pattern = tagged_answer_pattern(n, line)
            end = ANSWER_ENDS.get(line.split()[0])
            console = proc.console
            with console.cond:
                start = console.end     # the answer comes after the line is sent
            self.sendline(tagged(n, line))
            said: list = []

            def whole() -> list | None:
                at = max(start - console.base, 0)
                said.clear()
                for m in pattern.finditer(console.text, at):
                    said.append(answer(m))
                    if said[0].refused or end is None or str(said[-1]) == end:
                        self._cursor = max(self._cursor, console.base + m.end())
                        return said
                return None

            self._wait(whole, timeout, f"the answer to {line!r} on the serial console", stop_on_timeout=False)
        if said[0].refused:
            raise KitError(f"the guest refused {line!r}: {said[0]}")
        return "\n".join(str(a) for a in said)

    # -- waits
    def wait_ready(self, timeout: float | None = None) -> float:
        """Wait for ``kit: ready`` (``ready_line``); return seconds from spawn to it.

        On failure the VM is stopped and a named error raised; on a timeout,
        GuestTimeout names 'kit: ready'.
        """
        proc = self._ensure_started()
        console = proc.console
        timeout = self.boot_timeout if timeout is None else timeout

        def ready() -> float | None:
            if console.ready_time is None:
                return None
            self._cursor = max(self._cursor, console.ready_end or 0)
            return console.ready_time - (proc.spawn_time or console.ready_time)

        return self._wait(ready, timeout, f"'{self.ready_line}' on the serial console", stop_on_timeout=True)

    def expect(
        self,
        pattern: str | re.Pattern | Sequence[str | re.Pattern],
        timeout: float | None = None,
        exact: bool = True,
    ) -> str:
        """Wait for a pattern (or the first of several) after the last match; return the matched text.

        ``exact=True`` matches plain strings; ``exact=False`` treats them as
        regular expressions, matched against what has arrived so far (so
        ``r"\\w+"`` may match half a word: anchor it, e.g. with ``\\n``).
        Sets ``vm.before`` and ``vm.match``.
        """
        proc = self._ensure_started()
        console = proc.console
        pats = [pattern] if isinstance(pattern, (str, re.Pattern)) else list(pattern)
        if not pats:
            raise ValueError("expect() needs at least one pattern")
        compiled = [
            p if isinstance(p, re.Pattern) else re.compile(re.escape(p) if exact else p)
            for p in pats
        ]
        timeout = self.boot_timeout if timeout is None else timeout

        def find() -> str | None:
            start = max(self._cursor - console.base, 0)
            best = None
            for rx in compiled:
                m = rx.search(console.text, start)
                if m and (best is None or m.start() < best.start()):
                    best = m
            if best is None:
                return None
            self.before = console.text[start:best.start()]
            self.match = best if not exact else best.group(0)
            self._cursor = console.base + best.end()
            return best.group(0)

        shown = " or ".join(repr(getattr(p, "pattern", p)) for p in pats)
        return self._wait(find, timeout, f"{shown} on the serial console", stop_on_timeout=False)

    def wait_exit(self, timeout: float | None = None) -> int:
        """Wait for QEMU to exit; return 33 (the guest's success) or raise a named error."""
        proc = self._ensure_started()
        timeout = self.boot_timeout if timeout is None else timeout

        def done() -> int | None:
            if proc.exited.is_set() and proc.status == _qemu.EXIT_SUCCESS:
                return proc.status
            return None

        result = self._wait(done, timeout, "QEMU to exit (the guest to finish)", stop_on_timeout=True)
        self.stop()
        return result

    def _wait(self, check: Callable[[], T | None], timeout: float, waited_for: str, stop_on_timeout: bool) -> T:
        proc = self._proc
        assert proc is not None
        console = proc.console
        deadline = time.monotonic() + timeout
        with console.cond:
            while True:
                result = check()
                if result is not None:
                    return result
                if console.panic is not None or proc.exited.is_set():
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                console.cond.wait(min(remaining, 0.5))
        if console.panic is None and not proc.exited.is_set():
            if stop_on_timeout:
                self.stop()
            raise GuestTimeout(waited_for, timeout, self.tail())
        raise self._outcome_error(waited_for)

    def outcome_error(self, waited_for: str) -> KitError | None:
        """The named error of a VM that panicked or ended before ``waited_for``
        (stopping it), or None while it runs without a panic."""
        proc = self._proc
        if proc is None or (proc.console.panic is None and not proc.exited.is_set()):
            return None
        return self._outcome_error(waited_for)

    def _outcome_error(self, waited_for: str) -> KitError:
        """The named error for a VM that panicked or exited; stops the VM."""
        proc = self._proc
        assert proc is not None
        if proc.console.panic is not None:
            proc.exited.wait(PANIC_GRACE)
            self.stop()
            return GuestPanic(proc.console.panic, self.tail())
        self.stop()
        status, tail, log = proc.status, self.tail(), proc.read_stderr()
        if proc.stop_requested or (proc.qmp is not None and proc.qmp.quit_sent):
            return GuestExited(status, tail, log, detail=f"the VM was stopped (vm.stop()) before {waited_for}")
        if status == _qemu.EXIT_FAILURE:
            return GuestPanic(f"the guest reported failure (exit status {status})", tail)
        if status == 0:
            # QEMU also exits with 0 when something outside sends it SIGTERM/SIGINT/SIGHUP.
            signalled = re.search(r"terminating on signal \d+.*", log)
            if signalled:
                return GuestExited(status, tail, log, detail=f"QEMU was stopped from outside ({signalled.group(0)})")
            return TripleFault(tail)
        if status == _qemu.EXIT_SUCCESS:
            return GuestExited(status, tail, log, detail=f"the guest exited with success (status 33) before {waited_for}")
        if status == -signal.SIGBUS:
            # Guest RAM is a file in /dev/shm: a page that tmpfs cannot back is SIGBUS on first touch.
            return GuestExited(status, tail, log, detail=(
                f"QEMU was killed by SIGBUS (signal {signal.SIGBUS}): most likely {shm_dir()} is full and "
                f"could not hold the guest's {self.memory_mb} MiB of RAM ({shm_free_mb():.0f} MiB free "
                "there now); free space in it, or give the VM less memory"))
        return GuestExited(status, tail, log)

    # -- QMP, threads, stats
    @property
    def qmp(self) -> QMP:
        """The QMP client (connected on first use)."""
        proc = self._require_started()
        with self._qmp_lock:
            if proc.qmp is None or proc.qmp.closed:
                if not proc.running:
                    raise KitError(f"VM {self.name} is not running: no QMP")
                proc.qmp = QMP.connect(str(proc.qmp_path), timeout=5.0, alive=lambda: proc.running)
            return proc.qmp

    def vcpu_threads(self) -> dict[int, int]:
        """vCPU index -> host thread id (QMP query-cpus-fast; cached)."""
        if self._vcpus is None:
            cpus = self.qmp.execute("query-cpus-fast")
            self._vcpus = {int(c["cpu-index"]): int(c["thread-id"]) for c in cpus}
        return dict(self._vcpus)

    def stats(self) -> StatsSnapshot:
        """A snapshot of the guest's ``kit_stats`` block, read from guest RAM."""
        proc = self._require_started()
        with self._qmp_lock:
            if proc.stats_block is None:
                if proc.cleaned:
                    raise KitError(f"VM {self.name} was stopped: its RAM is gone")
                proc.stats_block = StatsBlock(proc.shm_path, self.image.symbol("kit_stats"))
            block = proc.stats_block
        return block.read()

    # -- helpers
    def _require_started(self) -> QemuProcess:
        if self._proc is None:
            raise KitError(f"VM {self.name} is not started: use `with VM(...) as vm:` or vm.start()")
        return self._proc

    def _ensure_started(self) -> QemuProcess:
        if self._proc is None:
            self.start()
        assert self._proc is not None
        return self._proc

    def _state(self) -> str:
        if self._proc is None:
            return "not started"
        if self._proc.running:
            return f"running, pid {self.pid}" + (", ready" if self.ready_time else "")
        if self._proc.stop_requested:
            return "stopped"
        return f"exited with status {self.exit_status}"

    def _extras(self) -> str:
        return "".join(f", {k}={v!r}" for k, v in (("devices", self.devices), ("args", self.args)) if v)

    def __repr__(self) -> str:
        return (f"<VM {self.name}: {self.image.stage}, {self.cpus} vCPU, {self.accel}, "
                f"append={self.append!r}{self._extras()}, {self._state()}>")

    def _repr_html_(self) -> str:
        return (f"<b>VM</b> <code>{html.escape(self.name)}</code>: stage "
                f"<code>{html.escape(self.image.stage)}</code>, {self.cpus} vCPU, {self.accel}, "
                f"append <code>{html.escape(self.append or '-')}</code>"
                + "".join(f", -device <code>{html.escape(d)}</code>" for d in self.devices)
                + (f", <code>{html.escape(' '.join(self.args))}</code>" if self.args else "")
                + f"; {html.escape(self._state())}")


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the kernel picks it).

    Another program could take it before QEMU binds it; QEMU then fails to
    start and says so.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
