"""Errors kitlib raises, each one a sentence a student can act on.

A lesson shows these to people who are learning, often on a projector: the
message alone must say what happened and what to do, without a traceback.
Every error renders as a short HTML box in Jupyter (``_repr_html_``) and as
plain text everywhere else.  Guest errors carry the last console lines,
because what the kernel printed last is usually the best clue.
"""

from __future__ import annotations

import html

__all__ = [
    "KitError",
    "BuildError",
    "QemuNotFound",
    "KvmUnavailable",
    "GuestError",
    "GuestPanic",
    "TripleFault",
    "GuestTimeout",
    "GuestExited",
    "StaleImage",
    "CalibrationError",
    "ToolNotFound",
    "HttpLoadError",
    "PeerUnavailable",
]

QEMU_INSTALL_HINT = "sudo apt-get install qemu-system-x86   (or: make setup)"
TOOLCHAIN_INSTALL_HINT = "sudo apt-get install make gcc binutils   (or: make setup)"


class KitError(Exception):
    """Base of every kitlib error; its message is meant for the student."""

    title = "kitlib error"

    def _detail(self) -> str | None:
        """Text shown in a preformatted block under the message (or None)."""
        return None

    def _headline(self) -> str:
        return str(self.args[0]) if self.args else self.title

    def _repr_html_(self) -> str:
        head = html.escape(self._headline())
        body = f"<b>{html.escape(self.title)}</b>: {head}"
        detail = self._detail()
        if detail:
            body += f"<pre style='margin:4px 0 0 0'>{html.escape(detail)}</pre>"
        return f"<div style='border-left:4px solid #c0392b;padding:4px 8px'>{body}</div>"


class BuildError(KitError):
    """The kernel did not compile; str() is the compiler's diagnostics, unchanged."""

    title = "build failed"

    def __init__(self, stage: str, diagnostics: str):
        self.stage = stage
        self.diagnostics = diagnostics
        super().__init__(diagnostics)

    def __str__(self) -> str:
        return self.diagnostics

    def _headline(self) -> str:
        return f"stage {self.stage!r} did not build; the compiler said:"

    def _detail(self) -> str:
        return self.diagnostics


class StaleImage(KitError):
    """An image whose sources changed after it was built, or whose rebuild failed:
    booting it would run code that is not what the files say."""

    title = "stale kernel image"

    def __init__(self, stage: str, path: str, why: str, rebuild: str):
        self.stage = stage
        self.path = path
        self.why = why
        super().__init__(
            f"the {stage} image {path} is older than its sources ({why} since it was "
            f"built, or its rebuild failed): rebuild it with {rebuild} and boot the image that returns."
        )


class CalibrationError(KitError):
    """The floor and ceiling guests measured something that cannot be a floor and a ceiling."""

    title = "calibration rejected"

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            f"this host's calibration cannot be right: {'; '.join(problems)}. The likely cause: "
            "the accelerator does not halt a `cli; hlt` vCPU (KVM nested in a software-virtualised "
            "host can spin it instead). Use TCG: unset KIT_ACCEL or set KIT_ACCEL=tcg."
        )


class ToolNotFound(KitError):
    """A program the kit runs (an HTTP client such as wrk or ab) is not installed."""

    title = "tool not found"

    def __init__(self, command: str, package: str):
        self.command = command
        self.package = package
        super().__init__(
            f"{command} is not on PATH. Install it with: sudo apt-get install {package}   "
            "(or: ./kit setup)"
        )


class HttpLoadError(KitError):
    """An HTTP client ran but failed, or said something kitlib cannot read; carries its output."""

    title = "HTTP client failed"

    def __init__(self, command: str, why: str, output: str = ""):
        self.command = command
        self.why = why
        self.output = output
        super().__init__(f"{command}: {why}")

    def __str__(self) -> str:
        said = self.output.strip()
        if not said:
            return f"{self.command}: {self.why} (it printed nothing)"
        return f"{self.command}: {self.why}\nit printed:\n{_indent(said)}"

    def _detail(self) -> str:
        return self.output.strip() or "(it printed nothing)"


