"""HTTP load from Python: open-loop at a steady rate, bursts, or closed-loop.

wrk (``httpload``) saturates a server; this generator measures what a client
arriving at a chosen rate sees, which is what lesson 07 asks of each idle
policy.  Three shapes, each bounded by a count and/or a duration and always
by a global deadline, so no run can hang:

* ``open_loop(url, rate, seconds=, requests=)``: request ``i`` is due at
  ``t0 + i/rate`` whatever happened to the ones before.  Its latency runs
  from that intended time, not from when it was written, so a server that
  stalls shows up as latency of the requests due during the stall instead
  of as a lower rate (the "coordinated omission" a closed-loop client such
  as wrk makes).  Requests go over a pool of kept-alive connections, opened
  one after another before the clock starts (slirp's forwarded port listens
  with a backlog of 1: a burst of SYNs is retried a second later).  A
  request due while every connection is busy waits for the first one free,
  and its latency includes that wait.
* ``bursts(url, n, every, bursts)``: ``n`` requests due at once every
  ``every`` seconds, ``bursts`` times (the Toro blog's "N requests, then
  stop, repeated every X").
* ``closed_loop(url, concurrency, seconds=, requests=)``: each connection
  sends its next request when the answer to the last one came; latency runs
  from the send.

``Load`` runs one of them in the background (an asyncio loop in a thread)
while the caller does something else, such as sampling QEMU's host CPU:
``start()`` returns at once, ``stop()`` ends it at once, ``result()`` waits
(interrupting it, Ctrl-C or a notebook's stop button, stops the load), and
as a context manager it starts on entry and stops on exit.  The functions of
the same names run one to the end in the foreground and return its
``LoadResult``.

The client is a minimal HTTP/1.1 one (RFC 9112): ``GET <path> HTTP/1.1``
with ``Host``, the status line and header fields read, then exactly
``Content-Length`` bytes of body (section 6.3); ``Connection: close`` (or
an HTTP/1.0 answer without keep-alive) makes it reconnect for the next
request (section 9.3).  A request that fails is counted by kind (``KINDS``
and ``http_<status>``) and its connection is replaced.

Accuracy: the schedule is kept by the event loop, which waits with select(2)
(good to microseconds; epoll's whole milliseconds would make every send up
to 1 ms late) for pools of up to SELECT_MAX_CONNECTIONS connections; on two
host cores shared with QEMU it keeps up to about 2,000 requests a second.
Every request's lateness of dispatch (its intended time against when the
generator got to it: the generator's own lag, not the server's) is kept,
its percentiles are in the result, and the result's notes say when the
generator fell behind.
"""

from __future__ import annotations

import asyncio
import math
import selectors
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .loadresult import LoadResult, Progress, percentile

__all__ = ["LoadResult", "Progress", "Load", "open_loop", "bursts", "closed_loop", "percentile", "KINDS"]

# Error kinds besides ``http_<status>`` (a response whose status is not 2xx).
CONNECT = "connect"             # the connection could not be opened (refused, unreachable, no answer)
TIMEOUT = "timeout"             # no whole answer within the timeout, or none when the run ended
RESET = "reset"                 # the peer reset the connection (RST)
CLOSED = "closed"               # the peer closed the connection before the answer was whole
BAD = "bad_response"            # an answer that is not HTTP/1.x as this client reads it
KINDS = (CONNECT, TIMEOUT, RESET, CLOSED, BAD)

# Seconds a run may overrun its planned span before its deadline ends it.
SLACK_S = 10.0
# A run bounded by a count alone, closed-loop: seconds before the deadline.
UNBOUNDED_S = 60.0
# A terminal progress line is redrawn at most this often (seconds).
PROGRESS_EVERY_S = 0.25
# Pools up to this size wait with select(2) (microseconds), larger ones with epoll (milliseconds).
SELECT_MAX_CONNECTIONS = 256
HEAD_LIMIT = 64 * 1024          # bytes of status line and header fields a response may have


