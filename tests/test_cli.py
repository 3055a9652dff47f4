"""The kit command line, end to end (real builds, real QEMU)."""

import json
import subprocess
import sys

import pytest

from kitlib.cli import main
from kitlib.paths import root


def test_doctor_finds_every_required_piece(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    for piece in ("qemu", "gcc", "make", "/dev/shm", "plotly"):
        assert f"ok  {piece}" in out


def test_build_reports_the_image(capsys):
    assert main(["build", "boot"]) == 0
    assert "build/boot/kernel.elf" in capsys.readouterr().out


def test_unknown_stage_is_a_clear_error(capsys):
    assert main(["build", "nonesuch"]) == 1
    assert "nonesuch" in capsys.readouterr().err


def test_run_streams_the_console_and_sums_up_host_cpu(capsys):
    assert main(["run", "boot", "--append", "idle=hlt", "--seconds", "1.5"]) == 0
    out = capsys.readouterr().out
    assert "kit: boot boot" in out and "kit: ready" in out
    assert "vCPU 0: thread" in out and "guest halted" in out


def test_run_of_a_crashing_guest_fails(capsys):
    assert main(["run", "boot", "--append", "crash=panic", "--seconds", "5"]) == 1
    assert "crash requested" in capsys.readouterr().err


def test_demo_leaves_a_table_and_a_plot(tmp_path, capsys):
    assert main(["demo", "--seconds", "1.5", "--out", str(tmp_path)]) == 0
    table = json.loads((tmp_path / "demo.json").read_text())
    assert [p["label"] for p in table["phases"]] == ["spin", "hlt"]
    spin, hlt = table["phases"]
    # what the demo shows: the spinning vCPU asks for a whole host core and gets
    # more of one than the halting vCPU, which asks for almost nothing
    assert spin["wanted"]["0"] > 80 and hlt["wanted"]["0"] < 30, (spin["wanted"], hlt["wanted"])
    assert spin["vcpu"]["0"] > hlt["vcpu"]["0"] + 10, (spin["vcpu"], hlt["vcpu"])
    assert spin["halted"]["0"] < 0.05 and hlt["halted"]["0"] > 0.9, (spin["halted"], hlt["halted"])
    assert (tmp_path / "demo.html").stat().st_size > 100_000   # plotly.js inlined: opens offline
    assert "spin" in capsys.readouterr().out


def test_bench_boot_prints_its_medians_and_writes_them_with_their_ratio(tmp_path, capsys):
    out = tmp_path / "boot.json"
    assert main(["bench", "boot", "--runs", "3", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["benchmark"] == "boot"
    assert len(data["ready_ms"]) == len(data["floor_exit_ms"]) == 3
    assert abs(data["ratio"] - data["ready_ms_median"] / data["floor_exit_ms_median"]) < 0.01
    assert data["host"]["qemu"]
    printed, progress = capsys.readouterr()
    assert printed.startswith("boot: ")
    ready = next(line for line in printed.splitlines() if line.startswith("kernel (boot) to kit: ready"))
    assert float(ready.split()[-2].replace(",", "")) == pytest.approx(data["ready_ms_median"], abs=0.05)
    assert str(out) in printed
    assert "boot: run 3 of 3" in progress.splitlines()


def test_bench_help_lists_every_benchmark_and_each_ones_options(capsys):
    with pytest.raises(SystemExit) as done:
        main(["bench", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for name in ("boot", "boot-idle", "cores", "spinlocks", "sched", "idle", "idle-lateness", "poll",
                 "list", "all"):
        assert f"    {name} " in out or f"    {name}\n" in out, name
    with pytest.raises(SystemExit):
        main(["bench", "poll", "--help"])
    out = capsys.readouterr().out
    assert "--messages INT" in out and "(default: 300)" in out and "(default: 10000 200)" in out


def test_bench_refuses_an_option_its_benchmark_does_not_take(capsys):
    with pytest.raises(SystemExit) as done:
        main(["bench", "boot", "--seconds", "1"])
    assert done.value.code == 2 and "--seconds" in capsys.readouterr().err


def test_bench_by_an_old_name_is_refused(capsys):
    with pytest.raises(SystemExit) as done:
        main(["bench", "ticks"])
    assert done.value.code == 2 and "ticks" in capsys.readouterr().err


VIEWS = ("plotly", "ipywidgets", "anywidget")


def _without_views(*argv: str) -> subprocess.CompletedProcess:
    """``kit <argv>`` in a Python where the plotting and widget packages cannot be imported."""
    script = ("import sys\n"
              f"for name in {VIEWS!r}:\n"
              "    sys.modules[name] = None\n"
              "import kitlib.cli\n"
              f"sys.exit(kitlib.cli.main({list(argv)!r}))\n")
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)


def test_doctor_reports_missing_view_packages_without_them():
    """kit doctor runs where plotly, ipywidgets and anywidget cannot be imported,
    and says each is missing with how to install it."""
    done = _without_views("doctor")
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1, done.stdout + done.stderr
    for name in VIEWS:
        assert f"NO  {name}" in done.stdout, done.stdout
        assert f"pip install {name}" in done.stdout
    assert "ok  qemu" in done.stdout and "3 required piece(s) missing" in done.stdout


def test_bench_needs_no_plotting_package():
    done = _without_views("bench", "list")
    assert done.returncode == 0, done.stderr
    assert "idle-lateness" in done.stdout


def test_front_door_script_is_valid_and_helps():
    kit = root() / "kit"
    subprocess.run(["bash", "-n", str(kit)], check=True)
    out = subprocess.run([str(kit), "help"], capture_output=True, text=True, check=True).stdout
    assert "./kit lab" in out and "./kit test" in out


def test_bench_sched_counts_more_timer_interrupts_at_higher_rates(tmp_path):
    out = tmp_path / "sched.json"
    assert main(["bench", "sched", "--seconds", "1", "--out", str(out)]) == 0
    rows = {r["tick"]: r for r in json.loads(out.read_text())["results"]}
    assert list(rows) == ["none", "100", "250", "1000"]
    assert rows["none"]["timer_irqs_per_s"] < rows["100"]["timer_irqs_per_s"] \
        < rows["250"]["timer_irqs_per_s"] < rows["1000"]["timer_irqs_per_s"]


def test_run_types_stdin_into_the_guest_console():
    """Lines typed at `kit run` are the guest's console commands (stage idle on)."""
    cmd = [sys.executable, "-c", "from kitlib.cli import main; raise SystemExit(main())",
           "run", "idle", "--cpus", "2", "--seconds", "4"]
    done = subprocess.run(cmd, input="idle spin\nstats\n", capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "idle: spin" in done.stdout and "stats: end" in done.stdout, done.stdout


def test_bench_idle_lateness_orders_the_three_idle_setups(tmp_path):
    out = tmp_path / "lateness.json"
    assert main(["bench", "idle-lateness", "--sleeps", "50", "--out", str(out)]) == 0
    rows = {r["label"]: r for r in json.loads(out.read_text())["results"]}
    assert list(rows) == ["spin", "hlt, tickless", "hlt, 100 Hz tick"]
    for r in rows.values():
        assert r["n"] == 2 * 50 and r["p50_us"] <= r["p90_us"] <= r["p99_us"] <= r["max_us"], r
    # a deadline between two ticks waits for the next one: milliseconds, not microseconds
    assert rows["hlt, 100 Hz tick"]["p50_us"] > 10 * rows["hlt, tickless"]["p50_us"], rows
