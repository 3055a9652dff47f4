"""The kit command line, end to end (real builds, real QEMU)."""

import glob
import json
import shutil
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from kitlib import protocol
from kitlib.cli import main, url_in, url_line
from kitlib.paths import root
from kitlib.table import fmt


def test_doctor_finds_every_required_piece(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    for piece in ("qemu", "gcc", "make", "/dev/shm", "wrk", "ab", "curl", "clang", "libFuzzer", "plotly"):
        assert f"ok  {piece}" in out


def test_doctor_names_the_fuzzer_runtime_package_of_this_clang(tmp_path, monkeypatch):
    """A clang without libFuzzer's runtime echoes the file's bare name back; the
    hint names the package for its major version."""
    from kitlib import doctor

    clang = tmp_path / "clang"
    clang.write_text('#!/bin/sh\ncase "$1" in --version) echo "Ubuntu clang version 15.0.7";;\n'
                     '*) echo libclang_rt.fuzzer-x86_64.a;; esac\n')
    clang.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    check = next(c for c in doctor.checks() if c.name == "libFuzzer")
    assert not check.ok and not check.optional
    assert "sudo apt-get install libclang-rt-15-dev" in check.hint, check


def test_build_reports_the_image(capsys):
    assert main(["build", "boot"]) == 0
    assert "build/boot/kernel.elf" in capsys.readouterr().out


def test_unknown_stage_is_a_clear_error(capsys):
    assert main(["build", "nonesuch"]) == 1
    assert "nonesuch" in capsys.readouterr().err


def test_run_streams_the_console_and_sums_up_host_cpu(capsys):
    assert main(["run", "boot", "--append", "idle=hlt", "--seconds", "1.5"]) == 0
    out = capsys.readouterr().out
    assert protocol.BOOT + "boot" in out and protocol.READY in out
    assert "vCPU 0: thread" in out and "guest halted" in out
    assert "kit: http" not in out                           # no network card before stage net


def test_the_url_line_is_read_back_as_printed():
    assert url_in("kit: ready\n" + url_line("http://127.0.0.1:8080/") + "\n") == "http://127.0.0.1:8080/"
    assert url_in("kit: ready\nkit: http://example.com/\n") is None


def test_run_net_prints_the_url_once_after_ready_and_the_guest_answers_there(monkeypatch, capsys):
    answers: list = []

    def get(vm):
        with urllib.request.urlopen(vm.url, timeout=20) as r:
            answers.append((vm.url, r.status, r.read()))
    _after_ready(monkeypatch, get)
    assert main(["run", "net", "--cpus", "2", "--seconds", "4", "--timeout", "60"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    urls = [line for line in lines if url_in(line + "\n")]
    assert len(urls) == 1, out
    assert lines.index(urls[0]) == lines.index(protocol.READY) + 1, out
    assert answers and answers[0][0] == url_in(out) and answers[0][1] == 200, (answers, out)


def test_run_net_boots_without_the_card_when_told(capsys):
    assert main(["run", "net", "--no-net", "--cpus", "2", "--seconds", "0.5", "--timeout", "60"]) == 0
    out = capsys.readouterr().out
    assert protocol.READY in out and "net: no virtio-net device" in out, out
    assert url_in(out) is None and "kit: http" not in out


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
    assert ready.split()[-2] == fmt(data["ready_ms_median"])        # the JSON's figure, as the table shows it
    assert str(out) in printed
    assert "boot: run 3 of 3" in progress.splitlines()


def _parts_within_total(cpu):
    """QEMU's vCPU threads and main thread are parts of the one process's time."""
    assert set(cpu) >= {"vcpus", "main", "total"}, cpu
    assert 0 <= cpu["vcpus"] and 0 <= cpu["main"] and cpu["vcpus"] + cpu["main"] <= cpu["total"] * 1.05 + 0.01, cpu


def _verdict_agrees(c):
    """A comparison's verdict says what its own numbers say."""
    if c["verdict"] == "not measured":
        assert c["value"] is None, c
        return
    assert c["verdict"] in ("meets", "misses"), c
    kit, spin, value, bound = c["kit"], c["spin"], c["value"], c["bound"]
    if c["value_unit"] == "µs":                              # p50 against 1.2 × spin's + 100 µs
        assert value == kit and bound == pytest.approx(1.2 * spin + 100, abs=0.1), c
        assert (c["verdict"] == "meets") == (value <= bound), c
    else:                                                    # the kit's share of spin's figure, %
        assert value == pytest.approx(100 * kit / spin, abs=0.01), c
        meets = value <= bound if "at most" in c["target"] else value >= bound
        assert (c["verdict"] == "meets") == meets, c


def test_bench_net_reports_each_setups_rates_wrk_floor_and_the_three_comparisons(tmp_path, capsys):
    out = tmp_path / "net.json"
    assert main(["bench", "net", "--policies", "wait", "spin", "--rates", "100", "--rate-seconds", "1",
                 "--connections", "16", "--seconds", "1", "--warmup", "0", "--idle", "0.5",
                 "--stress", "1", "--after", "1.5", "--no-peer", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["benchmark"] == "net" and data["stage"] == "net"
    assert list(data["setups"]) == ["wait", "spin"] and data["rates"] == [100] and data["connections"] == [16]
    assert [i["setup"] for i in data["idle"]] == ["wait", "spin"]
    for i in data["idle"]:
        _parts_within_total(i["cpu_pct"])
    assert [(p["setup"], p["rate"]) for p in data["open_loop"]] == [("wait", 100), ("spin", 100)]
    for p in data["open_loop"]:
        assert p["ok"] > 0 and p["ok"] + p["errors"] <= p["planned"], p
        assert 0 < p["p50_us"] <= p["p99_us"] <= p["max_us"], p
        _parts_within_total(p["cpu_pct"])
        _parts_within_total(p["cpu_ms_per_1k"])
    for key, curve in data["curve"].items():                 # idle, then each rate's point
        points = [p for p in data["open_loop"] if p["setup"] == key]
        idle = next(i for i in data["idle"] if i["setup"] == key)
        assert [c["rate"] for c in curve] == [0, 100]
        assert [c["total_pct"] for c in curve] == [idle["cpu_pct"]["total"], *(p["cpu_pct"]["total"] for p in points)]
    assert [(r["setup"], r["connections"]) for r in data["wrk"]] == [("wait", 16), ("spin", 16)]
    for r in data["wrk"]:
        assert r["requests"] > 0 and r["errors"] == 0 and r["rps"] > 0, r
        assert r["p50_ms"] <= r["p90_ms"] <= r["p99_ms"], r
        _parts_within_total(r["cpu_ms_per_1k"])
        assert set(r["cpu_ms_per_1k"]["per_vcpu"]) == {"0", "1"}, r
    assert [b["setup"] for b in data["back_to_floor"]] == ["wait", "spin"]
    for b in data["back_to_floor"]:
        for k in ("after_stress_s", "after_half_open_s"):
            assert b[k] is None or 0 <= b[k] <= 1.5, b
    assert data["floor"]["back_at_floor_pct"] > data["floor"]["total_pct"] >= 0
    assert len(data["comparisons"]) == 3
    for c in data["comparisons"]:
        assert c["verdict"] != "not measured", c             # both setups, 100/s and 16 connections ran
        _verdict_agrees(c)
    printed = capsys.readouterr().out
    assert printed.startswith("net: ") and "requests/s" in printed
    for title in ("wrk, kept-alive", "back at the floor", "the kit's API against idle=spin"):
        assert title in printed
    verdicts = [line.split()[-1] for line in printed.splitlines() if line.endswith(("meets", "misses"))]
    assert verdicts == [c["verdict"] for c in data["comparisons"]]


def test_bench_refuses_a_policy_the_kernel_has_not(tmp_path, capsys):
    assert main(["bench", "net", "--policies", "hlt", "--out", str(tmp_path / "x.json")]) == 1
    assert "no policy hlt" in capsys.readouterr().err


def test_bench_help_lists_every_benchmark_and_each_ones_options(capsys):
    with pytest.raises(SystemExit) as done:
        main(["bench", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for name in ("boot", "boot-idle", "cores", "spinlocks", "sched", "idle", "idle-lateness", "poll", "net",
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


# -- how a run ends: every end it did not ask for is named, with a non-zero status

def _kit(*argv: str) -> list[str]:
    return [sys.executable, "-c", "from kitlib.cli import main; raise SystemExit(main())", *argv]


def _after_ready(monkeypatch, act) -> None:
    """Call ``act(vm)`` on the VM that `kit run` boots, once it is ready."""
    from kitlib.session import Session

    boot = Session.boot

    def watched(self, *a, **k):
        vm = boot(self, *a, **k)

        def wait():
            while vm.running and vm.ready_time is None:
                time.sleep(0.05)
            time.sleep(0.5)
            act(vm)
        threading.Thread(target=wait, daemon=True).start()
        return vm
    monkeypatch.setattr(Session, "boot", watched)


def test_run_names_qemu_killed_after_ready(monkeypatch, capsys):
    _after_ready(monkeypatch, lambda vm: os.kill(vm.pid, signal.SIGKILL))
    assert main(["run", "boot", "--seconds", "20"]) == 1
    out, err = capsys.readouterr()
    assert "QEMU was killed by signal 9" in err, err
    assert "(cut short)" in out
    assert (out + err).count(protocol.BOOT + "boot") == 1      # echoed live, not repeated in the error


def test_run_names_a_panic_after_ready(monkeypatch, capsys):
    # the guest's console line, as the reader thread receives it from QEMU
    _after_ready(monkeypatch, lambda vm: vm._proc.console.feed(b"kit: panic after ready\n", time.monotonic()))
    assert main(["run", "boot", "--seconds", "20"]) == 1
    out, err = capsys.readouterr()
    assert "guest panic: the guest kernel panicked: after ready" in err, err
    assert "(cut short)" in out and (out + err).count(protocol.BOOT + "boot") == 1


def test_run_of_the_self_tests_succeeds(capsys):
    assert main(["run", "idle", "--append", "test", "--timeout", "120"]) == 0
    out, err = capsys.readouterr()
    assert protocol.TESTS_PASSED in out and protocol.ok("string") in out, out + err
    assert protocol.READY not in out and err == ""


def test_run_ready_timeout_is_an_option(capsys):
    assert main(["run", "boot", "--append", "crash=hang", "--timeout", "2"]) == 1
    assert "waited 2 s for 'kit: ready'" in capsys.readouterr().err


@pytest.mark.parametrize("option", [["--hz", "0"], ["--hz", "-1"], ["--cpus", "0"], ["--timeout", "0"],
                                    ["--seconds", "-1"], ["--hz", "x"]])
def test_run_refuses_options_out_of_range(option, capsys):
    with pytest.raises(SystemExit) as done:
        main(["run", "boot", "--seconds", "1", *option])
    assert done.value.code == 2 and option[0] in capsys.readouterr().err


def test_run_for_no_time_prints_no_nan(capsys):
    assert main(["run", "boot", "--seconds", "0"]) == 0
    out = capsys.readouterr().out
    assert "nan" not in out and "no samples" in out


def _wait_for(proc: subprocess.Popen, text: str, seen: list[str]) -> None:
    for line in proc.stdout:
        seen.append(line)
        if text in line:
            return
    raise AssertionError(f"{text!r} never came: {''.join(seen)}")


def _left_behind(pid: int) -> list[str]:
    return glob.glob(f"/dev/shm/kit-{pid}-*") + glob.glob(os.path.join(tempfile.gettempdir(), f"kit-{pid}-*"))


def test_sigterm_stops_the_vm_and_removes_its_files():
    proc = subprocess.Popen(_kit("run", "boot"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: list[str] = []
    _wait_for(proc, protocol.READY, seen)
    assert _left_behind(proc.pid)                        # the VM's RAM and its QMP socket's folder
    proc.terminate()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM and "Traceback" not in err, err
    assert _left_behind(proc.pid) == []


@pytest.mark.parametrize("after", [0.0, 0.1, 0.3, 0.6])
def test_ctrl_c_early_in_a_run_is_no_traceback(after):
    """Ctrl-C while QEMU starts, the kernel boots, the session begins sampling."""
    proc = subprocess.Popen(_kit("run", "boot"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not _left_behind(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.005)                                # until QEMU's RAM file appears
    time.sleep(after)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert "Traceback" not in err and "nan" not in out, err
    assert proc.returncode in (0, 130)
    assert _left_behind(proc.pid) == []


def test_a_closed_pipe_ends_the_run_without_a_traceback():
    proc = subprocess.Popen(_kit("run", "boot", "--seconds", "2"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    seen: list[str] = []
    _wait_for(proc, protocol.READY, seen)
    proc.stdout.close()                                  # `kit run ... | head -3`
    err = proc.stderr.read()
    proc.wait(timeout=60)
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert proc.returncode == 128 + signal.SIGPIPE


def test_front_door_doctor_reports_what_a_non_root_user_lacks(tmp_path):
    """`./kit doctor` without QEMU, as a user who cannot install it: set-up says
    what to install and doctor still runs and reports every check."""
    venv = Path(sys.prefix)
    if not (venv / ".kit-installed").is_file():
        pytest.skip("needs a venv set up by the front door")
    top = tmp_path / "top"
    top.mkdir()
    shutil.copy(root() / "kit", top / "kit")
    (top / ".venv").symlink_to(venv)                 # set up already (and no pyproject.toml to be newer)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for d in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            if name.startswith("qemu") or name in ("id", "sudo") or (bin_dir / name).exists():
                continue
            os.symlink(os.path.join(d, name), bin_dir / name)
    (bin_dir / "id").write_text("#!/bin/sh\necho 1000\n")       # not root, and no sudo
    (bin_dir / "id").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("KIT_QEMU", "KIT_ROOT")}
    env.update(PATH=str(bin_dir), PYTHONPATH=str(root()))
    done = subprocess.run(["bash", str(top / "kit"), "doctor"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert "sudo apt-get install qemu-system-x86" in done.stderr, done.stderr
    assert "NO  qemu" in done.stdout and "ok  gcc" in done.stdout, done.stdout + done.stderr
    assert done.returncode == 1 and "Traceback" not in done.stderr
