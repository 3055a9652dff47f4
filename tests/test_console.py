"""The serial console as a program uses it: VM.command() gets its own whole
answer, every byte reaches the guest, and a line too long is refused whole.

Judged by what the guest answers and by QEMU staying alive, never by time.
"""

from __future__ import annotations

import re
import threading

import pytest

import kitlib
from kitlib import protocol
from kitlib.errors import GuestTimeout

from conftest import requires_qemu

pytestmark = requires_qemu


@pytest.fixture(scope="module")
def idle() -> kitlib.Image:
    return kitlib.build("idle")


def test_stats_returns_every_cpu_each_time(idle):
    with kitlib.VM(idle, cpus=3) as vm:
        vm.wait_ready()
        for _ in range(4):
            said = vm.command("stats", timeout=30)
            lines = said.splitlines()
            assert lines[-1] == protocol.STATS_END, said
            assert sorted(protocol.stats_answer(said)) == [0, 1, 2], said
            assert len(lines) == 4, said
        assert vm.command("idle") == "idle: hlt"


def test_a_timed_out_command_leaves_no_answer_for_the_next(idle):
    with kitlib.VM(idle, cpus=3) as vm:
        vm.wait_ready()
        # No guest answers in a microsecond: this one's lines arrive after it gave up.
        with pytest.raises(GuestTimeout):
            vm.command("stats", timeout=1e-6)
        with pytest.raises(GuestTimeout):
            vm.command("idle hlt", timeout=1e-6)
        assert vm.command("idle spin") == "idle: spin"
        assert vm.command("tick 250") == "tick: 250 Hz"
        said = vm.command("stats", timeout=30)
        assert sorted(protocol.stats_answer(said)) == [0, 1, 2], said
        assert vm.command("idle") == "idle: spin"


def test_callers_on_four_threads_each_get_their_own_answers(idle):
    commands = ["idle", "tick", "help", "stats"]
    wrong: list[tuple[str, str]] = []
    errors: list[BaseException] = []
    with kitlib.VM(idle, cpus=2) as vm:
        vm.wait_ready()

        def caller(command: str) -> None:
            try:
                for _ in range(25):
                    said = vm.command(command, timeout=60)
                    first = said.splitlines()[0]
                    whole = said.splitlines()[-1] == protocol.STATS_END if command == "stats" else "\n" not in said
                    if not first.startswith(command + ": ") or not whole:
                        wrong.append((command, said))
            except BaseException as exc:     # reported below, on the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=caller, args=(c,)) for c in commands]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        assert not errors, errors
        assert not wrong, wrong[:5]
        assert vm.command("idle") == "idle: hlt"


def test_every_control_byte_reaches_the_guest_and_qemu_lives(idle):
    with kitlib.VM(idle, cpus=1) as vm:
        vm.wait_ready()
        for b in [*range(0x20), 0x7f]:
            vm.send(chr(b))
            vm.send("\n")
        assert vm.command("idle") == "idle: hlt"
        assert vm.running and vm.panic is None
        # The bytes that are not line ends or erasers arrive as '?' (console.c).
        assert "console: unknown command '?' (try help)" in vm.console


def test_an_over_long_line_is_refused_not_cut_and_run(idle):
    with kitlib.VM(idle, cpus=1) as vm:
        vm.wait_ready()
        # Cut at 63 bytes, this would read "idle spin" and switch the policy.
        vm.sendline("@900 idle spin" + " " * 60 + "x")
        vm.expect("@900 console: line too long (at most 63 bytes), not run\n", timeout=30)
        assert vm.command("idle") == "idle: hlt"
        # A line of exactly the limit is a command, one byte more is not.
        longest = "idle" + " " * (protocol.CONSOLE_LINE_MAX - 8) + "spin"
        assert len(longest) == protocol.CONSOLE_LINE_MAX
        assert vm.command(longest) == "idle: spin"
        vm.sendline("@901 " + longest + " ")
        vm.expect("@901 console: line too long", timeout=30)
        with pytest.raises(kitlib.KitError, match="at most 63"):
            vm.command(longest + "x")


def test_an_untagged_line_is_answered_untagged(idle):
    with kitlib.VM(idle, cpus=1) as vm:
        vm.wait_ready()
        vm.sendline("idle")
        vm.expect(re.compile(r"^idle: hlt\n", re.M), timeout=30)
        vm.sendline("@12x idle")
        vm.expect("console: unknown command '@12x idle' (try help)\n", timeout=30)
