"""The host's floor and ceiling: a calibration that cannot be right is refused."""

from __future__ import annotations

import math

import pytest

import importlib
from kitlib.calibrate import Calibration, calibrate
from kitlib.errors import CalibrationError
from kitlib.results import PhaseResult

cal_module = importlib.import_module("kitlib.calibrate")      # the module, not the function

GOOD = dict(floor_vcpu=0.05, floor_total=1.5, ceiling_vcpu=99.0, ceiling_total=101.0,
            floor_wanted=0.05, ceiling_wanted=100.0)


def test_a_plausible_calibration_passes():
    cal = Calibration(**GOOD)
    assert cal.problems() == [] and cal.check() is cal


@pytest.mark.parametrize("changes, says", [
    # floor and ceiling swapped
    (dict(floor_vcpu=99.0, floor_total=101.0, ceiling_vcpu=0.05, ceiling_total=1.5,
          floor_wanted=100.0, ceiling_wanted=0.05), "not far below"),
    # a floor guest that spun (nested KVM): both 100 %
    (dict(floor_vcpu=100.0, floor_total=100.01, floor_wanted=100.0, ceiling_vcpu=100.0), "did not halt"),
    # the same with no runnable time measured
    (dict(floor_total=100.0, ceiling_vcpu=100.0, floor_wanted=math.nan, ceiling_wanted=math.nan),
     "not far below"),
    # a ceiling guest that did not ask for a whole core
    (dict(ceiling_vcpu=40.0, ceiling_wanted=41.0), "runnable only 41 %"),
])
def test_an_impossible_calibration_is_rejected_naming_the_cause(changes, says):
    with pytest.raises(CalibrationError, match=says) as err:
        Calibration(**{**GOOD, **changes}).check()
    assert "cli; hlt" in str(err.value) and "KIT_ACCEL=tcg" in str(err.value)


def _phase(label: str, vcpu: float, total: float, wanted: float) -> PhaseResult:
    return PhaseResult(label, 1, 20, {0: vcpu}, total, {0: math.nan}, {0: math.nan}, {}, {0: wanted})


def test_calibrate_checks_what_it_measured(monkeypatch):
    """calibrate() refuses a swapped measurement rather than handing it to the lessons."""
    swapped = {"floor": _phase("floor", 99.0, 101.0, 100.0), "ceiling": _phase("ceiling", 0.05, 1.5, 0.05)}
    monkeypatch.setattr(cal_module, "probe", lambda kind: kind)
    monkeypatch.setattr(cal_module, "measure", lambda *a, **k: swapped)
    with pytest.raises(CalibrationError):
        calibrate(seconds=0.123, fresh=True, progress=False)
    assert (0.123, 0.5) not in cal_module._cache


def test_a_real_calibration_has_its_floor_far_below_a_whole_core_ceiling():
    cal = calibrate(seconds=1.0, fresh=True, progress=False)
    assert cal.floor < 0.25 * cal.ceiling, cal
    assert cal.floor_wanted < 25.0, cal             # the halted vCPU asks for no core
    assert cal.ceiling_wanted > 80.0, cal           # the spinning one for all of one, however busy