class PeerUnavailable(KitError):
    """The Linux peer cannot be built here: Debian's packages could not be had
    (no apt-get, no network, an index without them) or static linking is impossible."""

    title = "Linux peer unavailable"

    def __init__(self, why: str, hint: str):
        self.why = why
        self.hint = hint
        super().__init__(f"the Linux peer cannot be built: {why}. {hint}")


class QemuNotFound(KitError):
    """No usable qemu-system-x86_64; the message says how to install it."""

    title = "QEMU not found"

    def __init__(self, detail: str = "qemu-system-x86_64 is not on PATH"):
        self.detail = detail
        super().__init__(
            f"{detail}. Install QEMU with: {QEMU_INSTALL_HINT}; "
            "or set KIT_QEMU to the path of qemu-system-x86_64."
        )


class KvmUnavailable(KitError):
    """accel='kvm' was asked for but /dev/kvm cannot be used."""

    title = "KVM unavailable"

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(
            f"KVM was requested but cannot be used: {reason}. Use accel='tcg' "
            "(the default), or give your user access to /dev/kvm "
            "(sudo usermod -aG kvm $USER, then log in again)."
        )


class GuestError(KitError):
    """The guest did not do what was expected; carries the console's last lines."""

    title = "guest error"

    def __init__(self, message: str, console_tail: str = ""):
        self.message = message
        self.console_tail = console_tail
        super().__init__(message)

    def __str__(self) -> str:
        if not self.console_tail.strip():
            return f"{self.message}\n(the console was empty)"
        return f"{self.message}\nlast console lines:\n{_indent(self.console_tail)}"

    def _headline(self) -> str:
        return self.message

    def _detail(self) -> str:
        return self.console_tail or "(the console was empty)"


class GuestPanic(GuestError):
    """The kernel printed ``kit: panic <reason>`` or exited with the failure code."""

    title = "guest panic"

    def __init__(self, reason: str, console_tail: str = ""):
        self.reason = reason
        super().__init__(f"the guest kernel panicked: {reason}", console_tail)


class TripleFault(GuestError):
    """QEMU exited with 0 under -no-reboot: a triple fault or a reset, never success."""

    title = "triple fault"

    def __init__(self, console_tail: str = ""):
        super().__init__(
            "QEMU exited with status 0 under -no-reboot: the guest triple-faulted or reset",
            console_tail,
        )


class GuestTimeout(GuestError):
    """Something expected on the console did not come in time."""

    title = "guest timeout"

    def __init__(self, waited_for: str, seconds: float, console_tail: str = ""):
        self.waited_for = waited_for
        self.seconds = seconds
        super().__init__(
            f"waited {seconds:g} s for {waited_for}, and it did not come", console_tail
        )


class GuestExited(GuestError):
    """QEMU ended unexpectedly or with a status kitlib does not know."""

    title = "QEMU exited"

    def __init__(
        self,
        status: int | None,
        console_tail: str = "",
        stderr_tail: str = "",
        detail: str | None = None,
    ):
        self.status = status
        self.stderr_tail = stderr_tail
        if detail is None:
            if status is None:
                detail = "QEMU ended unexpectedly"
            elif status < 0:
                detail = f"QEMU was killed by signal {-status}"
            else:
                detail = f"QEMU exited unexpectedly with status {status}"
        super().__init__(detail, console_tail)

    def __str__(self) -> str:
        text = super().__str__()
        if self.stderr_tail.strip():
            text += f"\nQEMU's own messages:\n{_indent(self.stderr_tail)}"
        return text

    def _detail(self) -> str:
        detail = super()._detail()
        if self.stderr_tail.strip():
            detail += "\n--- QEMU's own messages ---\n" + self.stderr_tail
        return detail


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.rstrip("\n").splitlines())
