"""Fairness, throughput and bring-up arithmetic, on synthetic numbers."""

import math

import pytest

from kitlib.errors import KitError
from kitlib.results import PhaseResult
from kitlib.guest import StatsSnapshot, counter_rate, is_counter
from kitlib.spinlocks import LockResult, jain
from kitlib.cores import Bringup


def test_jain_is_one_when_equal_and_one_over_n_when_one_takes_all():
    assert jain([5, 5, 5, 5]) == 1.0
    assert jain([9, 0, 0]) == pytest.approx(1 / 3)
    assert jain([1, 2, 3, 4]) == pytest.approx(100 / 120)
    assert math.isnan(jain([0, 0]))


def phase(acq, spins):
    rates = {"lock_acquires": dict(enumerate(acq)), "lock_spins": dict(enumerate(spins))}
    n = len(acq)
    return PhaseResult("ticket pause=1", n, 10, {i: 100.0 for i in range(n)}, 100.0 * n,
                       {i: 0.0 for i in range(n)}, {i: 0.0 for i in range(n)}, rates)


def test_lock_result_sums_throughput_and_spins_per_acquisition():
    r = LockResult("ticket", True, phase([100.0, 300.0], [1000.0, 1000.0]))
    assert r.throughput == 400.0
    assert r.spins_per_acquisition == 5.0
    assert r.fairness == pytest.approx(jain([100, 300]))


def test_counters_are_told_from_stamps_by_name():
    assert is_counter("lock_acquires") and is_counter("halts")
    assert not any(map(is_counter, ("seq", "up_tsc", "halted_tsc", "halt_since")))


def snap(t, cpus, hz=1_000_000_000):
    fields = tuple(cpus[0])
    return StatsSnapshot(host_time=t, tsc_hz=hz, cpus=tuple(cpus), valid=True, fields=fields)


def test_counter_rate_per_cpu_and_unknown_for_a_late_cpu():
    a = snap(1.0, [{"lock_acquires": 10}])
    b = snap(1.5, [{"lock_acquires": 60}, {"lock_acquires": 5}])
    rate = counter_rate(a, b, "lock_acquires")
    assert rate[0] == 100.0 and math.isnan(rate[1])


def test_bringup_counts_from_the_first_init_ipi():
    s = snap(0.0, [{"sipi_tsc": 1_000_000, "up_tsc": 500_000},
                   {"sipi_tsc": 0, "up_tsc": 3_000_000},
                   {"sipi_tsc": 0, "up_tsc": 12_000_000}])
    b = Bringup.from_stats(s)
    assert b.up_ms == (-0.5, 2.0, 11.0)
    assert b.total_ms == 11.0
    assert "3 CPUs up in 11.00 ms" in str(b)


def test_bringup_needs_the_stamps():
    with pytest.raises(KitError, match="cores"):
        Bringup.from_stats(snap(0.0, [{"idle_passes": 1}]))
