"""A small synchronous QMP client (QEMU Machine Protocol) over a unix socket.

Why not qemu.qmp: it is asyncio-based and its synchronous shim fails inside
Jupyter, whose event loop is already running.  QMP is one JSON object a line,
so a blocking socket with a lock is all a notebook, a sampler thread and a
widget callback need.  Asynchronous events are kept (bounded) and skipped
while waiting for a command's answer.
"""

from __future__ import annotations

import collections
import json
import socket
import threading
import time
from typing import Any, Callable

from .errors import KitError

__all__ = ["QMP", "QMPError"]


class QMPError(KitError):
    """QEMU answered a QMP command with an error, or the connection failed."""

    title = "QMP error"


class QMP:
    """Synchronous, thread-safe QMP client.

    ``QMP.connect(path)`` waits for the socket, reads the greeting and
    negotiates capabilities; ``execute("query-status")`` returns the
    command's ``return`` value or raises QMPError.
    """

    def __init__(self, sock: socket.socket, timeout: float = 5.0):
        self._sock = sock
        self._buf = bytearray()
        self._lock = threading.Lock()
        self._id = 0
        self.timeout = timeout
        self.events: collections.deque[dict] = collections.deque(maxlen=256)
        self.greeting: dict = {}
        self.closed = False
        self.quit_sent = False      # a QMP "quit" ends QEMU with status 0: not a crash

    @classmethod
    def connect(
        cls,
        path: str,
        timeout: float = 5.0,
        alive: Callable[[], bool] | None = None,
    ) -> "QMP":
        """Connect to QEMU's QMP socket, retrying until ``timeout`` (QEMU may still be starting).

        ``alive`` (optional) tells whether QEMU still runs, to give up early.
        """
        deadline = time.monotonic() + timeout
        last: OSError | None = None
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(max(0.05, deadline - time.monotonic()))
                sock.connect(path)
                break
            except OSError as exc:
                sock.close()
                last = exc
            if time.monotonic() >= deadline or (alive is not None and not alive()):
                raise QMPError(f"cannot connect to QEMU's QMP socket {path}: {last}")
            time.sleep(0.01)
        client = cls(sock, timeout=timeout)
        try:
            client.greeting = client._read_message(deadline)
            if "QMP" not in client.greeting:
                raise QMPError(f"unexpected QMP greeting: {client.greeting!r}")
            client.execute("qmp_capabilities")
        except BaseException:
            client.close()
            raise
        return client

    def execute(self, cmd: str, arguments: dict[str, Any] | None = None, /, **args: Any) -> Any:
        """Run a QMP command and return its ``return`` value.

        Arguments come as a dict (for names with dashes, e.g.
        ``{"cpu-index": 0}``) and/or as keyword arguments.
        """
        merged = dict(arguments or {}, **args)
        with self._lock:
            if self.closed:
                raise QMPError(f"QMP connection is closed (command {cmd!r})")
            self._id += 1
            if cmd == "quit":
                self.quit_sent = True
            ident = f"kit-{self._id}"
            message: dict[str, Any] = {"execute": cmd, "id": ident}
            if merged:
                message["arguments"] = merged
            deadline = time.monotonic() + self.timeout
            try:
                self._sock.settimeout(self.timeout)
                self._sock.sendall(json.dumps(message).encode() + b"\n")
                while True:
                    reply = self._read_message(deadline)
                    if "event" in reply:
                        self.events.append(reply)
                        continue
                    if reply.get("id") != ident:
                        continue
                    if "error" in reply:
                        err = reply["error"]
                        raise QMPError(f"QMP {cmd}: {err.get('class', 'error')}: {err.get('desc', err)}")
                    return reply.get("return")
            except TimeoutError:
                # Replies carry ids, so a late answer is skipped later: keep the connection.
                raise QMPError(f"QMP {cmd}: no answer within {self.timeout:g} s") from None
            except (OSError, EOFError) as exc:
                if cmd == "quit" and isinstance(exc, EOFError):
                    return {}   # QEMU may close the socket before its reply arrives
                self._close_locked()
                raise QMPError(f"QMP {cmd}: connection lost ({exc})") from None

    def _read_message(self, deadline: float) -> dict:
        """One JSON object from the socket (raises EOFError, TimeoutError)."""
        while True:
            nl = self._buf.find(b"\n")
            if nl >= 0:
                line = bytes(self._buf[:nl])
                del self._buf[: nl + 1]
                if line.strip():
                    return json.loads(line)
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no answer from QEMU within the QMP timeout")
            self._sock.settimeout(remaining)
            chunk = self._sock.recv(65536)
            if not chunk:
                raise EOFError("QEMU closed the QMP socket")
            self._buf += chunk

    def close(self) -> None:
        """Close the connection (QEMU keeps running)."""
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self._sock.close()
            except OSError:
                pass

    def __enter__(self) -> "QMP":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        version = self.greeting.get("QMP", {}).get("version", {}).get("qemu", {})
        v = ".".join(str(version.get(k, "?")) for k in ("major", "minor", "micro")) if version else "?"
        return f"<QMP {state}, QEMU {v}>"
