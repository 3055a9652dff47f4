"""The lesson's buttons call the same code as its cells: drive them here."""

import time

import kitlib
from kitlib.controls import ConsolePanel, IdlePanel


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


def test_console_panel_steers_one_running_vm():
    """Boot once; the idle and tick buttons type console commands into that same VM."""
    panel = ConsolePanel(kitlib.build("idle"), cpus=2, hz=20)
    try:
        assert panel.idle.disabled                  # nothing to steer before a boot
        panel._guard(lambda: panel.command("idle spin"))
        assert "boot first" in panel.status.value
        vm = panel.boot()
        panel.idle.value = "spin"                   # what a click does
        time.sleep(1.0)
        panel.idle.value = "hlt"
        time.sleep(1.0)
        panel.tick.value = "1000"
        time.sleep(0.5)
        assert panel.vm is vm and vm.running        # the same VM all along
        assert "tick: 1000 Hz" in panel.status.value
        panel.stop()
        assert panel.idle.disabled and panel.idle.value is None
    finally:
        panel.close()
    spin = [s.vcpu[0] for s in panel.sampler.phase_samples("idle spin")[3:]]
    hlt = [s.vcpu[0] for s in panel.sampler.phase_samples("idle hlt")[3:]]
    assert spin and hlt and min(spin) > max(hlt), (spin, hlt)
