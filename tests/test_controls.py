"""The lesson's buttons call the same code as its cells: drive them here."""

import time

from kitlib.controls import IdlePanel


def test_panel_boots_switches_policy_live_and_stops(boot_image):
    panel = IdlePanel(boot_image, hz=20)
    try:
        first = panel.boot("spin")
        time.sleep(1.0)
        panel.boot("hlt")                       # stops the spinning VM first
        assert not first.running
        time.sleep(1.0)
        panel.stop()
        assert panel.vm is None and panel.stop_button.disabled
    finally:
        panel.close()
    phases = [s.phase for s in panel.sampler.samples]
    assert "idle=spin" in phases and "idle=hlt" in phases
    assert phases.index("idle=hlt") > phases.index("idle=spin")     # one time axis, in order
    spin = [s.vcpu[0] for s in panel.sampler.phase_samples("idle=spin")[3:]]
    hlt = [s.vcpu[0] for s in panel.sampler.phase_samples("idle=hlt")[3:]]
    assert min(spin) > max(hlt), "the plot must climb with spin and fall with hlt"


def test_a_failing_click_is_shown_not_raised(boot_image):
    panel = IdlePanel(boot_image, policies=("spin", "bogus"))
    try:
        panel.policy.value = "bogus"
        panel._guard(panel.boot)                # what the Boot button does
        assert "GuestPanic" in panel.status.value and "bogus" in panel.status.value
        assert panel.vm is None
    finally:
        panel.close()
