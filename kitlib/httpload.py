"""HTTP load from real clients: wrk and ApacheBench (ab), run and read.

``wrk()`` and ``ab()`` run the tool against a URL (``VM.url``) and return
what it reported as a result object; ``parse_wrk()`` and ``parse_ab()`` read
a captured output, so the readers are tested without a server.  Every
figure is the tool's own: requests, the run's length, requests a second,
latency percentiles, and errors by kind.

The two tools differ in what they can say:

* wrk 4 (``--latency``) keeps connections alive (HTTP/1.1), runs for a
  time, and reports latency percentiles (p50, p75, p90, p99) and socket
  errors by kind: connect, read, write, timeout, and responses that were not
  2xx or 3xx.  It is closed-loop: a connection sends its next request when
  the last answer came, so its percentiles understate what a steady arrival
  rate would see (coordinated omission).
* ab speaks HTTP/1.0; ``-k`` asks for keep-alive, which ab honours only in
  a response with a ``Content-Length`` and a ``Connection: keep-alive``
  spelt so.  It runs a number of requests and counts complete, failed (by
  cause: connect, receive, length, exceptions), non-2xx and kept-alive
  ones, with the percentiles of whole request times in milliseconds.  ab
  judges a response "failed (length)" when its body's length differs from
  the first one's: use it on pages whose length does not change.

A missing tool is ToolNotFound with its install line; a tool that fails
or prints what cannot be read is HttpLoadError with its output.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from .errors import HttpLoadError, ToolNotFound
from .table import Tabular, json_safe

__all__ = ["WrkResult", "AbResult", "wrk", "ab", "parse_wrk", "parse_ab", "PACKAGES"]

# The Debian package of each client (./kit's pkg_for installs the same).
PACKAGES = {"wrk": "wrk", "ab": "apache2-utils", "curl": "curl"}

# Seconds a client may overrun the run it was asked for before it is stopped.
OVERRUN_S = 30.0


def _find(command: str) -> str:
    path = shutil.which(command)
    if path is None:
        raise ToolNotFound(command, PACKAGES.get(command, command))
    return path


def _run(argv: Sequence[str], limit_s: float) -> subprocess.CompletedProcess:
    """Run a client with a bound on its time; its output (stdout and stderr) as text."""
    path = _find(argv[0])
    try:
        return subprocess.run([path, *argv[1:]], capture_output=True, text=True, timeout=limit_s,
                              stdin=subprocess.DEVNULL, errors="replace")
    except subprocess.TimeoutExpired as e:
        said = "".join(x.decode(errors="replace") if isinstance(x, bytes) else x
                       for x in (e.stdout or "", e.stderr or ""))
        raise HttpLoadError(" ".join(argv), f"still running after {limit_s:g} s: stopped", said) from None


# -- wrk ----------------------------------------------------------------------------------

_TIME_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}   # to milliseconds


def _ms(value: str) -> float:
    """A wrk time (``168.00us``, ``1.53ms``, ``2.10s``, ``1.00m``) in milliseconds."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)", value)
    if m is None:
        raise ValueError(f"not a wrk time: {value!r}")
    return float(m.group(1)) * _TIME_UNITS[m.group(2)]


class _Percentiles:
    """The latency percentiles a client printed, by name (NaN: it did not print that one)."""

    percentiles_ms: dict[int, float]

    @property
    def p50_ms(self) -> float:
        return self.percentiles_ms.get(50, math.nan)

    @property
    def p90_ms(self) -> float:
        return self.percentiles_ms.get(90, math.nan)

    @property
    def p99_ms(self) -> float:
        return self.percentiles_ms.get(99, math.nan)


@dataclass(frozen=True)
class WrkResult(_Percentiles, Tabular):
    """What one wrk run reported (times in milliseconds; NaN: not reported)."""

    url: str
    threads: int
    connections: int
    requests: int
    duration_s: float
    rps: float                          # wrk's Requests/sec
    latency_mean_ms: float
    latency_max_ms: float
    percentiles_ms: dict[int, float]    # 50, 75, 90, 99 (wrk --latency)
    connect_errors: int = 0
    read_errors: int = 0
    write_errors: int = 0
    timeouts: int = 0
    non_2xx: int = 0                    # wrk's "Non-2xx or 3xx responses"
    output: str = field(default="", repr=False, compare=False)

    @property
    def errors_by_kind(self) -> dict[str, int]:
        return {"connect": self.connect_errors, "read": self.read_errors, "write": self.write_errors,
                "timeout": self.timeouts, "non_2xx": self.non_2xx}

    @property
    def errors(self) -> int:
        """Every error of every kind."""
        return sum(self.errors_by_kind.values())

    @property
    def ok(self) -> bool:
        """Requests were answered and none failed."""
        return self.requests > 0 and self.errors == 0

    # -- as a table and as data
    @property
    def title(self) -> str:                     # type: ignore[override]
        return f"wrk: {self.connections} connection(s), {self.threads} thread(s), {self.url}"

    columns = {"requests": "requests", "duration_s": "s", "rps": "requests/s", "p50_ms": "p50 ms",
               "p90_ms": "p90 ms", "p99_ms": "p99 ms", "errors": "errors"}

    def table(self) -> list[dict[str, object]]:
        return [{"requests": self.requests, "duration_s": self.duration_s, "rps": self.rps,
                 "p50_ms": self.p50_ms, "p90_ms": self.p90_ms, "p99_ms": self.p99_ms,
                 "errors": self.errors}]

    def notes(self) -> list[str]:
        return [] if not self.errors else [
            "errors: " + ", ".join(f"{k} {v}" for k, v in self.errors_by_kind.items() if v)]

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d.pop("output")
        d["percentiles_ms"] = {str(k): v for k, v in self.percentiles_ms.items()}
        d.update(p50_ms=self.p50_ms, p90_ms=self.p90_ms, p99_ms=self.p99_ms,
                 errors=self.errors, errors_by_kind=self.errors_by_kind)
        return json_safe(d)                     # type: ignore[return-value]


