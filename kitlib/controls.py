"""Clickable controls for a lesson: the buttons call the same functions as
the lesson's code cells, so a demo runs from the controls and the tests run
the code."""

from __future__ import annotations

import threading

import ipywidgets as widgets

from .build import Image
from .hostcpu import Sampler
from .plot import LivePlot
from .vm import VM


class IdlePanel:
    """Boot the kernel with an idle policy, watch it, stop it, boot another:
    every run lands on one live plot with one time axis."""

    def __init__(self, image: Image, *, policies: tuple[str, ...] = ("spin", "hlt"), cpus: int = 1,
                 floor: float | None = None, ceiling: float | None = None, hz: float = 10.0) -> None:
        self.image = image
        self.cpus = cpus
        self.plot = LivePlot(f"{image.stage}: live", cpus, floor=floor, ceiling=ceiling)
        self.sampler = Sampler(hz)
        self.sampler.subscribe(self.plot)
        self.vm: VM | None = None
        self._lock = threading.Lock()
        self.policy = widgets.ToggleButtons(options=policies, description="idle=")
        self.boot_button = widgets.Button(description="Boot", button_style="success", icon="play")
        self.stop_button = widgets.Button(description="Stop", button_style="danger", icon="stop",
                                          disabled=True)
        self.status = widgets.HTML("stopped")
        self.boot_button.on_click(lambda _: self._guard(self.boot))
        self.stop_button.on_click(lambda _: self._guard(self.stop))

    def boot(self, policy: str | None = None) -> VM:
        """Stop any running VM, then boot one with ``idle=<policy>`` and watch it."""
        policy = policy or self.policy.value
        with self._lock:
            self._stop_locked()
            if not self.sampler.running:
                self.sampler.start()
            self.status.value = f"booting with idle={policy}…"
            vm = VM(self.image, cpus=self.cpus, append=f"idle={policy}").start()
            try:
                vm.wait_ready()
            except Exception:
                vm.stop()
                self.status.value = "boot failed"
                raise
            self.vm = vm
            self.sampler.watch(vm, f"idle={policy}")
            self.status.value = f"running with idle={policy}"
            self.boot_button.disabled, self.stop_button.disabled = False, False
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
        self.sampler.stop()

    def _stop_locked(self) -> None:
        if self.vm is not None:
            self.sampler.unwatch()
            self.vm.stop()
            self.vm = None

    def _guard(self, action) -> None:
        try:
            action()
        except Exception as e:              # a click has no cell to raise into: show it
            self.status.value = f"<b>{type(e).__name__}</b>: {e}"

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(widgets.VBox([widgets.HBox([self.policy, self.boot_button, self.stop_button]),
                              self.status]))
        display(self.plot)
