"""`kit doctor`'s checks for containers (Binder, JupyterHub, Docker): /dev/shm's
room and who fills it, a working pseudo-terminal, and KVM without a misleading
hint.  Each check takes its inputs, so every case runs on any host."""

import os

from kitlib import doctor
from kitlib.doctor import ShmState


def shm(total: float, free: float, kit: float = 0.0, error: str | None = None) -> doctor.Check:
    return doctor._shm(ShmState("/dev/shm", total_mb=total, free_mb=free, kit_mb=kit, error=error))


def test_a_roomy_dev_shm_is_fine_and_says_how_much_is_free():
    check = shm(16000, 15000, kit=3)
    assert check.ok and "15000 of 16000 MiB free" in check.detail, check
    assert "3 MiB by the kit's files" in check.detail and "997 MiB by others" in check.detail, check


def test_a_containers_64_mib_dev_shm_passes_with_a_warning_that_names_the_peer():
    check = shm(64, 64)
    assert check.ok, f"a 64 MiB /dev/shm holds a kernel VM's sparse RAM file, yet doctor failed it: {check}"
    assert "small" in check.detail and "Linux peer" in check.detail and "--shm-size" in check.detail, check


def test_a_full_dev_shm_fails_and_says_who_fills_it():
    ours = shm(64, 8, kit=50)
    assert not ours.ok and "needs 64 MiB" in ours.detail, ours
    assert "kit's files fill most of it" in ours.hint and "/dev/shm/kit-*" in ours.hint, ours
    theirs = shm(64, 8, kit=1)
    assert not theirs.ok and "other programs' files" in theirs.hint, theirs


def test_an_unwritable_dev_shm_fails():
    check = shm(64, 64, error="[Errno 30] Read-only file system: '/dev/shm'")
    assert not check.ok and "Read-only" in check.detail and "writable" in check.hint, check


def test_shm_state_counts_the_blocks_the_kits_files_fill(tmp_path):
    (tmp_path / "kit-ram").write_bytes(b"\1" * (2 << 20))
    with open(tmp_path / "kit-sparse", "wb") as f:          # a guest RAM file nobody touched
        f.truncate(64 << 20)
    (tmp_path / "other").write_bytes(b"\1" * (1 << 20))
    state = doctor.shm_state(tmp_path)
    assert state.error is None and state.total_mb > 0 and state.free_mb > 0
    assert 1.9 <= state.kit_mb < 3.5, f"expected the 2 MiB written to kit-* files (not the sparse size), got {state}"


def test_a_working_pty_passes():
    check = doctor._pty()
    assert check.ok, f"this host's pseudo-terminals should carry a line: {check}"


def test_a_missing_pty_fails_with_what_to_mount():
    def no_ptys() -> tuple[int, int]:
        raise OSError(2, "No such file or directory")

    check = doctor._pty(no_ptys)
    assert not check.ok and "No such file" in check.detail and "devpts" in check.hint, check


def test_a_pty_that_carries_nothing_fails():
    def pipe_pair() -> tuple[int, int]:
        r, w = os.pipe()            # reads from the "master" see nothing written to the "slave"'s
        r2, w2 = os.pipe()
        os.close(w2)
        return r2, w

    check = doctor._pty(pipe_pair)
    assert not check.ok and "came back as b''" in check.detail, check


def test_no_dev_kvm_says_tcg_and_gives_no_group_hint():
    check = doctor._kvm(exists=False, usable=False)
    assert check.optional and not check.ok and check.hint == "", check
    assert "TCG" in check.detail and "kvm group" not in check.detail + check.hint, check


def test_a_dev_kvm_you_cannot_open_hints_at_the_group():
    check = doctor._kvm(exists=True, usable=False)
    assert check.optional and not check.ok and "kvm group" in check.hint, check
    assert doctor._kvm(exists=True, usable=True).ok
