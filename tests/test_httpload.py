"""kitlib.httpload: the readers of wrk's and ab's reports, on outputs captured
from real runs (tests/data/httpload/), and how a missing or failing client is
reported.  No QEMU: tests/test_http.py runs the clients against the guest."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from kitlib import httpload
from kitlib.errors import HttpLoadError, KitError, ToolNotFound

DATA = Path(__file__).parent / "data" / "httpload"


def said(name: str) -> str:
    return (DATA / name).read_text()


def test_wrk_keepalive_run_is_read_whole():
    r = httpload.parse_wrk(said("wrk-keepalive.txt"))
    assert (r.url, r.threads, r.connections) == ("http://127.0.0.1:18081/", 1, 4)
    assert r.requests == 184 and r.duration_s == pytest.approx(2.01) and r.rps == 91.57
    assert r.percentiles_ms == {50: 43.89, 75: 43.99, 90: 44.03, 99: 44.10}
    assert (r.p50_ms, r.p90_ms, r.p99_ms) == (43.89, 44.03, 44.10)
    assert r.latency_mean_ms == 42.88 and r.latency_max_ms == 44.11
    assert r.errors == 0 and r.ok
    assert "requests/s" in str(r) and "91.6" in str(r)


def test_wrk_errors_are_counted_by_kind_and_microseconds_read_as_milliseconds():
    r = httpload.parse_wrk(said("wrk-errors.txt"))
    assert r.requests == 30105 and r.rps == 14337.63
    assert r.errors_by_kind == {"connect": 0, "read": 5017, "write": 0, "timeout": 0, "non_2xx": 6021}
    assert r.errors == 5017 + 6021 and not r.ok
    assert r.p50_ms == pytest.approx(0.168) and r.p99_ms == pytest.approx(1.53)
    assert "read 5017" in str(r)


def test_wrk_seconds_and_minutes_are_milliseconds():
    out = said("wrk-keepalive.txt").replace("99%   44.10ms", "99%    1.25s").replace(
        "184 requests in 2.01s", "184 requests in 1.00m")
    r = httpload.parse_wrk(out)
    assert r.p99_ms == 1250.0 and r.duration_s == 60.0


def test_wrk_seconds_padded_to_the_width_of_two_letter_units_are_read():
    """wrk prints "1.30s " with a space where "ms" has its second letter."""
    out = said("wrk-keepalive.txt").replace("99%   44.10ms", "99%    1.30s ")
    assert httpload.parse_wrk(out).p99_ms == 1300.0


def test_wrk_that_got_no_answer_has_no_percentiles():
    """wrk prints 0.00us for latencies it never measured: unknown, not zero."""
    r = httpload.parse_wrk(said("wrk-nothing-answered.txt"))
    assert r.requests == 0 and r.rps == 0.0 and not r.ok
    assert all(math.isnan(v) for v in (r.p50_ms, r.p99_ms, r.latency_mean_ms))
    assert r.to_dict()["p50_ms"] is None                # NaN is null in JSON


def test_wrk_output_that_is_no_report_is_an_error_that_shows_it():
    with pytest.raises(HttpLoadError) as e:
        httpload.parse_wrk(said("wrk-refused.txt"))
    assert "could not be read" in str(e.value)
    assert "unable to connect to 127.0.0.1:18099 Connection refused" in str(e.value)
    assert isinstance(e.value, KitError)


def test_ab_keepalive_run_is_read_whole():
    r = httpload.parse_ab(said("ab-keepalive.txt"))
    assert r.url == "http://127.0.0.1:18081/" and r.concurrency == 4
    assert (r.complete, r.failed, r.non_2xx, r.keepalive, r.write_errors) == (500, 0, 0, 500, 0)
    assert r.failed_by == {"connect": 0, "receive": 0, "length": 0, "exceptions": 0}
    assert r.duration_s == 5.464 and r.rps == 91.51
    assert r.percentiles_ms[50] == 44 and r.percentiles_ms[99] == 46 and r.percentiles_ms[100] == 48
    assert r.ok and r.errors == 0


def test_ab_failures_by_cause_and_non_2xx():
    k = httpload.parse_ab(said("ab-keepalive-errors.txt"))
    assert (k.complete, k.failed, k.non_2xx, k.keepalive) == (2000, 286, 343, 1714)
    assert k.failed_by == {"connect": 0, "receive": 0, "length": 286, "exceptions": 0}
    assert k.errors == 286 + 343 and not k.ok
    assert (k.p50_ms, k.p99_ms, k.percentiles_ms[100]) == (0.0, 1.0, 3.0)
    cut = httpload.parse_ab(said("ab-keepalive-errors.txt").split("Percentage of the requests")[0])
    assert cut.percentiles_ms == {} and math.isnan(cut.p50_ms)      # no table: unknown, not zero
    fresh = httpload.parse_ab(said("ab-fresh-errors.txt"))
    assert (fresh.complete, fresh.failed, fresh.non_2xx, fresh.keepalive) == (2000, 285, 343, 0)
    assert "length 285" in str(fresh)


@pytest.mark.parametrize("name, words", [("ab-timeout.txt", "apr_pollset_poll: The timeout specified"),
                                         ("ab-refused.txt", "Connection refused (111)")])
def test_ab_that_gave_up_is_an_error_that_shows_why(name, words):
    with pytest.raises(HttpLoadError) as e:
        httpload.parse_ab(said(name))
    assert words in str(e.value) and words in e.value._repr_html_().replace("&#x27;", "'")


@pytest.fixture
def no_tools(tmp_path, monkeypatch):
    """A PATH with nothing on it."""
    monkeypatch.setenv("PATH", str(tmp_path))


def test_a_missing_client_is_named_with_its_package(no_tools):
    with pytest.raises(ToolNotFound, match=r"wrk is not on PATH.*sudo apt-get install wrk"):
        httpload.wrk("http://127.0.0.1:1/", seconds=1)
    with pytest.raises(ToolNotFound, match=r"sudo apt-get install apache2-utils"):
        httpload.ab("http://127.0.0.1:1/", requests=1)


def _fake(tmp_path: Path, name: str, script: str) -> None:
    tool = tmp_path / name
    tool.write_text("#!/bin/sh\n" + script)
    tool.chmod(0o755)


def test_a_client_that_fails_is_an_error_with_its_words(tmp_path, monkeypatch):
    _fake(tmp_path, "wrk", "echo 'unable to connect to 127.0.0.1:1 Connection refused'; exit 1\n")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(HttpLoadError, match="exited with status 1") as e:
        httpload.wrk("http://127.0.0.1:1/", seconds=1)
    assert "Connection refused" in str(e.value) and e.value.command.startswith("wrk -t1 -c1 -d1s")


def test_the_clients_are_given_the_run_asked_for(tmp_path, monkeypatch):
    """The arguments each client gets, from a stand-in that prints a captured report."""
    log = tmp_path / "argv"
    _fake(tmp_path, "wrk", f'echo "$@" > {log}; cat {DATA / "wrk-keepalive.txt"}\n')
    _fake(tmp_path, "ab", f'echo "$@" > {log}; cat {DATA / "ab-keepalive.txt"}\n')
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    r = httpload.wrk("http://127.0.0.1:9/", connections=16, threads=2, seconds=5, timeout_s=3)
    assert log.read_text().split() == ["-t2", "-c16", "-d5s", "--timeout", "3s", "--latency",
                                       "http://127.0.0.1:9/"]
    assert r.requests == 184
    httpload.wrk("http://127.0.0.1:9/", connections=1, threads=2, seconds=0.4)
    assert log.read_text().split()[:3] == ["-t1", "-c1", "-d1s"]     # a thread a connection at most
    httpload.ab("http://127.0.0.1:9/", requests=100, concurrency=4, keepalive=False)
    assert log.read_text().split() == ["-q", "-r", "-n", "100", "-c", "4", "-s", "30", "http://127.0.0.1:9/"]
    assert "-k" in (httpload.ab("http://127.0.0.1:9/", requests=10) and log.read_text().split())


def test_a_client_that_hangs_is_stopped(tmp_path, monkeypatch):
    _fake(tmp_path, "ab", "echo started; exec sleep 30\n")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(HttpLoadError, match="still running after 0.5 s"):
        httpload.ab("http://127.0.0.1:9/", requests=1, limit_s=0.5)


def test_bad_arguments_are_refused_before_running():
    with pytest.raises(ValueError):
        httpload.ab("http://127.0.0.1:9/", requests=2, concurrency=3)
    with pytest.raises(ValueError):
        httpload.wrk("http://127.0.0.1:9/", connections=0)
