"""Experiments: boot one VM after another, or steer one VM by its console,
measure each phase for a while, and keep every sample on one time axis.

This is what lessons 01 to 05, ``kit demo`` and ``kit bench boot-idle`` run:
``measure`` takes a list of phases (an image and its command line), each
booted, left to settle and sampled; ``compare_idle`` is that for each idle
policy; ``drive`` types console commands into one running VM.  Each is a
measuring session (session.py); the result is an Experiment (results.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import protocol
from .build import Image
from .errors import KitError
from .results import Experiment, PhaseResult, summarise
from .session import Session
from .vm import VM

if TYPE_CHECKING:
    from .plot import LivePlot

__all__ = ["Phase", "measure", "compare_idle", "drive", "Experiment", "PhaseResult", "summarise"]


@dataclass(frozen=True)
class Phase:
    """One VM to boot and measure: ``label`` names it on the plot."""

    label: str
    image: Image
    append: str = ""
    cpus: int = 1
    ready: bool = True          # wait for "kit: ready" (calibration probes print nothing)
    verdict: str | None = None  # a verdict's name (e.g. "locks"): its OK line must follow the window
    net: bool = False           # boot with the network card on QEMU's user network (VM's net=)
    host_cpus: int | tuple[int, ...] | None = None  # confine QEMU to these host CPUs (VM's host_cpus=)


def measure(title: str, phases: Sequence[Phase], *, seconds: float = 4.0, settle: float = 0.5,
            hz: float = 10.0, plot: "LivePlot | None" = None, floor: float | None = None,
            ceiling: float | None = None, guest: str = "halted", show: bool = False,
            progress: bool = True) -> Experiment:
    """Boot each phase's VM in turn, sample it for ``settle + seconds``, stop it.

    ``show`` draws a live plot in a notebook (``plot``: the caller's own),
    which ends as the run's figure (see drive); the summaries skip the first
    ``settle`` seconds of each phase, when the VM has just booted.
    """
    cpus = max((p.cpus for p in phases), default=1)
    with Session(title, cpus, hz=hz, settle=settle, floor=floor, ceiling=ceiling, guest=guest,
                 show=show, plot=plot, progress=progress) as s:
        for phase in phases:
            s.say(f"{phase.label}: booting {phase.image.stage} "
                  f"{phase.append or '(default command line)'}, measuring {seconds:g} s")
            vm = s.boot(phase.image, cpus=phase.cpus, append=phase.append, ready=phase.ready,
                        **({"net": True} if phase.net else {}),
                        **({"host_cpus": phase.host_cpus} if phase.host_cpus is not None else {}))
            s.phase(phase.label, vm, seconds=seconds)
            s.end()
            if phase.verdict is not None:
                _await_verdict(vm, phase)
            s.stop(vm)
    return s.experiment()


def _await_verdict(vm: VM, phase: Phase) -> None:
    """Wait for the phase's verdict line; a ``FAIL`` line in its place is an error."""
    passed, failed = protocol.ok(phase.verdict), protocol.fail(phase.verdict)
    seen = vm.expect([passed, failed], timeout=30)
    if seen != passed:
        line = vm.console[vm.console.rfind(failed):].splitlines()[0]
        raise KitError(f"{phase.label}: the guest reported {line!r}\n{vm.tail()}")


def compare_idle(image: Image, policies: Sequence[str] = protocol.IDLE_POLICIES, *, cpus: int = 1,
                 append: str = "", seconds: float = 4.0, settle: float = 0.5,
                 floor: float | None = None, ceiling: float | None = None, guest: str = "halted",
                 show: bool = True, progress: bool = True) -> Experiment:
    """Boot ``image`` once per idle policy and measure each on one time axis.

    ``append`` adds to each command line (``"app=sleepers"``); ``guest``
    picks the plot's lower panel (see LivePlot).  With ``show`` the live
    plot is displayed first and ends as the run's figure (see drive).
    """
    title = f"{image.stage}: idle=" + " then idle=".join(policies) + (f" ({append})" if append else "")
    phases = [Phase(p, image, f"idle={p} {append}".strip(), cpus) for p in policies]
    return measure(title, phases, seconds=seconds, settle=settle, floor=floor, ceiling=ceiling,
                   guest=guest, show=show, progress=progress)


def drive(image: Image, commands: Sequence[str], *, cpus: int = 1, append: str = "",
          seconds: float = 4.0, settle: float = 0.5, hz: float = 10.0, floor: float | None = None,
          ceiling: float | None = None, guest: str = "halted", show: bool = True,
          progress: bool = True) -> Experiment:
    """Boot ``image`` once and type ``commands`` on its console one after another
    (``"idle hlt"``, ``"tick 1000"``), measuring ``settle + seconds`` after each.

    One VM, one time axis: each phase is named by the command that started
    it, the first by the boot command line.  The kernel must listen on its
    console (stage idle on); a command it refuses is a KitError.

    With ``show``, in JupyterLab the plot draws as samples arrive and, when
    the run ends, becomes the figure that ``.figure()`` of the result
    draws; in a notebook run headless (nbval) that figure is displayed once
    when the run ends, with an image beside it (static.py), so the lesson
    needs no ``run.figure()`` of its own.  A run that fails shows no figure.
    """
    labels = ["boot"]                   # the title carries the command line
    for c in commands:
        label, k = c, 2
        while label in labels:
            label, k = f"{c} ({k})", k + 1
        labels.append(label)
    title = (f"{image.stage}, {cpus} vCPU{'s' if cpus > 1 else ''}, {append or 'default command line'}: "
             + " -> ".join(commands))
    with Session(title, cpus, hz=hz, settle=settle, floor=floor, ceiling=ceiling, guest=guest,
                 show=show, progress=progress) as s:
        vm = s.boot(image, append=append)
        for i, label in enumerate(labels):
            if i > 0:
                answer = vm.command(commands[i - 1])
                s.say(f"typed {commands[i - 1]!r}, the guest answered {answer!r}")
            else:
                s.say(f"booted {image.stage} {append or '(default command line)'}, "
                      f"measuring {seconds:g} s a step")
            s.phase(label, vm, seconds=seconds)
        s.stop(vm)
    return s.experiment()
