"""kitlib: build the idlekit unikernel, boot it in QEMU, and watch what it costs.

The core, which imports no plotting or widget library: ``build``/``probe``
make kernel images, ``VM`` boots one (console, outcomes, QMP, guest stats,
devices; ``running()`` lists this process's live VMs, ``stop_all()`` stops
them), ``Sampler`` measures host CPU per vCPU thread beside the guest's
own view, ``protocol`` reads the lines the guest prints, ``Session``
measures VMs through named phases, and every failure is a named
``KitError``.  On it, one module a lesson: ``calibrate`` (the host's floor
and ceiling), ``measure``, ``compare_idle`` and ``drive`` (experiments on
one time axis, lessons 01 and 04), ``Bringup`` (lesson 02, cores),
``compare_locks`` (lesson 03, spinlocks), ``compare_lateness``, ``tails`` and
``tick_cost`` (lesson 05, idle), ``compare_reaction`` (lesson 06, poll), ``httpload`` (wrk and ab against
the net stage's web server), ``loadgen`` (HTTP load at a steady rate, in
bursts or closed-loop, in the background: ``Load``), ``versus`` (a
student's guesses beside the measurement), ``compare_net``
(Toro's HTTP experiment per policy, lesson 07) and ``build_peer``/``PeerVM``
(the Linux guest it is compared with); results are objects with a
table, and ``.figure()`` where there is a plot.  The views load when first
used: ``LivePlot``, ``IdlePanel`` and ``ConsolePanel`` (the same by
clicks); ``show`` (the kernel's source, cut by marker).
"""

from __future__ import annotations

import importlib
from typing import Any

from . import protocol
from .build import Image, build, probe
from .calibrate import Calibration, calibrate
from .cores import Bringup
from .errors import (
    BuildError,
    CalibrationError,
    GuestError,
    GuestExited,
    GuestPanic,
    GuestTimeout,
    HttpLoadError,
    KitError,
    KvmUnavailable,
    PeerUnavailable,
    QemuNotFound,
    StaleImage,
    ToolNotFound,
    TripleFault,
)
from .experiment import Phase, compare_idle, drive, measure
from .guest import StatsBlock, StatsSnapshot, halted_fraction, idle_rate
from .hostcpu import Sample, Sampler, read_process_ns, read_thread_ns
from . import httpload, loadgen
from .idle import Latency, LatencyComparison, Tails, TickCost, compare_lateness, tails, tick_cost
from .loadgen import Load, LoadResult
from .paths import build_dir, root
from .net import HalfOpen, NetExperiment, PeerSide, RateCurve, beside_peer, compare_net, latency_by_rate
from .peer import PeerImage, PeerVM, build_peer
from .poll import compare_reaction
from .qemu import command_line, find_qemu, kvm_usable, qemu_version, resolve_accel
from .qmp import QMP, QMPError
from .guess import Versus, versus
from .results import Experiment, PhaseResult
from .session import Session
from .source import show
from .spinlocks import LockComparison, LockResult, compare_locks, jain
from .vm import VM, clean_stale, running, stop_all

# Views: a name here is imported from its module on first use (PEP 562).
_VIEWS = {"LivePlot": "plot", "IdlePanel": "controls", "ConsolePanel": "controls"}


def __getattr__(name: str) -> Any:
    if name in _VIEWS:
        value = getattr(importlib.import_module(f".{_VIEWS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_VIEWS])


__all__ = [
    "Image", "build", "probe",
    "KitError", "BuildError", "QemuNotFound", "KvmUnavailable",
    "GuestError", "GuestPanic", "TripleFault", "GuestTimeout", "GuestExited",
    "StaleImage", "CalibrationError", "ToolNotFound", "HttpLoadError", "PeerUnavailable",
    "StatsBlock", "StatsSnapshot", "halted_fraction", "idle_rate",
    "Sample", "Sampler", "read_process_ns", "read_thread_ns",
    "root", "build_dir",
    "command_line", "find_qemu", "kvm_usable", "qemu_version", "resolve_accel",
    "QMP", "QMPError",
    "VM", "clean_stale", "running", "stop_all", "protocol", "httpload", "loadgen", "Load", "LoadResult", "Session",
    "PeerImage", "PeerVM", "build_peer",
    "Calibration", "calibrate", "Experiment", "Phase", "PhaseResult", "compare_idle", "drive", "measure",
    "LivePlot", "IdlePanel", "ConsolePanel", "show",
    "Bringup", "LockComparison", "LockResult", "compare_locks", "jain",
    "Latency", "LatencyComparison", "compare_lateness", "compare_reaction", "Tails", "tails",
    "TickCost", "tick_cost",
    "HalfOpen", "NetExperiment", "compare_net", "RateCurve", "latency_by_rate", "PeerSide", "beside_peer",
    "Versus", "versus",
]

from . import notebook as _notebook

_notebook.install()
_notebook.track_cells()
