"""The network stage's pure files (kernel/eth.c, arp.c, ipv4.c, icmp.c, tcp.c,
http.c) built for the host by tests/net/Makefile: each C unit-test group under
AddressSanitizer and UBSan as one test, and each libFuzzer target run for a
bounded time over its committed corpus (tests/net/README.md says more).

The fuzzers share about 42 s of CPU between them, as many at once as the host
has cores; KIT_FUZZ_SECONDS sets the time of each instead.  Without clang or libFuzzer's runtime they are skipped with the
packages to install; the unit tests need only gcc.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from kitlib.paths import build_dir, root

HERE = root() / "tests" / "net"
OUT = build_dir(root()) / "host"
FUZZ_BUDGET = 42.0              # seconds for all the fuzz targets together
CLANG_HINT = "sudo apt-get install clang libclang-rt-14-dev   (or: ./kit setup)"
# Targets that find a known bug within their corpus, until it is fixed.
KNOWN_FUZZ_BUGS: dict[str, str] = {}


@dataclass(frozen=True)
class Group:
    """A C unit-test group: TEST(name), or BUG(name, why) for a known bug."""

    name: str
    bug: str | None


def make(*targets: str) -> subprocess.CompletedProcess[str]:
    """tests/net's make, one at a time across processes (build/host/.lock)."""
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return subprocess.run(["make", "-s", "-C", str(HERE), *targets],
                              capture_output=True, text=True, timeout=600)


def names() -> dict[str, list[str]]:
    """What builds with the kernel files present: {"unit": [...], "fuzz": [...]}."""
    out = make("names")
    assert out.returncode == 0, out.stderr
    found = dict(line.split(":", 1) for line in out.stdout.splitlines() if ":" in line)
    return {key: found.get(key, "").split() for key in ("unit", "fuzz")}


GROUP = re.compile(r'^(?:TEST\((\w+)\)|BUG\((\w+),\s*"((?:[^"\\]|\\.)*)"\))', re.M)


def unit_groups(units: list[str]) -> list[Group]:
    """The groups that tests/net/unit/<file>.c defines, in file order."""
    groups = []
    for unit in units:
        for test, bug, why in GROUP.findall((HERE / "unit" / f"{unit}.c").read_text()):
            groups.append(Group(test or bug, why if bug else None))
    return groups


NAMES = names()
GROUPS = unit_groups(NAMES["unit"])


def clang_missing() -> str | None:
    """Why libFuzzer targets cannot build here, or None."""
    clang = os.environ.get("CLANG", "clang")
    if shutil.which(clang) is None:
        return f"{clang} is not installed"
    out = subprocess.run([clang, "-print-file-name=libclang_rt.fuzzer-x86_64.a"],
                         capture_output=True, text=True)
    if not Path(out.stdout.strip()).is_absolute():
        return "libFuzzer's runtime (libclang_rt.fuzzer) is not installed"
    return None


@pytest.fixture(scope="session")
def unit_binary() -> Path:
    out = make("unit")
    assert out.returncode == 0, f"tests/net did not build:\n{out.stdout}{out.stderr}"
    return OUT / "unit"


@pytest.fixture(scope="session")
def fuzz_built() -> Path:
    why = clang_missing()
    if why:
        pytest.skip(f"{why}: {CLANG_HINT}")
    out = make("fuzz")
    assert out.returncode == 0, f"the fuzz targets did not build:\n{out.stdout}{out.stderr}"
    return OUT


def test_the_runner_knows_every_group(unit_binary):
    """The groups found in the sources are those the runner registered."""
    listed = subprocess.run([str(unit_binary), "-l"], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[0] for line in listed.stdout.splitlines()] != []
    assert sorted(line.split()[0] for line in listed.stdout.splitlines()) == sorted(g.name for g in GROUPS)


def group_param(g: Group):
    marks = [pytest.mark.xfail(reason=f"known bug: {g.bug}", strict=False)] if g.bug else []
    return pytest.param(g, id=g.name, marks=marks)


