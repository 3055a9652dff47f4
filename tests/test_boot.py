"""Stage 'boot' (lesson 01): the kernel's own checks, and what it refuses.

The VM runner's outcomes (ready, panic, #UD, triple fault, hang) are tested
in test_vm.py on this stage's kernel; here is what the stage itself does.
"""

from __future__ import annotations

import pytest

import kitlib
from kitlib import protocol
from kitlib.errors import GuestPanic

from conftest import requires_qemu

pytestmark = requires_qemu


def test_self_test_boot_passes(boot_image):
    with kitlib.VM(boot_image, append="test") as vm:
        assert vm.wait_exit(timeout=20) == 33
        assert protocol.TESTS_PASSED in vm.console
    assert vm.exit_status == 33


def test_an_app_is_a_panic_where_the_stage_has_none(boot_image):
    with kitlib.VM(boot_image, append="app=locks") as vm:
        with pytest.raises(GuestPanic) as err:
            vm.wait_ready(timeout=20)
    assert err.value.reason == ("app locks comes with stage spinlocks, this is stage boot "
                                "(this stage has no app)")
