"""The QEMU process behind a VM: spawned without orphans, console drained.

No QEMU outlives the Python process that started it, whatever ends that process:
 - the pty: when its master closes (our process ends), QEMU gets SIGHUP;
 - PR_SET_PDEATHSIG(SIGKILL), set in the child before exec.  The "parent" it
   watches is the *thread* that forked, so every QEMU is forked by one
   long-lived daemon thread owned by kitlib (``_Spawner``), never by a
   short-lived caller thread (a widget callback, a sampler);
 - the VM's ``weakref.finalize`` (also run at interpreter exit) calls
   ``QemuProcess.stop``: QMP quit, SIGTERM, SIGKILL, reap, remove the files;
 - files left by a killed process (/dev/shm/kit-<pid>-<n>) are removed by
   ``clean_stale`` at the next VM start, once that pid is dead.

A reader thread drains the console as it arrives, so QEMU never blocks on a
full pty, the transcript is always current, and the time of ``kit: ready``
is taken when the line arrives, not when someone next looks.
"""

from __future__ import annotations

import codecs
import concurrent.futures
import ctypes
import errno
import glob
import os
import queue
import re
import select
import shutil
import signal
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path
from typing import Callable, TypeVar

import pexpect

from .guest import StatsBlock
from .protocol import PANIC, READY
from .qmp import QMP

__all__ = ["QemuProcess", "Console", "clean_stale", "shm_dir", "shm_free_mb"]

T = TypeVar("T")

PREFIX = "kit-"                 # every VM name, RAM file and temp dir starts so
SHM_DIR = Path("/dev/shm")

# Resolved in the parent: calling into libc after fork must not need dlsym.
_libc = ctypes.CDLL(None, use_errno=True)
_prctl = _libc.prctl
_prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_PR_SET_PDEATHSIG = 1


class _Spawner:
    """One long-lived daemon thread that forks every QEMU (see PDEATHSIG above)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._pid = 0

    def run(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the spawner thread and return its result."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
                self._queue = queue.SimpleQueue()
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._loop, args=(self._queue,), name="kitlib-spawner", daemon=True
                )
                self._thread.start()
            if threading.current_thread() is self._thread:
                return fn()
            future: concurrent.futures.Future = concurrent.futures.Future()
            self._queue.put((fn, future))
        return future.result()

    @staticmethod
    def _loop(q: queue.SimpleQueue) -> None:
        while True:
            fn, future = q.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to the caller
                future.set_exception(exc)


_spawner = _Spawner()


def _child_setup(log_path: str, parent_pid: int) -> None:
    """Runs in the forked child, before exec: stderr to a log, PDEATHSIG, a raw pty.

    Raw both ways (termios(3)): no ONLCR, so the guest's "\\n" stays "\\n";
    and, before QEMU sets its own modes, no ISIG (0x03, 0x1a, 0x1c would be
    signals to QEMU), no ICANON or IEXTEN (0x04, 0x15, 0x16, 0x17, 0x7f would
    be line editing), no IXON (0x11, 0x13 would be flow control) and no
    ICRNL: every byte typed reaches the guest's UART as it was sent."""
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 2)
    os.close(fd)
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:      # the parent died before prctl took effect
        os._exit(1)
    attrs = termios.tcgetattr(1)
    attrs[0] &= ~(termios.IXON | termios.IXOFF | termios.ICRNL | termios.INLCR | termios.IGNCR
                  | termios.ISTRIP | termios.BRKINT)
    attrs[1] &= ~termios.ONLCR          # guest "\n" stays "\n" (no pty "\r\n")
    attrs[3] &= ~(termios.ISIG | termios.ICANON | termios.IEXTEN | termios.ECHO)
    attrs[6][termios.VMIN], attrs[6][termios.VTIME] = 1, 0
    termios.tcsetattr(1, termios.TCSANOW, attrs)


def shm_dir() -> Path:
    """Where guest RAM files go: /dev/shm, or the temp directory where there is none."""
    return SHM_DIR if SHM_DIR.is_dir() else Path(tempfile.gettempdir())


def shm_free_mb() -> float:
    """Free space where guest RAM files go, in MiB."""
    return shutil.disk_usage(shm_dir()).free / (1 << 20)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale() -> list[str]:
    """Remove VM files (/dev/shm/kit-<pid>-<n>, temp dirs) whose owning process is dead."""
    removed = []
    patterns = [str(SHM_DIR / f"{PREFIX}*"), os.path.join(tempfile.gettempdir(), f"{PREFIX}*")]
    for pattern in patterns:
        for path in glob.glob(pattern):
            m = re.fullmatch(r"kit-(\d+)-\d+(?:-.*)?", os.path.basename(path))
            if not m or _pid_alive(int(m.group(1))):
                continue
            try:
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                else:
                    os.unlink(path)
                removed.append(path)
            except OSError:
                pass
    return removed