@pytest.mark.parametrize("group", [group_param(g) for g in GROUPS])
def test_unit(unit_binary, group: Group):
    run = subprocess.run([str(unit_binary), group.name], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"{group.name} failed (exit {run.returncode}):\n{run.stderr}{run.stdout}"


def fuzz_seconds() -> float:
    env = os.environ.get("KIT_FUZZ_SECONDS")
    if env:
        return float(env)
    return FUZZ_BUDGET / max(1, len(NAMES["fuzz"]))


REPORT = re.compile(r"^(==\d+==ERROR|.*runtime error:|.*invariant broken:|.*: panic |shim: |"
                    r"==\d+== ERROR: libFuzzer|.*ERROR: libFuzzer)", re.M)


def sanitizer_report(log: str, lines: int = 40) -> str:
    """The sanitizer's (or the invariant's) report in a fuzzer's log, its first lines."""
    m = REPORT.search(log)
    text = log[m.start():] if m else log[-4000:]
    return "\n".join(text.splitlines()[:lines])


def fuzz_param(target: str):
    why = KNOWN_FUZZ_BUGS.get(target)
    marks = [pytest.mark.xfail(reason=f"known bug: {why}", strict=False)] if why else []
    return pytest.param(target, id=target, marks=marks)


@dataclass(frozen=True)
class FuzzRun:
    """One fuzz target's bounded run: its command, exit code, log and saved inputs."""

    cmd: list[str]
    returncode: int
    log: str
    crashes: list[Path]


def fuzz(target: str, built: Path, work: Path) -> FuzzRun:
    """``target`` over its committed corpus for fuzz_seconds(); new inputs and
    crashes go under ``work``, never into the corpus."""
    corpus = HERE / "corpus" / target
    seconds = max(1, round(fuzz_seconds()))
    new = work / "new"                      # libFuzzer writes into the first directory only
    new.mkdir(parents=True)
    cmd = [str(built / f"fuzz-{target}"), f"-max_total_time={seconds}", "-timeout=20",
           "-rss_limit_mb=2048", "-print_final_stats=1", f"-artifact_prefix={work}/"]
    if (HERE / "fuzz" / f"{target}.dict").exists():
        cmd.append(f"-dict={HERE / 'fuzz' / f'{target}.dict'}")
    run = subprocess.run(cmd + [str(new), str(corpus)], capture_output=True, text=True,
                         timeout=seconds * 4 + 120)
    return FuzzRun(cmd, run.returncode, run.stderr, sorted(p for p in work.iterdir() if p.is_file()))


@pytest.fixture(scope="module")
def fuzz_runs(fuzz_built, tmp_path_factory) -> dict[str, FuzzRun]:
    """Every target's run, as many at once as the host has cores: each keeps
    its own time budget, and the suite waits for the longest of each batch."""
    work = tmp_path_factory.mktemp("fuzz")
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        futures = {t: pool.submit(fuzz, t, fuzz_built, work / t) for t in NAMES["fuzz"]}
        return {t: f.result() for t, f in futures.items()}


@pytest.mark.parametrize("target", [fuzz_param(t) for t in NAMES["fuzz"]])
def test_fuzz(fuzz_runs, target: str):
    corpus = HERE / "corpus" / target
    assert corpus.is_dir() and any(corpus.iterdir()), f"no seed corpus in {corpus}"
    run = fuzz_runs[target]
    assert run.returncode == 0 and not run.crashes, (
        f"fuzz-{target} failed (exit {run.returncode}); input: "
        f"{', '.join(map(str, run.crashes)) or 'none saved'}\n"
        f"replay: {run.cmd[0]} {run.crashes[0] if run.crashes else ''}\n{sanitizer_report(run.log)}")
    executed = re.search(r"stat::number_of_executed_units:\s*(\d+)", run.log)
    assert executed and int(executed.group(1)) > 0, f"fuzz-{target} ran nothing:\n{run.log[-2000:]}"
