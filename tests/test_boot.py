"""Stage 'boot' (lesson 01): the kernel's own checks, and what it refuses.

The VM runner's outcomes (ready, panic, #UD, triple fault, hang) are tested
in test_vm.py on this stage's kernel; here is what the stage itself does.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import kitlib
from kitlib.build import stages
from kitlib import protocol
from kitlib.errors import GuestPanic

from conftest import panic_reason, requires_qemu

pytestmark = requires_qemu


def test_self_test_boot_passes(boot_image):
    with kitlib.VM(boot_image, append="test") as vm:
        assert vm.wait_exit(timeout=20) == 33
        assert protocol.TESTS_PASSED in vm.console
    assert vm.exit_status == 33


def test_an_app_is_a_panic_where_the_stage_has_none(boot_image):
    assert panic_reason(boot_image, "app=locks", timeout=20) == ("app locks comes with stage spinlocks, this is stage boot "
                                "(this stage has no app)")


def test_an_unknown_key_is_a_panic_that_lists_the_keys_the_stage_reads(boot_image):
    """A misspelt key (idel=spin) must not leave idle=hlt in force unnoticed."""
    assert panic_reason(boot_image, "idle=hlt idel=spin", timeout=20) == \
        "unknown key 'idel' (stage boot reads idle, test, crash or app)"


def test_a_key_of_a_later_stage_names_the_stage_it_comes_with(boot_image):
    assert panic_reason(boot_image, "haltpoll=200", timeout=20) == ("key 'haltpoll' comes with stage poll, this is stage boot "
                                "(stage boot reads idle, test, crash or app)")



def test_a_module_parameter_word_that_a_loader_adds_is_let_pass(boot_image):
    """QEMU's microvm appends virtio_mmio.device=... words; a dotted key is never the kit's."""
    with kitlib.VM(boot_image, append="virtio_mmio.device=512@0xfeb00e00:12 idle=hlt") as vm:
        vm.wait_ready(timeout=20)


# -- README.md's table of command-line options against the kernel's keys (kernel/cmdline.c)

STAGES = stages()                       # kernel/Makefile's, in order
README = Path(__file__).resolve().parent.parent / "README.md"
# Words that change what a boot does rather than tune it: checked by name only.
NOT_BOOTED = {"test", "crash", "app"}


def readme_keys() -> dict[str, tuple[str, str]]:
    """Each key README.md's option table lists -> (its first stage, a value it accepts).

    A value is the last literal choice the table offers (`idle=spin\\|hlt`: hlt),
    or 10 where it offers only a placeholder (`sleep=<ms>`, `ms=N`).
    """
    lines = README.read_text().splitlines()
    start = lines.index("| option | stage | meaning |") + 2
    keys: dict[str, tuple[str, str]] = {}
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        option, stage = (cell.strip() for cell in line.strip("|").split(" | ")[:2])
        stage = "boot" if stage == "all" else stage
        for word in option.strip("`").replace("[", " ").replace("]", " ").split():
            key, _, value = word.partition("=")
            literal = [v for v in value.split("\\|") if v and "<" not in v and v != "N"]
            sample = literal[-1] if literal else ("10" if value else "")
            if key not in keys or STAGES.index(stage) < STAGES.index(keys[key][0]):
                keys[key] = (stage, sample)
    return keys


def test_the_readme_lists_keys_of_every_stage():
    keys = readme_keys()
    assert {"idle", "test", "crash", "app", "lock", "tick", "poll", "haltpoll"} <= set(keys)
    assert keys["idle"] == ("boot", "hlt") and keys["sleep"] == ("sched", "10")


def keys_the_kernel_reads(image: kitlib.Image) -> list[str]:
    """The keys the kernel's unknown-key panic lists."""
    with kitlib.VM(image, append="nosuchkey=1") as vm:
        with pytest.raises(GuestPanic) as err:
            vm.wait_ready(timeout=60)
    m = re.fullmatch(rf"unknown key 'nosuchkey' \(stage {image.stage} reads (.*)\)", err.value.reason)
    assert m, err.value.reason
    return re.split(r", | or ", m.group(1))


@pytest.mark.parametrize("stage", STAGES)
def test_every_key_the_readme_lists_is_read_from_its_stage_on(stage):
    """Each key README.md lists for this stage or an earlier one boots to ready."""
    image = kitlib.build(stage)
    listed = {k: v for k, (s, v) in readme_keys().items() if STAGES.index(s) <= STAGES.index(stage)}
    reads = keys_the_kernel_reads(image)
    assert set(listed) <= set(reads), f"README keys the kernel does not read: {set(listed) - set(reads)}"
    if stage == STAGES[-1]:
        assert set(reads) == set(readme_keys()), "a key the kernel reads is missing from README.md"

    append = " ".join(f"{k}={v}" if v else k for k, v in listed.items() if k not in NOT_BOOTED)
    with kitlib.VM(image, append=append, boot_timeout=60) as vm:
        vm.wait_ready(timeout=60)
        assert f"cmdline: {append}\n" in vm.console
