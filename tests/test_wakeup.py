"""kitlib.idle without QEMU: reading the guests' percentile lines, and the results' views."""

from __future__ import annotations

import json
import math

import pytest

from kitlib.idle import Latency, LatencyComparison


def test_a_lateness_line_reads_as_microseconds():
    r = Latency.parse("hlt", "lateness: n=600 min=900 p50=12000 p90=30500 p99=80000 max=95000 ns\n",
                      host_pct=0.5)
    assert (r.n, r.p50_us, r.p90_us, r.p99_us, r.max_us) == (600, 12.0, 30.5, 80.0, 95.0)
    assert r.sent is None and r.missed == 0 and r.host_pct == 0.5


def test_a_prodcons_line_counts_what_the_consumer_missed():
    r = Latency.parse("toro", "prodcons: poll=toro sent=200 seen=150 min=3000 p50=4000 p90=9000 p99=10000 max=10100 ns")
    assert (r.sent, r.n, r.missed) == (200, 150, 50)


def test_a_consumer_that_saw_nothing_has_no_percentiles():
    r = Latency.parse("toro", "prodcons: poll=toro sent=200 seen=0 min=- p50=- p90=- p99=- max=- ns")
    assert r.n == 0 and r.missed == 200 and math.isnan(r.p50_us) and math.isnan(r.max_us)


def test_a_line_without_counts_is_refused():
    with pytest.raises(ValueError, match="not a percentile line"):
        Latency.parse("x", "kit: ready")


def test_a_comparison_shows_every_setup_and_is_valid_json():
    runs = LatencyComparison("t", (
        Latency.parse("spin", "prodcons: poll=spin sent=10 seen=10 min=900 p50=1000 p90=2000 p99=3000 "
                              "max=3000 ns",
                      host_pct=200.0, quiet_pct=199.0),
        Latency.parse("toro", "prodcons: poll=toro sent=10 seen=0 min=- p50=- p90=- p99=- max=- ns",
                      host_pct=100.0, quiet_pct=100.0, after_pct=99.0),
    ))
    assert runs["toro"].n == 0
    with pytest.raises(KeyError, match="setups: spin, toro"):
        runs["wait"]
    assert [row["setup"] for row in runs.table()] == ["spin", "toro"]
    assert "after_host_pct" not in runs.table()[0] and runs.table()[1]["after_host_pct"] == 99.0
    text, page = str(runs), runs._repr_html_()
    assert "spin" in text and "toro" in text and "<table>" in page and "QEMU while quiet" in page
    data = json.loads(json.dumps(runs.to_dict()))      # NaN became null
    assert data["results"][1]["p50_us"] is None
    assert len(runs.figure().data) == 4                 # p50, p90, p99, max