_WRK_HEAD = re.compile(r"^Running \S+ test @ (\S+)\n\s+(\d+) threads? and (\d+) connections?$", re.M)
_WRK_LATENCY = re.compile(r"^\s+Latency\s+(\S+)\s+\S+\s+(\S+)\s", re.M)
_WRK_PERCENTILE = re.compile(r"^\s+(50|75|90|99)%\s+(\S+)[ \t]*$", re.M)   # "1.30s ": wrk pads a unit of one letter
_WRK_REQUESTS = re.compile(r"^\s+(\d+) requests in (\S+), \S+ read$", re.M)
_WRK_SOCKET = re.compile(r"^\s+Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)$", re.M)
_WRK_NON2XX = re.compile(r"^\s+Non-2xx or 3xx responses: (\d+)$", re.M)
_WRK_RPS = re.compile(r"^Requests/sec:\s+(\d+(?:\.\d+)?)$", re.M)


def parse_wrk(output: str, command: str = "wrk") -> WrkResult:
    """Read what ``wrk --latency`` printed; HttpLoadError (with the output) if it is not that."""
    try:
        head, requests, rps = (_need(rx, output) for rx in (_WRK_HEAD, _WRK_REQUESTS, _WRK_RPS))
        latency = _WRK_LATENCY.search(output)
        socket_errors = _WRK_SOCKET.search(output)
        non_2xx = _WRK_NON2XX.search(output)
        percentiles = {int(p): _ms(v) for p, v in _WRK_PERCENTILE.findall(output)}
        n = int(requests.group(1))
        if n == 0:                              # wrk prints 0.00us for what it never measured
            percentiles = {p: math.nan for p in percentiles}
        mean, top = ((_ms(latency.group(1)), _ms(latency.group(2))) if latency and n
                     else (math.nan, math.nan))
        errors = tuple(int(x) for x in socket_errors.groups()) if socket_errors else (0, 0, 0, 0)
        return WrkResult(head.group(1), int(head.group(2)), int(head.group(3)), n,
                         _ms(requests.group(2)) / 1e3, float(rps.group(1)), mean, top, percentiles,
                         *errors, non_2xx=int(non_2xx.group(1)) if non_2xx else 0, output=output)
    except ValueError as e:
        raise HttpLoadError(command, f"its output could not be read ({e})", output) from None


def _need(rx: re.Pattern[str], output: str) -> re.Match[str]:
    m = rx.search(output)
    if m is None:
        raise ValueError(f"no line matching {rx.pattern!r}")
    return m


def wrk(url: str, *, connections: int = 1, threads: int = 1, seconds: float = 5.0,
        timeout_s: float = 2.0) -> WrkResult:
    """Load ``url`` with wrk for ``seconds`` over ``connections`` kept-alive
    connections on ``threads`` threads (at most one a connection), with
    latency percentiles; a request unanswered after ``timeout_s`` counts as
    a timeout."""
    if connections < 1 or threads < 1 or seconds <= 0 or timeout_s <= 0:
        raise ValueError("wrk needs connections, threads, seconds and timeout_s above 0")
    threads = min(threads, connections)
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{_whole_s(seconds)}s",
            "--timeout", f"{_whole_s(timeout_s)}s", "--latency", url]
    done = _run(argv, seconds + timeout_s + OVERRUN_S)
    said = done.stdout + done.stderr
    if done.returncode != 0:
        raise HttpLoadError(" ".join(argv), f"exited with status {done.returncode}", said)
    return parse_wrk(said, " ".join(argv))


def _whole_s(seconds: float) -> int:
    """wrk takes whole seconds (it reads "1.5" as 1)."""
    return max(1, round(seconds))