class Console:
    """The serial transcript, fed by the reader thread, waited on by everyone else.

    Text is decoded as UTF-8 (garbage becomes U+FFFD) and "\\r\\n" becomes
    "\\n".  Offsets are absolute, so trimming a very long transcript (beyond
    ``limit`` characters) never moves anyone's search position.
    """

    def __init__(self, echo: bool, limit: int = 4 << 20, *, ready: str = READY,
                 panics: tuple[str, ...] = (PANIC,)):
        self.cond = threading.Condition()
        self.ready = ready          # the line that says the guest is ready
        self.panics = panics        # a line holding one of these: a panic, the reason after it
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._pending_cr = False
        self.text = ""
        self.base = 0               # absolute offset of text[0]
        self.line_start = 0         # absolute offset of the unfinished line
        self.ready_time: float | None = None
        self.ready_end: int | None = None
        self.panic: str | None = None
        self.eof = False
        self.echo = echo
        self.limit = limit
        self._echo_lock = threading.Lock()  # one writer at a time, in console order

    @property
    def end(self) -> int:
        return self.base + len(self.text)

    def feed(self, data: bytes, now: float, final: bool = False) -> None:
        s = self._decoder.decode(data, final)
        if self._pending_cr:
            s = "\r" + s
            self._pending_cr = False
        if s.endswith("\r") and not final:
            s, self._pending_cr = s[:-1], True
        s = s.replace("\r\n", "\n")
        with self._echo_lock:                   # the reader thread's lines go out in order
            with self.cond:
                self.text += s
                lines = self._scan_lines(now, final)
                if len(self.text) > self.limit:
                    drop = len(self.text) - self.limit // 2
                    self.text = self.text[drop:]
                    self.base += drop
                self.cond.notify_all()
            if self.echo and lines:             # outside cond: stdout may block
                self._write("".join(line + "\n" for line in lines))

    def say(self, line: str) -> None:
        """Echo a line of the host's after every whole line the guest has printed
        so far, never inside one (``kit run``'s URL line after ``kit: ready``)."""
        with self._echo_lock:
            self._write(line + "\n")

    @staticmethod
    def _write(text: str) -> None:
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except Exception:
            pass

    def _scan_lines(self, now: float, final: bool) -> list[str]:
        """Look at each newly completed line (the last one too at EOF); return them."""
        lines = []
        while True:
            rel = self.line_start - self.base
            nl = self.text.find("\n", max(rel, 0))
            if nl < 0:
                if final and self.line_start < self.end:
                    lines.append(self._line(self.text[max(rel, 0):], now, self.end))
                    self.line_start = self.end
                return lines
            lines.append(self._line(self.text[max(rel, 0):nl], now, self.base + nl + 1))
            self.line_start = self.base + nl + 1

    def _line(self, line: str, now: float, end: int) -> str:
        if self.ready_time is None and line.strip().startswith(self.ready):
            self.ready_time, self.ready_end = now, end
        if self.panic is None:
            for mark in self.panics:
                at = line.find(mark)
                if at >= 0:
                    self.panic = line[at + len(mark):].strip()
                    break
        return line

    def close(self, now: float) -> None:
        self.feed(b"", now, final=True)
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def tail(self, n: int = 20) -> str:
        with self.cond:
            lines = self.text.splitlines()
        return "\n".join(lines[-n:])


