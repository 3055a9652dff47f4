"""Phase summaries and results, on synthetic samples; drive() on a live VM."""

import json
import math

import pytest

import kitlib
from kitlib.results import Experiment, summarise
from kitlib.hostcpu import Sample

from conftest import requires_qemu


def sample(t, vcpu, halted, phase="p"):
    return Sample(t=t, phase=phase, vcpu={0: vcpu}, total=vcpu + 1.0, halted={0: halted},
                  idle_rate={0: math.nan})


def test_summary_skips_settling_samples_and_averages_the_rest():
    samples = [sample(0.1, 50.0, 0.0), sample(0.2, 100.0, 0.0), sample(0.3, 98.0, 0.1)]
    p = summarise("p", 1, samples, settle=1)
    assert p.samples == 2
    assert p.vcpu[0] == 99.0 and p.total == 100.0
    assert math.isclose(p.halted[0], 0.05)
    assert math.isnan(p.idle_rate[0])


def test_unknown_guest_values_are_ignored_not_averaged_as_zero():
    samples = [sample(0.1, 1.0, math.nan), sample(0.2, 1.0, 1.0)]
    assert summarise("p", 1, samples, settle=0).halted[0] == 1.0


def test_result_serialises_to_valid_json_and_finds_phases_by_label():
    a = summarise("spin", 1, [sample(0.1, 100.0, 0.0, "spin")], settle=0)
    b = summarise("hlt", 1, [sample(0.2, 0.1, 1.0, "hlt")], settle=0)
    run = Experiment("t", (a, b), ())
    assert run["hlt"] is b
    text = json.dumps(run.to_dict(), allow_nan=False)
    assert json.loads(text)["phases"][0]["idle_rate"]["0"] is None
    assert "spin" in str(run) and "<table>" in run._repr_html_()


@requires_qemu
def test_drive_types_each_command_into_one_vm_and_names_a_phase_by_it():
    run = kitlib.drive(kitlib.build("idle"), ["idle spin", "idle hlt", "idle spin"], cpus=1,
                       seconds=0.8, settle=0.2, show=False, progress=False)
    assert [p.label for p in run.phases] == ["boot", "idle spin", "idle hlt", "idle spin (2)"]
    assert all(p.samples > 0 for p in run.phases)
    assert run["idle spin"].halted[0] < 0.1 < 0.9 < run["idle hlt"].halted[0], run
    assert run["idle spin"].wanted[0] > 80 > 10 > run["idle hlt"].wanted[0], run


@requires_qemu
def test_a_refused_command_is_an_error_with_the_guest_words():
    with pytest.raises(kitlib.KitError, match="unknown command 'nap'"):
        kitlib.drive(kitlib.build("idle"), ["nap"], seconds=0.2, settle=0.1, show=False, progress=False)