# -- ab -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class AbResult(_Percentiles, Tabular):
    """What one ab run reported (times in milliseconds; NaN: not reported)."""

    url: str
    concurrency: int
    complete: int                       # requests ab finished, failed ones included
    failed: int
    failed_by: dict[str, int]           # connect, receive, length, exceptions
    non_2xx: int
    keepalive: int                      # requests answered on a kept-alive connection
    write_errors: int
    duration_s: float
    rps: float
    percentiles_ms: dict[int, float]    # 50 66 75 80 90 95 98 99 100
    output: str = field(default="", repr=False, compare=False)

    @property
    def errors(self) -> int:
        """Failed requests, non-2xx answers and write errors together."""
        return self.failed + self.non_2xx + self.write_errors

    @property
    def ok(self) -> bool:
        return self.complete > 0 and self.errors == 0

    @property
    def title(self) -> str:                     # type: ignore[override]
        return f"ab: concurrency {self.concurrency}, {self.url}"

    columns = {"complete": "requests", "keepalive": "kept alive", "duration_s": "s",
               "rps": "requests/s", "p50_ms": "p50 ms", "p90_ms": "p90 ms", "p99_ms": "p99 ms",
               "failed": "failed", "non_2xx": "non-2xx"}

    def table(self) -> list[dict[str, object]]:
        return [{"complete": self.complete, "keepalive": self.keepalive, "duration_s": self.duration_s,
                 "rps": self.rps, "p50_ms": self.p50_ms, "p90_ms": self.p90_ms, "p99_ms": self.p99_ms,
                 "failed": self.failed, "non_2xx": self.non_2xx}]

    def notes(self) -> list[str]:
        why = ", ".join(f"{k} {v}" for k, v in self.failed_by.items() if v)
        return [f"failed: {why}"] if why else []

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d.pop("output")
        d["percentiles_ms"] = {str(k): v for k, v in self.percentiles_ms.items()}
        d.update(p50_ms=self.p50_ms, p90_ms=self.p90_ms, p99_ms=self.p99_ms, errors=self.errors)
        return json_safe(d)                     # type: ignore[return-value]


def _ab_field(name: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(name)}:\s+(\d+(?:\.\d+)?)\b", re.M)


_AB = {k: _ab_field(v) for k, v in {
    "host": "Server Hostname", "port": "Server Port", "concurrency": "Concurrency Level",
    "duration": "Time taken for tests", "complete": "Complete requests",
    "failed": "Failed requests", "rps": "Requests per second"}.items()}
_AB["host"] = re.compile(r"^Server Hostname:\s+(\S+)$", re.M)
_AB_OPTIONAL = {k: _ab_field(v) for k, v in {
    "non_2xx": "Non-2xx responses", "keepalive": "Keep-Alive requests",
    "write_errors": "Write errors"}.items()}
_AB_PATH = re.compile(r"^Document Path:\s+(\S+)$", re.M)
_AB_FAILED_BY = re.compile(r"^\s+\(Connect: (\d+), Receive: (\d+), Length: (\d+), Exceptions: (\d+)\)$", re.M)
_AB_PERCENTILE = re.compile(r"^\s+(\d+)%\s+(\d+)", re.M)


def parse_ab(output: str, command: str = "ab") -> AbResult:
    """Read what ab printed at the end of a run; HttpLoadError (with the output) if it is not that."""
    try:
        f = {k: _need(rx, output).group(1) for k, rx in _AB.items()}
        opt = {k: int(m.group(1)) if (m := rx.search(output)) else 0 for k, rx in _AB_OPTIONAL.items()}
        path = _need(_AB_PATH, output).group(1)
        by = _AB_FAILED_BY.search(output)
        failed_by = dict(zip(("connect", "receive", "length", "exceptions"),
                             (int(x) for x in by.groups()) if by else (0, 0, 0, 0)))
        served = output[output.find("Percentage of the requests"):] if "Percentage of the requests" in output else ""
        percentiles = {int(p): float(v) for p, v in _AB_PERCENTILE.findall(served)}
        return AbResult(f"http://{f['host']}:{f['port']}{path}", int(f["concurrency"]), int(f["complete"]),
                        int(f["failed"]), failed_by, opt["non_2xx"], opt["keepalive"], opt["write_errors"],
                        float(f["duration"]), float(f["rps"]), percentiles, output=output)
    except ValueError as e:
        raise HttpLoadError(command, f"its output could not be read ({e})", output) from None


def ab(url: str, *, requests: int, concurrency: int = 1, keepalive: bool = True,
       timeout_s: float = 30.0, limit_s: float | None = None) -> AbResult:
    """``requests`` requests to ``url`` with ab, ``concurrency`` at a time, over
    kept-alive connections (``-k``) or a fresh connection each.  ``timeout_s``
    is ab's per-socket wait (``-s``); ``limit_s`` bounds the whole run
    (default: generous for the count).  A receive error is counted, not the
    end of the run (``-r``)."""
    if requests < 1 or not 1 <= concurrency <= requests:
        raise ValueError("ab needs 1 <= concurrency <= requests")
    argv = ["ab", "-q", "-r", "-n", str(requests), "-c", str(concurrency), "-s", f"{timeout_s:g}",
            *(["-k"] if keepalive else []), url]
    done = _run(argv, limit_s if limit_s is not None else OVERRUN_S + requests / 50)
    said = done.stdout + done.stderr
    if done.returncode != 0:
        raise HttpLoadError(" ".join(argv), f"exited with status {done.returncode}", said)
    return parse_ab(said, " ".join(argv))

