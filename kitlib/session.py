"""One measuring session: boot VMs, sample each through named phases on one
time axis, and keep the results.

Every experiment in the kit is a session::

    with Session("spin against hlt", cpus=1) as s:
        for policy in ("spin", "hlt"):
            vm = s.boot(image, append=f"idle={policy}")
            s.phase(policy, vm, seconds=4)      # blocks: settle, then 4 s
            s.stop(vm)
        run = s.experiment()

A phase lasts from ``phase()`` until the next phase starts or ``end()``;
``seconds=`` makes ``phase()`` wait out ``settle + seconds`` itself,
without it the caller does what the phase is for (expect console lines,
type commands) and the sampler records meanwhile.  The summary of a phase
skips its first ``settle`` seconds of samples unless told not to.

The session owns a Sampler, the VMs it booted (stopped on exit, whatever
happens) and, only if asked for and in a notebook, a live plot: in
JupyterLab it draws as samples arrive and ends as the static figure; in a
notebook run headless (nbval) the figure is displayed once, when the
session ends without an error.  Outside a notebook (tests, the CLI) no
plotting library is imported.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from .build import Image
from .hostcpu import Sampler, read_process_ns
from .notebook import in_kernel, live_frontend
from .results import Experiment, PhaseResult, summarise
from .top import Top
from .vm import VM

if TYPE_CHECKING:
    from .peer import PeerImage
    from .plot import LivePlot

__all__ = ["Session"]


@dataclass
class _Phase:
    label: str
    cpus: int
    skip: int                       # samples the summary leaves out at the start
    vm: VM
    t0: float                       # time.monotonic() and QEMU's CPU nanoseconds at the start
    ns0: int
    t1: float = math.nan            # the same at the end
    ns1: int = 0


class Session:
    """A sampler, the VMs it watches, a live plot if wanted, and the phases seen.

    ``cpus`` sizes the plot and the summaries; ``hz`` is the sampling rate;
    ``settle`` is the seconds skipped at the start of a phase; ``floor`` and
    ``ceiling`` are drawn on the plot; ``guest`` picks its lower panel (see
    LivePlot).  ``show`` displays a live plot where a front end will draw it
    (and the final figure when the session ends, in any notebook);
    ``plot`` subscribes a LivePlot of the caller's instead.  ``progress``
    lets :meth:`say` print.  ``main`` draws QEMU's main thread beside the
    vCPU threads.  ``top`` prints a line like ``top``'s for QEMU once a
    second (see top.py): True for the notebook's one updating output or,
    on a terminal, standard output; or a stream to write the lines to.
    """

    def __init__(self, title: str, cpus: int = 1, *, hz: float = 10.0, settle: float = 0.5,
                 floor: float | None = None, ceiling: float | None = None, guest: str = "halted",
                 show: bool = False, plot: "LivePlot | None" = None, progress: bool = True,
                 main: bool = False, top: "bool | TextIO" = False) -> None:
        self.title = title
        self.cpus = cpus
        self.settle = settle
        self.floor = floor
        self.ceiling = ceiling
        self.guest = guest
        self.progress = progress
        self.main = main
        self.sampler = Sampler(hz)
        self.plot = plot
        if self.plot is None and show and in_kernel():
            from .plot import LivePlot

            self.plot = LivePlot(title, cpus, floor=floor, ceiling=ceiling, guest=guest,
                                 live=live_frontend(), main=main)
            self.plot.display_live()
        if self.plot is not None:
            self.sampler.subscribe(self.plot)
        self.top: Top | None = None
        if top is not False:
            self.top = Top(out=None if top is True else top)
            self.sampler.subscribe(self.top)
        self._vms: list[VM] = []
        self._phases: list[_Phase] = []
        self._current: _Phase | None = None
        self._failed = False            # left by an exception: the plot is not finalised

    # -- life cycle
    def start(self) -> "Session":
        """Start sampling (idempotent; boot() and phase() start it too)."""
        self.sampler.start()
        return self

    def close(self) -> None:
        """End the phase, stop every VM booted here and the sampler, draw the last samples."""
        self.end()
        for vm in self._vms:
            vm.stop()
        self._vms.clear()
        self.sampler.stop()
        if self.plot is not None:
            self.plot.finish(final=not self._failed)
        if self.top is not None:
            self.top.finish()

    def __enter__(self) -> "Session":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self._failed = exc[0] is not None
        self.close()

    def say(self, text: str) -> None:
        """Print a progress line (if the session was asked to)."""
        if self.progress:
            print(text, flush=True)

    # -- VMs
    def boot(self, image: "Image | PeerImage", *, cpus: int | None = None, append: str = "", ready: bool = True,
             **vm_options: Any) -> VM:
        """Start a VM (stopped when the session closes) and, with ``ready``, wait for ``kit: ready``.

        ``vm_options`` go to VM (``devices=``, ``args=``, ``boot_timeout=``...).
        A PeerImage (the Linux peer, kitlib.peer) boots as a PeerVM, ready
        at ``peer: ready``."""
        self._vms = [vm for vm in self._vms if vm.running]      # forget the stopped ones
        kind = VM
        if not isinstance(image, Image):
            from .peer import PeerImage, PeerVM
            if isinstance(image, PeerImage):
                kind = PeerVM
        vm = kind(image, cpus=self.cpus if cpus is None else cpus, append=append, **vm_options)
        self._vms.append(vm)
        vm.start()
        if ready:
            vm.wait_ready()                 # stops the VM itself when it fails
        return vm

    def stop(self, vm: VM) -> None:
        """End the phase if it watches ``vm``, then stop ``vm``."""
        if self._current is not None and self._current.vm is vm:
            self.end()
        vm.stop()

    # -- phases
    def phase(self, label: str, vm: VM, *, seconds: float | None = None, settle: bool = True) -> None:
        """Start the phase ``label`` on ``vm`` (ending the one before).

        With ``seconds``, wait ``settle + seconds`` (only ``seconds`` if
        ``settle`` is False) before returning; the phase goes on until the
        next one or :meth:`end`.  With ``settle`` the summary skips the
        first ``settle`` seconds of samples.  A label used again (a panel
        booting the same policy twice) adds to that phase's samples."""
        self.start()
        self.end()
        skip = round(self.settle * self.sampler.hz) if settle else 0
        self.sampler.watch(vm, label)
        self._current = _Phase(label, vm.cpus, skip, vm, time.monotonic(), _cpu_ns(vm))
        self._phases.append(self._current)
        if seconds is not None:
            time.sleep((self.settle if settle else 0.0) + seconds)

    def end(self) -> None:
        """End the current phase: the sampler stops watching its VM."""
        p, self._current = self._current, None
        if p is None:
            return
        self.sampler.unwatch()
        p.t1, p.ns1 = time.monotonic(), _cpu_ns(p.vm)

    @property
    def labels(self) -> list[str]:
        """The phases so far, in order, each once."""
        return list(dict.fromkeys(p.label for p in self._phases))

    # -- results
    def result(self, label: str, *, settle: int | None = None) -> PhaseResult:
        """The summary of phase ``label`` (``settle``: samples to skip, if not the phase's own)."""
        p = self._find(label)
        return summarise(label, p.cpus, self.sampler.phase_samples(label), p.skip if settle is None else settle)

    def host_pct(self, label: str) -> float:
        """QEMU's CPU over the whole of a phase that has ended, % of one host core,
        from its process CPU clock at the two ends (exact, where the samples'
        mean misses the edges of a short phase)."""
        p = self._find(label)
        if math.isnan(p.t1) or p.t1 <= p.t0 or p.ns1 < p.ns0:
            return math.nan
        return 100.0 * (p.ns1 - p.ns0) / (1e9 * (p.t1 - p.t0))

    def span(self, label: str) -> tuple[float, float]:
        """When phase ``label`` started and ended, in seconds on the samples' time
        axis (the end is NaN while it goes on)."""
        p = self._find(label)
        t0 = self.sampler.t0 or 0.0
        return p.t0 - t0, p.t1 - t0

    def experiment(self, labels: list[str] | None = None) -> Experiment:
        """The phases (all, or ``labels``) and every sample so far, as an Experiment."""
        chosen = self.labels if labels is None else labels
        return Experiment(self.title, tuple(self.result(label) for label in chosen),
                          tuple(self.sampler.samples), self.floor, self.ceiling, self.guest, self.main)

    def _find(self, label: str) -> _Phase:
        for p in reversed(self._phases):
            if p.label == label:
                return p
        raise KeyError(f"no phase {label!r} (phases: {', '.join(self.labels)})")

    def __repr__(self) -> str:
        return f"<Session {self.title!r}: {len(self._phases)} phases, {self.sampler!r}>"


def _cpu_ns(vm: VM) -> int:
    """QEMU's CPU nanoseconds so far (0 once it has exited)."""
    try:
        return read_process_ns(vm.pid) if vm.pid is not None and vm.running else 0
    except (OSError, ProcessLookupError):
        return 0