class QemuProcess:
    """A QEMU process, its console and its files.

    Kept apart from VM, and never referring to it, so that the VM's
    finalizer can own it and stop QEMU when the VM is garbage-collected.
    """

    def __init__(self, name: str, echo: bool, *, ready: str = READY, panics: tuple[str, ...] = (PANIC,)):
        self.name = name
        tmp = tempfile.gettempdir()
        if len(tmp) > 60:               # unix socket paths are limited to 107 bytes
            tmp = "/tmp"
        self.tmpdir = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=tmp))
        shm = SHM_DIR if SHM_DIR.is_dir() else self.tmpdir
        self.shm_path = shm / name
        self.qmp_path = self.tmpdir / "qmp.sock"
        self.log_path = self.tmpdir / "qemu.log"
        self.console = Console(echo, ready=ready, panics=panics)
        self.child: pexpect.spawn | None = None
        self.spawn_time: float | None = None
        self.plock = threading.Lock()           # guards waitpid and kill on the child
        self.stop_lock = threading.Lock()
        self.exited = threading.Event()
        self.status: int | None = None
        self.stop_requested = False
        self.cleaned = False
        self.reader: threading.Thread | None = None
        self.qmp: QMP | None = None
        self.stats_block: StatsBlock | None = None
        self.stderr_text = ""

    # -- start
    def spawn(self, argv: list[str]) -> None:
        parent = os.getpid()
        log = str(self.log_path)

        def do_spawn() -> pexpect.spawn:
            self.spawn_time = time.monotonic()
            return pexpect.spawn(
                argv[0], argv[1:], echo=False, timeout=None,
                preexec_fn=lambda: _child_setup(log, parent),
            )

        child = _spawner.run(do_spawn)
        child.delayafterclose = child.ptyproc.delayafterclose = 0.0
        child.delayafterterminate = child.ptyproc.delayafterterminate = 0.0
        self.child = child
        self.reader = threading.Thread(target=self._read_loop, name=f"kitlib-console-{self.name}", daemon=True)
        self.reader.start()

    def _read_loop(self) -> None:
        assert self.child is not None
        fd = self.child.child_fd
        try:
            while True:
                try:
                    ready, _, _ = select.select([fd], [], [], 1.0)
                except (OSError, ValueError):
                    break
                if not ready:
                    continue
                try:
                    data = os.read(fd, 65536)
                except OSError as exc:
                    if exc.errno in (errno.EIO, errno.EBADF):
                        break
                    raise
                if not data:
                    break
                self.console.feed(data, time.monotonic())
        finally:
            self.console.close(time.monotonic())
            self._reap()

    def _reap(self, patience: float = 5.0) -> None:
        """Wait for QEMU to end after EOF (SIGKILL if it lingers) and record its status."""
        assert self.child is not None
        deadline = time.monotonic() + patience
        while True:
            with self.plock:
                alive = self.child.isalive()
                if alive and time.monotonic() > deadline:
                    os.kill(self.child.pid, signal.SIGKILL)
            if not alive:
                break
            time.sleep(0.002)
        sig = self.child.signalstatus
        status = -sig if sig is not None else self.child.exitstatus
        with self.console.cond:
            self.status = status
            self.exited.set()
            self.console.cond.notify_all()

    @property
    def running(self) -> bool:
        return self.child is not None and not self.exited.is_set()

    def kill(self, sig: int) -> None:
        with self.plock:
            if self.child is not None and not self.child.terminated:
                try:
                    os.kill(self.child.pid, sig)
                except ProcessLookupError:
                    pass

    # -- stop
    def stop(self) -> None:
        """QMP quit, then SIGTERM, then SIGKILL; reap; remove the files.  Idempotent."""
        with self.stop_lock:
            if self.cleaned:
                return
            # The reader thread sets `exited`; if a finalizer runs on that very
            # thread, waiting for it would only stall: signal and move on.
            on_reader = self.reader is threading.current_thread()
            if self.child is not None and not self.exited.is_set():
                self.stop_requested = True
                if on_reader:
                    self.kill(signal.SIGKILL)
                else:
                    self._end_gracefully()
            if self.reader is not None and not on_reader:
                self.reader.join(2.0)
            if self.child is not None:
                try:
                    self.child.close(force=True)
                except Exception:
                    pass
            if self.qmp is not None:
                self.qmp.close()
            if self.stats_block is not None:
                self.stats_block.close()
            self.stderr_text = self.read_stderr()
            try:
                os.unlink(self.shm_path)
            except OSError:
                pass
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.cleaned = True

    def _end_gracefully(self) -> None:
        """QMP quit if connected, else (or if ignored) SIGTERM, then SIGKILL."""
        if self.qmp is not None and not self.qmp.closed:
            try:
                self.qmp.timeout = 1.0
                self.qmp.execute("quit")
            except Exception:
                pass
            self.exited.wait(1.0)
        for sig, patience in ((signal.SIGTERM, 1.0), (signal.SIGKILL, 5.0)):
            if self.exited.is_set():
                return
            self.kill(sig)
            self.exited.wait(patience)

    def read_stderr(self, limit: int = 16384) -> str:
        """The tail of QEMU's own stderr (kept in memory once the files are gone)."""
        if self.cleaned:
            return self.stderr_text
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - limit))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""