# -- the client ---------------------------------------------------------------------------

class _Failed(Exception):
    """A request failed; ``kind`` is its error kind."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass(frozen=True)
class _Target:
    host: str
    port: int
    path: str
    request: bytes

    @classmethod
    def parse(cls, url: str, path: str | None) -> "_Target":
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"not an http:// URL: {url!r}")
        port = parts.port or 80
        where = path if path is not None else (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if not where.startswith("/"):
            raise ValueError(f"a path starts with '/': {where!r}")
        host = parts.hostname if port == 80 else f"{parts.hostname}:{port}"
        request = f"GET {where} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode("ascii")
        return cls(parts.hostname, port, where, request)


class _Conn:
    """One slot of the pool: a kept-alive connection, opened when needed."""

    def __init__(self, target: _Target, timeout: float) -> None:
        self.target = target
        self.timeout = timeout
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.served = 0                 # answers read on this connection
        self.heard = False              # the current answer's status line came

    async def open(self) -> None:
        if self.writer is not None:
            return
        try:
            self.reader, self.writer = await asyncio.wait_for(
                asyncio.open_connection(self.target.host, self.target.port), self.timeout)
        except (OSError, asyncio.TimeoutError):
            raise _Failed(CONNECT) from None
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            import socket

            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        w, self.reader, self.writer = self.writer, None, None
        self.served = 0
        if w is not None:
            w.transport.abort()

    async def get(self, on_sent: Callable[[], None]) -> int:
        """Send one request and read its whole answer: its status.  On any
        failure the connection is closed, so the next request opens another.

        A kept-alive connection may be closed by the server between two
        requests (its idle timeout): a request that such a connection loses
        before any byte of its answer is sent once more on a new one, as
        RFC 9112 9.3.1 allows for an idempotent method."""
        if self.reader is not None and self.reader.at_eof():
            self.close()
        await self.open()
        reused = self.served > 0
        try:
            return await self._once(on_sent)
        except _Failed as e:
            if not (reused and not self.heard and e.kind in (CLOSED, RESET)):
                raise
        await self.open()
        return await self._once(on_sent)

    async def _once(self, on_sent: Callable[[], None]) -> int:
        self.heard = False
        try:
            status = await asyncio.wait_for(self._exchange(on_sent), self.timeout)
        except asyncio.TimeoutError:
            self.close()
            raise _Failed(TIMEOUT) from None
        except BaseException:
            self.close()
            raise
        self.served += 1
        return status

    async def _exchange(self, on_sent: Callable[[], None]) -> int:
        assert self.reader is not None and self.writer is not None
        try:
            self.writer.write(self.target.request)
            on_sent()
            line = await self.reader.readline()
            self.heard = bool(line)
            status, keep = await _read_response(self.reader, line)
        except ConnectionResetError:
            raise _Failed(RESET) from None
        except (BrokenPipeError, asyncio.IncompleteReadError, ConnectionError):
            raise _Failed(CLOSED) from None
        except (asyncio.LimitOverrunError, ValueError, UnicodeDecodeError):
            raise _Failed(BAD) from None
        if not keep:
            self.close()
        return status


async def _read_response(reader: asyncio.StreamReader, line: bytes) -> tuple[int, bool]:
    """Read the rest of one response whose status ``line`` came (RFC 9112
    sections 4, 5, 6.3): its status and whether the connection stays open.
    ValueError: not one this client reads."""
    if not line:
        raise asyncio.IncompleteReadError(b"", None)
    parts = line.decode("ascii").rstrip("\r\n").split(" ", 2)
    if len(parts) < 2 or parts[0] not in ("HTTP/1.1", "HTTP/1.0") or not parts[1].isdigit() \
            or len(parts[1]) != 3:
        raise ValueError(f"status line {line!r}")
    status = int(parts[1])
    fields: dict[str, str] = {}
    size = len(line)
    while True:
        line = await reader.readline()
        size += len(line)
        if not line:
            raise asyncio.IncompleteReadError(b"", None)
        if size > HEAD_LIMIT:
            raise ValueError("header section too long")
        if line in (b"\r\n", b"\n"):
            break
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon or not name or name != name.strip():
            raise ValueError(f"header field {line!r}")
        fields[name.lower()] = value.strip()
    conn = {t.strip().lower() for t in fields.get("connection", "").split(",")}
    keep = "close" not in conn and (parts[0] == "HTTP/1.1" or "keep-alive" in conn)
    if status in (204, 304) or 100 <= status < 200:
        return status, keep
    if "transfer-encoding" in fields:
        raise ValueError("chunked bodies are not read by this client")
    length = fields.get("content-length")
    if length is None:                  # the body runs to the close (RFC 9112 6.3, rule 8)
        await reader.read()
        return status, False
    if not length.isdigit():
        raise ValueError(f"Content-Length {length!r}")
    await reader.readexactly(int(length))
    return status, keep


# -- a run --------------------------------------------------------------------------------

_UNSENT = -1.0


class _Run:
    """The state of one run, touched only by its event loop (the counters are
    read from other threads for progress)."""

    def __init__(self, url: str, mode: str, target: _Target, *, rate: float, connections: int,
                 schedule: Sequence[float] | None, seconds: float | None, requests: int | None,
                 timeout: float, deadline: float) -> None:
        self.url, self.mode, self.target = url, mode, target
        self.rate, self.connections, self.schedule = rate, connections, schedule
        self.seconds, self.requests = seconds, requests
        self.timeout, self.deadline = timeout, deadline
        self.intended: list[float] = []
        self.dispatched: list[float] = []
        self.sent_at: list[float] = []
        self.answered_at: list[float] = []
        self.outcome: list[str] = []        # "" pending, "ok", or an error kind
        self.recent: deque[float] = deque() # answer times of the last second, for the rate
        self.errors = 0
        self.sent = 0
        self.answered = 0
        self.t0 = math.nan
        self.ended_by = "done"
        self.end_s = math.nan
        self.planned_total = self._schedule_length()

    # -- the bookkeeping of one request
    def add(self, intended: float, dispatched: float) -> int:
        self.intended.append(intended)
        self.dispatched.append(dispatched)
        self.sent_at.append(math.nan)
        self.answered_at.append(math.nan)
        self.outcome.append("")
        return len(self.intended) - 1

    def now(self) -> float:
        return time.monotonic() - self.t0

    async def one(self, i: int, conn: _Conn) -> None:
        def on_sent() -> None:
            if math.isnan(self.sent_at[i]):
                self.sent += 1
            self.sent_at[i] = self.now()

        try:
            status = await conn.get(on_sent)
        except _Failed as e:
            self.fail(i, e.kind)
            return
        t = self.now()
        self.answered_at[i] = t
        self.answered += 1
        self.recent.append(t)
        while self.recent[0] < t - 1.0:
            self.recent.popleft()
        if 200 <= status < 300:
            self.outcome[i] = "ok"
        else:
            self.fail(i, f"http_{status}")

    def fail(self, i: int, kind: str) -> None:
        self.outcome[i] = kind
        self.errors += 1

    # -- the shapes
    async def run(self) -> None:
        conns = [_Conn(self.target, self.timeout) for _ in range(self.connections)]
        try:
            for c in conns:                 # one after another: slirp's backlog is 1
                try:
                    await c.open()
                except _Failed:
                    pass                    # counted on the request that needs it
            self.t0 = time.monotonic()
            if self.mode == "closed":
                await asyncio.gather(*(self._closed_worker(c) for c in conns))
            else:
                await self._open(conns)
        finally:
            self.end_s = self.now() if not math.isnan(self.t0) else 0.0
            for c in conns:
                c.close()

    def _due(self, n: int) -> float | None:
        """The intended time of request ``n`` (None: the schedule is over)."""
        if self.schedule is not None:
            return self.schedule[n] if n < len(self.schedule) else None
        if self.requests is not None and n >= self.requests:
            return None
        t = n / self.rate
        if self.seconds is not None and t >= self.seconds:
            return None
        return t

    async def _open(self, conns: list[_Conn]) -> None:
        queue: asyncio.Queue[int] = asyncio.Queue()
        workers = [asyncio.ensure_future(self._open_worker(c, queue)) for c in conns]
        try:
            n = 0
            while (due := self._due(n)) is not None:
                wait = due - self.now()
                if wait > 0:
                    await asyncio.sleep(wait)
                # every request already due goes now: the loop wakes late, never early
                now = self.now()
                while due is not None and due <= now:
                    queue.put_nowait(self.add(due, now))
                    n += 1
                    due = self._due(n)
                if due is None:
                    break
            await queue.join()
        finally:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _open_worker(self, conn: _Conn, queue: "asyncio.Queue[int]") -> None:
        while True:
            i = await queue.get()
            try:
                await self.one(i, conn)
            finally:
                queue.task_done()

    async def _closed_worker(self, conn: _Conn) -> None:
        while True:
            n = len(self.intended)
            if self.requests is not None and n >= self.requests:
                return
            now = self.now()
            if self.seconds is not None and now >= self.seconds:
                return
            await self.one(self.add(now, now), conn)

    # -- the result
    def result(self) -> LoadResult:
        pending = [i for i, o in enumerate(self.outcome) if o == ""]
        for i in pending:                   # in flight or queued when the run ended
            if not math.isnan(self.sent_at[i]):
                self.fail(i, TIMEOUT)
        errors: dict[str, int] = {k: 0 for k in KINDS}
        for o in self.outcome:
            if o not in ("", "ok"):
                errors[o] = errors.get(o, 0) + 1
        sent = [i for i, s in enumerate(self.sent_at) if not math.isnan(s)]
        answered = [i for i, a in enumerate(self.answered_at) if not math.isnan(a)]
        start = self.intended if self.mode != "closed" else self.sent_at
        last = max((self.answered_at[i] for i in answered), default=0.0)
        duration = self.end_s if self.ended_by != "done" else max(last, self._span())
        return LoadResult(
            url=self.url, mode=self.mode, target_rate=self.rate, connections=self.connections,
            planned=self._planned(), sent=len(sent), answered=len(answered),
            ok=sum(o == "ok" for o in self.outcome), errors_by_kind=errors,
            duration_s=duration, ended_by=self.ended_by,
            intended_s=tuple(self.intended), sent_s=tuple(self.sent_at),
            answered_s=tuple(self.answered_at),
            latency_us=tuple(1e6 * (self.answered_at[i] - start[i]) for i in answered),
            send_lag_us=tuple(1e6 * (self.dispatched[i] - self.intended[i]) for i in sent)
            if self.mode != "closed" else ())

    def _span(self) -> float:
        """The planned span of the schedule (0 when unknown)."""
        if self.schedule is not None:
            return self.schedule[-1] if self.schedule else 0.0
        if self.mode == "closed":
            return self.seconds or 0.0
        n = self._planned()
        return n / self.rate if n else 0.0

    def _planned(self) -> int:
        return len(self.intended) if self.mode == "closed" else self.planned_total

    def _schedule_length(self) -> int:
        """Requests the schedule holds (open-loop and bursts; 0 closed-loop)."""
        if self.mode == "closed":
            return 0
        if self.schedule is not None:
            return len(self.schedule)
        n = self.requests if self.requests is not None else math.ceil(self.seconds * self.rate)
        while n > 0 and self._due(n - 1) is None:     # agree with _due at the edge
            n -= 1
        while self._due(n) is not None:
            n += 1
        return n

    def progress(self) -> Progress:
        elapsed = self.now() if not math.isnan(self.t0) else 0.0
        recent = list(self.recent)          # appended by the loop's thread only
        rate = float(sum(t >= elapsed - 1.0 for t in recent))
        return Progress(elapsed, self.planned_total, self.sent, self.answered, self.errors, rate)


# -- in the background --------------------------------------------------------------------

class Load:
    """One load run in a thread of its own (see the module's docstring).

    Build one with ``Load.open_loop(...)``, ``Load.bursts(...)`` or
    ``Load.closed_loop(...)`` (the same arguments as the functions), then
    ``start()`` it or use it in a ``with`` block, which starts it and stops
    it at the block's end; ``result()`` afterwards holds what it did.
    ``progress``: True draws a line on stderr (or a widget in a notebook),
    False nothing, None (default) a widget in a live notebook only;
    ``on_progress`` is called with a Progress four times a second, from the
    load's thread.
    """

    def __init__(self, run: _Run, *, progress: bool | None = None,
                 on_progress: Callable[[Progress], None] | None = None) -> None:
        self._run = run
        self._show = _display(progress)
        self._on_progress = on_progress
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._done = threading.Event()
        self._stop_asked = False
        self._failure: BaseException | None = None
        self._result: LoadResult | None = None

    # -- building
    @classmethod
    def open_loop(cls, url: str, rate: float, seconds: float | None = None, requests: int | None = None,
                  *, connections: int = 8, path: str | None = None, timeout: float = 5.0,
                  deadline: float | None = None, progress: bool | None = None,
                  on_progress: Callable[[Progress], None] | None = None) -> "Load":
        if not rate > 0 or not math.isfinite(rate):
            raise ValueError("rate must be a number of requests a second above 0")
        _bounded(seconds, requests)
        span = min(seconds if seconds is not None else math.inf,
                   requests / rate if requests is not None else math.inf)
        run = _Run(url, "open", _Target.parse(url, path), rate=float(rate),
                   connections=_positive("connections", connections), schedule=None, seconds=seconds,
                   requests=requests, timeout=_timeout(timeout),
                   deadline=_deadline(deadline, span, timeout))
        return cls(run, progress=progress, on_progress=on_progress)

    @classmethod
    def bursts(cls, url: str, n: int, every: float, bursts: int, *, connections: int | None = None,
               path: str | None = None, timeout: float = 5.0, deadline: float | None = None,
               progress: bool | None = None,
               on_progress: Callable[[Progress], None] | None = None) -> "Load":
        _positive("n", n)
        _positive("bursts", bursts)
        if not every > 0:
            raise ValueError("every must be seconds above 0")
        schedule = [b * every for b in range(bursts) for _ in range(n)]
        run = _Run(url, "bursts", _Target.parse(url, path), rate=n / every,
                   connections=_positive("connections", connections if connections is not None else min(n, 8)),
                   schedule=schedule, seconds=None, requests=None, timeout=_timeout(timeout),
                   deadline=_deadline(deadline, schedule[-1], timeout))
        return cls(run, progress=progress, on_progress=on_progress)

    @classmethod
    def closed_loop(cls, url: str, concurrency: int, seconds: float | None = None,
                    requests: int | None = None, *, path: str | None = None, timeout: float = 5.0,
                    deadline: float | None = None, progress: bool | None = None,
                    on_progress: Callable[[Progress], None] | None = None) -> "Load":
        _bounded(seconds, requests)
        run = _Run(url, "closed", _Target.parse(url, path), rate=math.nan,
                   connections=_positive("concurrency", concurrency), schedule=None, seconds=seconds,
                   requests=requests, timeout=_timeout(timeout),
                   deadline=_deadline(deadline, seconds if seconds is not None else UNBOUNDED_S, timeout))
        return cls(run, progress=progress, on_progress=on_progress)

    # -- life cycle
    def start(self) -> "Load":
        """Start in a thread of its own and return at once (a second call does nothing)."""
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._main, name="kitlib-load", daemon=True)
        if self._show is not None:
            self._show.begin()
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._done.is_set()

    def stop(self) -> None:
        """End the run now: requests in flight count as timeouts, the ones not yet due are not sent."""
        self._stop_asked = True
        self._cancel()
        if self._thread is None or self._thread is threading.current_thread():
            return
        # Cancel again until the thread ends: in Python 3.11 asyncio.wait_for
        # loses a cancellation that arrives as the awaited request finishes
        # (CPython issue 86296, fixed in 3.12), and the run would go on.
        end = time.monotonic() + 5.0
        while self._thread.is_alive() and time.monotonic() < end:
            self._thread.join(timeout=0.1)
            self._cancel()

    def _cancel(self) -> None:
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:            # the loop closed meanwhile
                pass

    def result(self, timeout: float | None = None) -> LoadResult:
        """Wait for the end (started if it was not) and return what it did.
        An interrupt while waiting (Ctrl-C, a notebook's stop) stops the load
        first; TimeoutError if ``timeout`` seconds pass first."""
        self.start()
        limit = math.inf if timeout is None else time.monotonic() + timeout
        try:
            while not self._done.wait(0.1):
                if time.monotonic() >= limit:
                    raise TimeoutError(f"the load was still running after {timeout:g} s")
        except KeyboardInterrupt:
            self.stop()
            raise
        if self._failure is not None:
            raise self._failure
        assert self._result is not None
        return self._result

    def progress(self) -> Progress:
        """The numbers so far (safe to call from any thread, at any time)."""
        return self._run.progress()

    def __enter__(self) -> "Load":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else ("done" if self._done.is_set() else "not started")
        return f"<Load {self._run.mode} {self._run.url} {state}>"

    # -- the thread
    def _main(self) -> None:
        loop = _event_loop(self._run.connections)
        self._loop = loop
        try:
            self._task = loop.create_task(self._bounded())
            if self._stop_asked:
                self._task.cancel()
            loop.run_until_complete(asyncio.gather(self._task, return_exceptions=True))
            _cancel_rest(loop)
            self._result = self._run.result()
        except BaseException as e:          # reported to the waiter, not lost in the thread
            self._failure = e
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self._done.set()
            if self._show is not None:
                self._show.end(self._run.progress(), self._result)

    async def _bounded(self) -> None:
        reporter = asyncio.ensure_future(self._report())
        try:
            await asyncio.wait_for(self._run.run(), self._run.deadline)
        except asyncio.TimeoutError:
            self._run.ended_by = "deadline"
        except asyncio.CancelledError:
            self._run.ended_by = "stop"
        finally:
            reporter.cancel()
            if self._on_progress is not None:       # the last numbers, whatever the run's length
                self._on_progress(self._run.progress())

    async def _report(self) -> None:
        while True:
            await asyncio.sleep(PROGRESS_EVERY_S)
            p = self._run.progress()
            if self._on_progress is not None:
                self._on_progress(p)
            if self._show is not None:
                self._show.update(p)


def _cancel_rest(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel and finish the tasks still pending once the run's own task has
    ended: a second stop() can end asyncio.wait_for before the request it
    waits on has finished cancelling, which would otherwise be left behind."""
    rest = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in rest:
        t.cancel()
    if rest:
        loop.run_until_complete(asyncio.gather(*rest, return_exceptions=True))


def _event_loop(connections: int) -> asyncio.AbstractEventLoop:
    """An event loop whose waits are precise to microseconds where it can be.

    epoll's timeout is whole milliseconds, so a loop on it wakes up to 1 ms
    after a request is due (0.5 ms late on average, more on a busy host);
    select(2) takes a timeval, good to microseconds, but only file
    descriptors below FD_SETSIZE (1024): it serves pools that fit."""
    if connections <= SELECT_MAX_CONNECTIONS and hasattr(selectors, "SelectSelector"):
        return asyncio.SelectorEventLoop(selectors.SelectSelector())
    return asyncio.new_event_loop()


def _bounded(seconds: float | None, requests: int | None) -> None:
    if seconds is None and requests is None:
        raise ValueError("a load needs seconds=, requests= or both")
    if seconds is not None and not seconds > 0:
        raise ValueError("seconds must be above 0")
    if requests is not None:
        _positive("requests", requests)


def _positive(name: str, n: int) -> int:
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"{name} must be a whole number above 0")
    return n


def _timeout(t: float) -> float:
    if not t > 0:
        raise ValueError("timeout must be seconds above 0")
    return float(t)


def _deadline(deadline: float | None, span: float, timeout: float) -> float:
    """Seconds the whole run may take: given, or the planned span plus room."""
    if deadline is not None:
        if not deadline > 0:
            raise ValueError("deadline must be seconds above 0")
        return float(deadline)
    return span + timeout + SLACK_S


# -- progress display ---------------------------------------------------------------------

class _Line:
    """A progress line on stderr, redrawn in place."""

    def begin(self) -> None:
        pass

    def update(self, p: Progress) -> None:
        sys.stderr.write("\r" + p.line() + "\x1b[K")
        sys.stderr.flush()

    def end(self, p: Progress, r: LoadResult | None) -> None:
        self.update(p)
        sys.stderr.write("\n")
        sys.stderr.flush()


class _Widget:
    """A one-line progress label in a notebook (ipywidgets, loaded only here)."""

    def __init__(self) -> None:
        self.label: Any = None

    def begin(self) -> None:
        import ipywidgets
        from IPython.display import display

        self.label = ipywidgets.Label("load: starting")
        display(self.label)

    def update(self, p: Progress) -> None:
        if self.label is not None:
            self.label.value = p.line()

    def end(self, p: Progress, r: LoadResult | None) -> None:
        if self.label is not None:
            self.label.value = p.line() + ("  (done)" if r is not None else "")


def _display(progress: bool | None) -> _Line | _Widget | None:
    """Where progress goes: a widget in a live notebook front end (unless
    False; never headless, see notebook.live_frontend), a line on stderr
    when asked (True) elsewhere, otherwise nowhere."""
    from .notebook import live_frontend

    if progress is False:
        return None
    if live_frontend():
        return _Widget()
    return _Line() if progress else None


# -- in the foreground --------------------------------------------------------------------

def open_loop(url: str, rate: float, seconds: float | None = None, requests: int | None = None,
              **options: Any) -> LoadResult:
    """Requests to ``url`` due at ``t0 + i/rate`` for ``seconds`` and/or up to
    ``requests`` of them, over ``connections`` (default 8) kept-alive
    connections; latency from each intended time, so a request that waited
    for a free connection counts that wait.  Options: ``connections``,
    ``path`` (default: the URL's), ``timeout`` (seconds for one request;
    then it is a "timeout" and its connection is replaced), ``deadline``
    (seconds for the whole run; default its span + timeout + 10),
    ``progress``, ``on_progress``.  Blocks; interrupting stops it."""
    return Load.open_loop(url, rate, seconds, requests, **options).result()


def bursts(url: str, n: int, every: float, bursts: int, **options: Any) -> LoadResult:
    """``n`` requests due at once every ``every`` seconds, ``bursts`` times,
    over ``connections`` (default min(n, 8)); the options of open_loop."""
    return Load.bursts(url, n, every, bursts, **options).result()


def closed_loop(url: str, concurrency: int, seconds: float | None = None, requests: int | None = None,
                **options: Any) -> LoadResult:
    """``concurrency`` connections each send their next request when the
    last one's answer came, for ``seconds`` and/or ``requests`` in all;
    latency from each send.  Options as open_loop (no ``connections``)."""
    return Load.closed_loop(url, concurrency, seconds, requests, **options).result()
