"""Clickable controls for a lesson: the buttons call the same functions as
the lesson's code cells, so a demo runs from the controls and the tests run
the code.  A panel is a measuring session (session.py) that stays open
between clicks, with a live plot of its own."""

from __future__ import annotations

import html
import threading

import ipywidgets as widgets

from . import protocol
from .build import Image
from .errors import KitError
from .hostcpu import Sampler
from .plot import LivePlot
from .session import Session
from .vm import VM


class _Panel:
    """What every panel has: one VM at a time, a session whose live plot keeps
    every run on one time axis, Boot and Stop buttons and a status line."""

    def __init__(self, image: Image, plot: LivePlot, hz: float) -> None:
        self.image = image
        self.plot = plot
        self.session = Session(plot.title, plot.cpus, hz=hz, floor=plot.floor, ceiling=plot.ceiling,
                               guest=plot.guest, plot=plot, progress=False)
        self.vm: VM | None = None
        self._lock = threading.Lock()
        self.boot_button = widgets.Button(description="Boot", button_style="success", icon="play")
        self.stop_button = widgets.Button(description="Stop", button_style="danger", icon="stop",
                                          disabled=True)
        self.status = widgets.HTML("stopped")
        self.boot_button.on_click(lambda _: self._guard(self.boot))
        self.stop_button.on_click(lambda _: self._guard(self.stop))

    @property
    def sampler(self) -> Sampler:
        """The session's sampler: every sample the panel has taken."""
        return self.session.sampler

    def boot(self) -> VM:
        raise NotImplementedError

    def _boot_locked(self, cpus: int, append: str, phase: str) -> VM:
        """Stop any running VM, boot a new one, wait for it and watch it."""
        self._stop_locked()
        self.status.value = f"booting {html.escape(append or self.image.stage)}…"
        try:
            vm = self.session.boot(self.image, cpus=cpus, append=append)
        except Exception:
            self.status.value = "boot failed"
            raise
        self.vm = vm
        self.session.phase(phase, vm)
        self.stop_button.disabled = False
        return vm

    def stop(self) -> None:
        """Stop the running VM; the plot keeps what it has drawn."""
        with self._lock:
            self._stop_locked()
            self.status.value = "stopped"
            self.stop_button.disabled = True

    def close(self) -> None:
        """Stop the VM and the sampler."""
        self.stop()
        self.session.close()

    def _stop_locked(self) -> None:
        if self.vm is not None:
            self.session.stop(self.vm)
            self.vm = None

    def _guard(self, action) -> None:
        try:
            action()
        except Exception as e:              # a click has no cell to raise into: show it
            self.status.value = f"<b>{type(e).__name__}</b>: {html.escape(str(e))}"

    def _controls(self) -> list[widgets.Widget]:
        return [widgets.HBox([self.boot_button, self.stop_button]), self.status]

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(widgets.VBox(self._controls()))
        display(self.plot)


class IdlePanel(_Panel):
    """Boot the kernel with an idle policy, watch it, stop it, boot another:
    every run lands on one live plot with one time axis."""

    def __init__(self, image: Image, *, policies: tuple[str, ...] = protocol.IDLE_POLICIES, cpus: int = 1,
                 floor: float | None = None, ceiling: float | None = None, hz: float = 10.0) -> None:
        super().__init__(image, LivePlot(f"{image.stage}: live", cpus, floor=floor, ceiling=ceiling), hz)
        self.cpus = cpus
        self.policy = widgets.ToggleButtons(options=policies, description="idle=")

    def boot(self, policy: str | None = None) -> VM:
        """Stop any running VM, then boot one with ``idle=<policy>`` and watch it."""
        policy = policy or self.policy.value
        with self._lock:
            vm = self._boot_locked(self.cpus, f"idle={policy}", f"idle={policy}")
            self.status.value = f"running with idle={policy}"
            return vm

    def _controls(self) -> list[widgets.Widget]:
        return [widgets.HBox([self.policy, self.boot_button, self.stop_button]), self.status]


class ConsolePanel(_Panel):
    """Boot the kernel once, then steer it by its console (stage idle on): the
    idle policy and the tick change on the running VM, and the live plot
    climbs or falls without a reboot.  Each change starts a phase named by
    the command, as :func:`kitlib.drive` does in code."""

    def __init__(self, image: Image, *, cpus: int = 2, append: str = "", floor: float | None = None,
                 ceiling: float | None = None, hz: float = 10.0,
                 ticks: tuple[str, ...] = ("none", "100", "250", "1000")) -> None:
        plot = LivePlot(f"{image.stage}, {cpus} vCPUs: live", cpus, floor=floor, ceiling=ceiling,
                        guest="timer_irqs")
        super().__init__(image, plot, hz)
        self.cpus = cpus
        self.append = append
        self.idle = widgets.ToggleButtons(options=protocol.IDLE_POLICIES, value=None, description="idle",
                                          disabled=True)
        self.tick = widgets.ToggleButtons(options=ticks, value=None, description="tick", disabled=True)
        for knob in (self.idle, self.tick):
            knob.observe(self._on_knob, names="value")

    def boot(self) -> VM:
        """Stop any running VM, boot a new one and watch it."""
        with self._lock:
            vm = self._boot_locked(self.cpus, self.append, "boot")
            self.status.value = "running: pick an idle policy or a tick"
            self.idle.disabled = self.tick.disabled = False
            return vm

    def command(self, line: str) -> str:
        """Type ``line`` on the running VM's console; the plot's next phase is named by it."""
        with self._lock:
            if self.vm is None:
                raise KitError("boot first: there is no VM to type to")
            answer = self.vm.command(line)
            self.session.phase(line, self.vm)
            self.status.value = f"the guest answered: <code>{html.escape(answer)}</code>"
            return answer

    def stop(self) -> None:
        super().stop()
        self.idle.disabled = self.tick.disabled = True
        self.idle.value = self.tick.value = None

    def _on_knob(self, change: dict) -> None:
        if change["new"] is not None:
            word = "idle" if change["owner"] is self.idle else "tick"
            self._guard(lambda: self.command(f"{word} {change['new']}"))

    def _controls(self) -> list[widgets.Widget]:
        return [widgets.HBox([self.boot_button, self.stop_button]), self.idle, self.tick, self.status]
