"""The measuring session every experiment runs on: VMs it stops, phases on one time axis."""

from __future__ import annotations

import math

import pytest

from kitlib.session import Session

from conftest import requires_qemu

pytestmark = requires_qemu


def test_phases_on_one_vm_and_the_next_summaries_and_cleanup(probes):
    with Session("probes", 1, hz=20, settle=0.2, progress=False) as s:
        spin = s.boot(probes["spin"], ready=False)
        s.phase("spin", spin, seconds=0.6)
        s.phase("spin again", spin, seconds=0.4, settle=False)
        halt = s.boot(probes["halt"], ready=False)
        s.phase("halt", halt, seconds=0.6)
        s.end()
        assert spin.running and halt.running           # the session stops them, not the phase
    assert not spin.running and not halt.running
    assert s.labels == ["spin", "spin again", "halt"]
    run = s.experiment()
    assert [p.label for p in run.phases] == s.labels
    assert run["spin"].samples < len(s.sampler.phase_samples("spin"))      # the settle is skipped
    assert run["spin again"].samples == len(s.sampler.phase_samples("spin again"))
    assert run["spin"].vcpu[0] > 50 > 5 > run["halt"].vcpu[0], run
    assert s.host_pct("spin") > 50 > s.host_pct("halt")       # the whole phase: boot included
    assert [x.phase for x in run.samples].index("halt") > [x.phase for x in run.samples].index("spin")


def test_a_failed_boot_leaves_nothing_running(boot_image):
    with Session("crash", 1, progress=False) as s:
        with pytest.raises(Exception, match="crash requested"):
            s.boot(boot_image, append="crash=panic")
    assert not any(vm.running for vm in s._vms)


def test_a_phase_still_open_has_no_exact_total(probes):
    with Session("open", 1, progress=False) as s:
        vm = s.boot(probes["halt"], ready=False)
        s.phase("halt", vm, seconds=0.2)
        assert math.isnan(s.host_pct("halt"))
        with pytest.raises(KeyError, match="phases: halt"):
            s.result("nope")
