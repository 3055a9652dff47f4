"""kitlib: build the idlekit unikernel, boot it in QEMU, and watch what it costs.

The core: ``build``/``probe`` make kernel images, ``VM`` boots one (console,
outcomes, QMP, guest stats), ``Sampler`` measures host CPU per vCPU thread
beside the guest's own view, and every failure is a named ``KitError``.
On top of it: ``calibrate`` (the host's floor and ceiling), ``measure`` and
``compare_idle`` (experiments on one time axis), ``LivePlot``, ``IdlePanel``
(the same by clicks) and ``show`` (the kernel's source, cut by marker).
"""

from .build import Image, build, probe
from .calibrate import Calibration, calibrate
from .controls import ConsolePanel, IdlePanel
from .errors import (
    BuildError,
    GuestError,
    GuestExited,
    GuestPanic,
    GuestTimeout,
    KitError,
    KvmUnavailable,
    QemuNotFound,
    TripleFault,
)
from .experiment import Experiment, Phase, PhaseResult, compare_idle, drive, measure
from .locks import LockComparison, LockResult, compare_locks, jain
from .smp import Bringup
from .guest import StatsBlock, StatsSnapshot, halted_fraction, idle_rate
from .hostcpu import Sample, Sampler, read_process_ns, read_thread_ns
from .paths import build_dir, root
from .plot import LivePlot
from .qemu import command_line, find_qemu, kvm_usable, qemu_version, resolve_accel
from .qmp import QMP, QMPError
from .source import show
from .vm import VM, clean_stale
from .wakeup import Latency, LatencyComparison, compare_lateness, compare_reaction

__all__ = [
    "Image", "build", "probe",
    "KitError", "BuildError", "QemuNotFound", "KvmUnavailable",
    "GuestError", "GuestPanic", "TripleFault", "GuestTimeout", "GuestExited",
    "StatsBlock", "StatsSnapshot", "halted_fraction", "idle_rate",
    "Sample", "Sampler", "read_process_ns", "read_thread_ns",
    "root", "build_dir",
    "command_line", "find_qemu", "kvm_usable", "qemu_version", "resolve_accel",
    "QMP", "QMPError",
    "VM", "clean_stale",
    "Calibration", "calibrate", "Experiment", "Phase", "PhaseResult", "compare_idle", "drive", "measure",
    "LivePlot", "IdlePanel", "ConsolePanel", "show",
    "Bringup", "LockComparison", "LockResult", "compare_locks", "jain",
    "Latency", "LatencyComparison", "compare_lateness", "compare_reaction",
]

from . import notebook as _notebook

_notebook.install()
