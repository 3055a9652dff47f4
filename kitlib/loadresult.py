"""What a run of kitlib.loadgen gives: every request's times as a ``LoadResult``
(its percentiles, rate, errors by kind, a timeline and a table), the numbers
so far of a running load as a ``Progress``, and the nearest-rank percentile
that both use."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from .table import Tabular, json_safe

__all__ = ["LoadResult", "Progress", "percentile", "BEHIND_US"]

# A send later than this (p99) means the generator could not keep its schedule.
BEHIND_US = 2000.0


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank percentile ``p`` (0-100] of ``values``: the smallest
    value with at least p % of them at or below it (NaN: no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


# -- the result ---------------------------------------------------------------------------

@dataclass(frozen=True)
class LoadResult(Tabular):
    """One run: what was planned, sent and answered, errors by kind, and every request's times.

    Times are seconds from the run's start (``t0``, after the pool was
    opened); latencies and lags are in microseconds.  ``intended_s``,
    ``sent_s`` and ``answered_s`` have one entry a request planned, in the
    order they were due: NaN where it was never sent or never answered.
    ``latency_us`` has one entry a request answered (any status), in the
    same order: from its intended time (open-loop and bursts) or from its
    send (closed-loop) to the last byte of its answer.  Percentiles are
    nearest-rank.
    """

    url: str
    mode: str                           # "open", "bursts" or "closed"
    target_rate: float                  # requests/s asked for (NaN: closed-loop)
    connections: int
    planned: int                        # requests the schedule held (sent, or due before the end)
    sent: int
    answered: int                       # an HTTP response came back, whatever its status
    ok: int                             # ... with a 2xx status
    errors_by_kind: dict[str, int]
    duration_s: float                   # from t0 to the last answer or the end of the run
    ended_by: str                       # "done", "deadline" or "stop"
    intended_s: tuple[float, ...] = field(repr=False)
    sent_s: tuple[float, ...] = field(repr=False)
    answered_s: tuple[float, ...] = field(repr=False)
    latency_us: tuple[float, ...] = field(repr=False)
    send_lag_us: tuple[float, ...] = field(repr=False)     # dispatch minus intended, a request sent
                                                            # (open-loop and bursts; empty closed-loop)

    # -- figures
    @property
    def errors(self) -> int:
        return sum(self.errors_by_kind.values())

    @property
    def achieved_rate(self) -> float:
        """Answers a second over the run."""
        return self.answered / self.duration_s if self.duration_s > 0 else math.nan

    def latency_pct_us(self, p: float) -> float:
        return percentile(self.latency_us, p)

    @property
    def p50_us(self) -> float:
        return self.latency_pct_us(50)

    @property
    def p90_us(self) -> float:
        return self.latency_pct_us(90)

    @property
    def p99_us(self) -> float:
        return self.latency_pct_us(99)

    @property
    def max_us(self) -> float:
        return max(self.latency_us, default=math.nan)

    @property
    def service_us(self) -> tuple[float, ...]:
        """From each answered request's actual send to its answer (no wait for
        the schedule or for a free connection)."""
        return tuple(1e6 * (a - s) for s, a in zip(self.sent_s, self.answered_s)
                     if not math.isnan(a) and not math.isnan(s))

    @property
    def send_lag_p50_us(self) -> float:
        return percentile(self.send_lag_us, 50)

    @property
    def send_lag_p99_us(self) -> float:
        return percentile(self.send_lag_us, 99)

    @property
    def generator_behind(self) -> bool:
        """The generator itself sent late (its p99 lag above BEHIND_US)."""
        return self.mode != "closed" and self.send_lag_p99_us > BEHIND_US

    @property
    def clean(self) -> bool:
        """Every planned request was sent and answered 2xx, and the run was not cut short."""
        return self.ended_by == "done" and self.ok == self.planned and self.errors == 0

    def timeline(self, bin_s: float = 1.0) -> list[dict[str, float]]:
        """Per bin of ``bin_s`` seconds: answers a second and the median and
        maximum latency (µs) of the requests answered in it, for a plot."""
        if bin_s <= 0:
            raise ValueError("bin_s must be above 0")
        done = [a for a in self.answered_s if not math.isnan(a)]
        bins = max(1, math.ceil(max(self.duration_s, max(done, default=0.0)) / bin_s))
        lat: list[list[float]] = [[] for _ in range(bins)]
        for a, us in zip(done, self.latency_us):
            lat[min(int(a / bin_s), bins - 1)].append(us)
        return [{"t_s": i * bin_s, "rate": len(x) / bin_s, "p50_us": percentile(x, 50),
                 "max_us": max(x, default=math.nan)} for i, x in enumerate(lat)]

    # -- as a table and as data
    @property
    def title(self) -> str:                     # type: ignore[override]
        how = {"open": f"open-loop at {self.target_rate:g}/s", "bursts": "bursts",
               "closed": f"closed-loop, {self.connections} at a time"}.get(self.mode, self.mode)
        return f"load {how}: {self.url}"

    columns = {"sent": "sent", "answered": "answered", "ok": "ok", "errors": "errors",
               "duration_s": "s", "achieved_rate": "requests/s", "p50_us": "p50 µs",
               "p90_us": "p90 µs", "p99_us": "p99 µs", "max_us": "max µs",
               "send_lag_p99_us": "send lag p99 µs"}

    def table(self) -> list[dict[str, object]]:
        return [{k: _rounded(getattr(self, k)) for k in self.columns}]

    def notes(self) -> list[str]:
        out = ["latency: from each request's intended send time (open-loop), nearest-rank percentiles"
               if self.mode != "closed" else "latency: from each request's send, nearest-rank percentiles"]
        if self.errors:
            out.append("errors: " + ", ".join(f"{k} {v}" for k, v in self.errors_by_kind.items() if v))
        if self.ended_by != "done":
            out.append(f"ended by {self.ended_by}: {self.planned - self.sent} planned request(s) not sent")
        if self.generator_behind:
            out.append(f"the generator fell behind its schedule (its own send lag p99 "
                       f"{self.send_lag_p99_us:,.0f} µs): latencies include that lag; "
                       "ask for a lower rate, or use wrk for saturation")
        return out

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d.update(errors=self.errors, achieved_rate=self.achieved_rate, p50_us=self.p50_us,
                 p90_us=self.p90_us, p99_us=self.p99_us, max_us=self.max_us,
                 send_lag_p50_us=self.send_lag_p50_us, send_lag_p99_us=self.send_lag_p99_us,
                 generator_behind=self.generator_behind, latency="from intended send time"
                 if self.mode != "closed" else "from send", percentiles="nearest-rank")
        return json_safe(d)                     # type: ignore[return-value]


def _rounded(v: object) -> object:
    return round(v) if isinstance(v, float) and not math.isnan(v) and abs(v) >= 100 else v


@dataclass(frozen=True)
class Progress:
    """A running load's numbers so far."""

    elapsed_s: float
    planned: int
    sent: int
    answered: int
    errors: int
    rate: float                         # answers a second over the last second

    def line(self) -> str:
        return (f"load: {self.elapsed_s:5.1f} s  sent {self.sent:,}  answered {self.answered:,}  "
                f"errors {self.errors:,}  {self.rate:,.0f}/s")
