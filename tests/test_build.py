"""Building kernel images: errors surfaced as gcc wrote them, no needless rebuilds."""

from __future__ import annotations

import os
import subprocess
import sys
import shutil
import time
from pathlib import Path

import pytest

import kitlib
from kitlib.errors import StaleImage
from kitlib.errors import BuildError, KitError


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A private copy of the kernel sources (boot/ and kernel/), built nowhere yet."""
    src = kitlib.root()
    for part in ("boot", "kernel"):
        shutil.copytree(src / part, tmp_path / part, ignore=shutil.ignore_patterns("*.o", "*.d"))
    return tmp_path


def _victim(tree: Path) -> Path:
    """A C file that every stage compiles."""
    for name in ("main.c", "kmain.c", "console.c"):
        if (tree / "kernel" / name).exists():
            return tree / "kernel" / name
    return sorted((tree / "kernel").glob("*.c"))[0]


def test_build_returns_image(boot_image):
    assert boot_image.path == kitlib.build_dir(kitlib.root()) / "boot" / "kernel.elf"
    assert boot_image.path.is_file() and boot_image.stage == "boot"
    assert "boot" in repr(boot_image) and "kernel.elf" in boot_image._repr_html_()


def test_unchanged_stage_rebuilds_nothing(boot_image):
    again = kitlib.build("boot")
    assert again.rebuilt is False
    assert again.path == boot_image.path


def test_fresh_tree_builds_and_edits_rebuild(tree):
    first = kitlib.build("boot", root=tree)
    assert first.rebuilt is True and first.path.is_relative_to(tree)
    assert kitlib.build("boot", root=tree).rebuilt is False
    victim = _victim(tree)
    time.sleep(0.01)
    victim.write_text(victim.read_text() + "\n/* edited */\n")
    assert kitlib.build("boot", root=tree).rebuilt is True


def test_compile_error_is_surfaced_verbatim(tree):
    victim = _victim(tree)
    victim.write_text(victim.read_text() + "\nint kit_broken = ;\n")
    with pytest.raises(BuildError) as err:
        kitlib.build("boot", root=tree)
    text = str(err.value)
    assert "error:" in text
    assert victim.name in text
    assert err.value.stage == "boot"
    assert "error:" in err.value._repr_html_()


def test_kit_root_env_selects_tree(tree, monkeypatch):
    monkeypatch.setenv("KIT_ROOT", str(tree))
    assert kitlib.root() == tree.resolve()
    monkeypatch.setenv("KIT_ROOT", str(tree / "nowhere"))
    with pytest.raises(KitError, match="KIT_ROOT"):
        kitlib.root()


def test_missing_make_has_install_hint(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(KitError, match="apt-get install make gcc"):
        kitlib.build("boot")


def test_missing_compiler_has_install_hint(tree, monkeypatch, tmp_path):
    """Every usual command except gcc: the error names gcc and says how to install it."""
    bin_dir = tmp_path / "nogcc"
    bin_dir.mkdir()
    for d in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(d) or "venv" in d:
            continue
        for name in os.listdir(d):
            if "gcc" in name or name in ("cc", "c89", "c99") or (bin_dir / name).exists():
                continue
            os.symlink(os.path.join(d, name), bin_dir / name)
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(KitError, match="apt-get install make gcc") as err:
        kitlib.build("boot", root=tree)
    assert not isinstance(err.value, BuildError)
    assert "`gcc`" in str(err.value)


def test_probes(probes):
    assert set(probes) == {"halt", "spin", "exit"}
    for kind, image in probes.items():
        assert image.path.name == f"{kind}.elf" and image.path.is_file()
    assert kitlib.probe("halt").rebuilt is False


def test_unknown_probe():
    with pytest.raises(KitError, match="halt, spin, exit"):
        kitlib.probe("sleep")


def test_symbols(boot_image):
    address = boot_image.symbol("kit_stats")
    assert 0x1000 <= address < 64 << 20          # identity-mapped, inside guest RAM
    assert address % 64 == 0
    with pytest.raises(KitError, match="no_such_symbol"):
        boot_image.symbol("no_such_symbol")


def test_image_from_path(boot_image, tmp_path):
    assert kitlib.Image.from_path(str(boot_image.path)).path == boot_image.path
    with pytest.raises(KitError, match="build it first"):
        kitlib.Image.from_path(tmp_path / "missing.elf")


def test_missing_header_is_a_build_error_not_a_missing_tool(tree):
    victim = _victim(tree)
    victim.write_text('#include "no_such_header.h"\n' + victim.read_text())
    with pytest.raises(BuildError, match="no_such_header.h"):
        kitlib.build("boot", root=tree)


def test_a_stage_name_is_checked_before_make_sees_it(tree, tmp_path):
    """make expands STAGE's value, so an unchecked name could run a shell command."""
    marker = tmp_path / "ran"
    with pytest.raises(KitError, match="unknown stage .*the stages are: boot, cores, spinlocks, sched, idle, poll"):
        kitlib.build(f"x$(shell touch {marker})", root=tree)
    assert not marker.exists()
    assert not (tree / "build").exists()


_BUILD_ONE = ("import sys, kitlib\n"
              "try:\n"
              "    kitlib.build('boot', root=sys.argv[1])\n"
              "except Exception as e:\n"
              "    print(type(e).__name__, e)\n"
              "    sys.exit(1)\n")


def test_builds_in_several_processes_at_once_all_succeed(tree):
    """Processes building one stage after a header changed: each waits for the
    others (a lock on the build directory), none reads a half-written object."""
    kitlib.build("boot", root=tree)
    header = tree / "kernel" / "defs.h"            # every object includes it: all rebuild
    for round_ in range(4):
        header.write_text(header.read_text() + f"\n/* round {round_} */\n")
        procs = [subprocess.Popen([sys.executable, "-c", _BUILD_ONE, str(tree)],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for _ in range(3)]
        for p in procs:
            out, _ = p.communicate(timeout=300)
            assert p.returncode == 0, f"round {round_}: {out}"
    assert not list((tree / "build" / "boot").glob("*.tmp"))


def test_an_image_whose_sources_changed_does_not_boot(tree):
    """After a failed rebuild the image of an earlier build is refused, so the
    old kernel never runs in place of code that did not compile."""
    image = kitlib.build("boot", root=tree)
    assert image.stale() is None
    image.check_fresh()
    victim = _victim(tree)
    good = victim.read_text()
    victim.write_text(good + "\nint kit_broken = ;\n")
    with pytest.raises(BuildError):
        kitlib.build("boot", root=tree)
    vm = kitlib.VM(image)
    try:
        with pytest.raises(StaleImage, match=r"kit\.build\('boot'\)") as err:
            vm.start()
    finally:
        vm.stop()
    assert victim.name in str(err.value) and vm.pid is None
    victim.write_text(good)                      # fixed: a rebuild gives a bootable image
    again = kitlib.build("boot", root=tree)
    again.check_fresh()
    assert kitlib.Image.from_path(image.path).stale() is None    # a path: not judged
