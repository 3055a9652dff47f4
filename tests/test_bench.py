"""The benchmark registry and `kit bench` around it, with small fake benchmarks (no QEMU)."""

import json

import pytest

from kitlib import bench
from kitlib.bench import benchmark, run_bench
from kitlib.cli import main
from kitlib.errors import KitError

STAGES = ("boot", "cores", "spinlocks", "sched", "idle", "poll", "net")


@pytest.fixture
def fakes(monkeypatch):
    """An empty registry in place of the real one, and two quick benchmarks in it."""
    monkeypatch.setattr(bench, "REGISTRY", {})

    @benchmark(stage="boot", headline=lambda d: [{"what": "twice", "value": d["value"]}],
               columns={"what": "what", "value": "value"})
    def bench_double(widgets: int = 7, scale: float = 2.0) -> dict:
        """Twice the widgets, as a stand-in for a measurement.

        widgets: how many widgets
        scale: what they are multiplied by
        """
        print(f"{widgets} widgets")
        return {"widgets": widgets, "value": widgets * scale}

    @benchmark(stage="idle", headline=lambda d: [{"n": n} for n in d["seen"]])
    def bench_list_of_many(sizes: tuple[int, ...] = (1, 2)) -> dict:
        """Echoes its sizes.

        sizes: the sizes
        """
        return {"seen": list(sizes)}

    return bench.REGISTRY


def test_the_benchmarks_are_named_by_their_lessons_stages():
    assert list(bench.REGISTRY) == ["boot", "boot-idle", "cores", "spinlocks", "sched", "idle",
                                    "idle-vms", "idle-lateness", "poll", "net"]
    for b in bench.REGISTRY.values():
        assert b.stage in STAGES and b.name.split("-")[0] == b.stage, b
        assert b.summary and "\n" not in b.summary
        assert all(p.help for p in b.params), b


def test_a_parameter_has_a_default_and_a_line_of_help(monkeypatch):
    monkeypatch.setattr(bench, "REGISTRY", {})
    with pytest.raises(TypeError, match="default"):
        @benchmark(stage="boot", headline=list)
        def bench_nodefault(runs: int) -> dict:
            """x.

            runs: runs
            """
    with pytest.raises(TypeError, match="docstring"):
        @benchmark(stage="boot", headline=list)
        def bench_undocumented(runs: int = 1) -> dict:
            """x."""
    with pytest.raises(TypeError, match="reserved"):
        @benchmark(stage="boot", headline=list)
        def bench_clash(out: str = "x") -> dict:
            """x.

            out: a name the command line already has
            """
    assert bench.REGISTRY == {}


def test_the_registry_records_each_parameter_with_its_type(fakes):
    double, many = fakes["double"], fakes["list-of-many"]
    assert [(p.name, p.kind, p.default, p.option) for p in double.params] == \
        [("widgets", int, 7, "--widgets"), ("scale", float, 2.0, "--scale")]
    assert double.summary == "Twice the widgets, as a stand-in for a measurement."
    assert many.params[0].many and many.params[0].kind is int and many.params[0].shown() == "1 2"


def test_run_bench_writes_json_named_by_the_benchmark_and_sends_progress_to_stderr(fakes, tmp_path, capsys):
    result = run_bench("double", tmp_path / "d.json", widgets=3)
    data = json.loads((tmp_path / "d.json").read_text())
    assert list(data)[0] == "benchmark" and data["benchmark"] == "double"
    assert data["widgets"] == 3 and data["value"] == 6.0 and "qemu" in data["host"]
    out, err = capsys.readouterr()
    assert out == "" and err == "double: 3 widgets\n"
    assert result.table() == [{"what": "twice", "value": 6.0}]


def test_run_bench_refuses_what_the_benchmark_does_not_take(fakes, tmp_path):
    with pytest.raises(KitError, match="takes no seconds"):
        run_bench("double", tmp_path / "d.json", seconds=1.0)
    with pytest.raises(KitError, match="no benchmark 'nonesuch'"):
        run_bench("nonesuch")


def test_bench_options_come_from_the_parameters(fakes, capsys):
    with pytest.raises(SystemExit) as done:
        main(["bench", "double", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "--widgets INT" in out and "how many widgets (default: 7)" in out
    assert "--scale FLOAT" in out and "(default: 2.0)" in out

    with pytest.raises(SystemExit) as done:
        main(["bench", "double", "--runs", "3"])
    assert done.value.code == 2 and "--runs" in capsys.readouterr().err


def test_bench_prints_the_headline_and_passes_the_options(fakes, tmp_path, capsys):
    out = tmp_path / "many.json"
    assert main(["bench", "list-of-many", "--sizes", "4", "5", "6", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["seen"] == [4, 5, 6]
    printed = capsys.readouterr().out
    assert printed.startswith("list-of-many: Echoes its sizes.\n")
    assert [line.strip() for line in printed.splitlines()[3:6]] == ["4", "5", "6"]


def test_bench_list_names_each_benchmark_with_its_options(fakes, capsys):
    for argv in (["bench", "list"], ["bench", "--list"]):
        assert main(argv) == 0
        out = capsys.readouterr().out
        assert "double" in out and "--widgets 7 --scale 2.0" in out
        assert "list-of-many" in out and "--sizes 1 2" in out


def test_bench_all_runs_each_benchmark_and_sums_up(fakes, tmp_path, capsys):
    assert main(["bench", "all", "--out", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "bench-double.json").read_text())["value"] == 14.0
    assert json.loads((tmp_path / "bench-list-of-many.json").read_text())["seen"] == [1, 2]
    out = capsys.readouterr().out
    summary = out[out.index("2 of 2 benchmarks done"):]
    assert "double" in summary and "list-of-many" in summary and "failed" not in summary


def test_bench_all_goes_on_past_a_failure_and_fails_at_the_end(fakes, tmp_path, capsys):
    @benchmark(stage="poll", headline=list)
    def bench_broken(runs: int = 1) -> dict:
        """Always fails.

        runs: unused
        """
        raise KitError("the guest said no")

    assert main(["bench", "all", "--out", str(tmp_path)]) == 1
    assert (tmp_path / "bench-double.json").exists() and not (tmp_path / "bench-broken.json").exists()
    out, err = capsys.readouterr()
    assert "2 of 3 benchmarks done" in out and "failed" in out
    assert "kit: broken: the guest said no" in err


def test_a_true_or_false_parameter_is_a_flag(fakes, tmp_path):
    @benchmark(stage="sched", headline=lambda d: [d])
    def bench_flag(fast: bool = False) -> dict:
        """Says whether it was asked to be fast.

        fast: take the quick way
        """
        return {"fast": fast}

    for argv, fast in (([], False), (["--fast"], True), (["--no-fast"], False)):
        out = tmp_path / "flag.json"
        assert main(["bench", "flag", *argv, "--out", str(out)]) == 0
        assert json.loads(out.read_text())["fast"] is fast


def test_net_comparisons_say_not_measured_for_what_the_run_lacks_and_follow_their_numbers():
    from kitlib.benchnet import comparisons

    kit = {"setup": "wait", "rate": 100, "p50_us": 900.0, "cpu_pct": {"total": 5.0}}
    spin = {"setup": "spin", "rate": 100, "p50_us": 600.0, "cpu_pct": {"total": 100.0}}
    assert [c["verdict"] for c in comparisons({"open_loop": [kit], "wrk": []})] == ["not measured"] * 3
    wrk = [{"setup": "wait", "connections": 16, "rps": 900.0}, {"setup": "spin", "connections": 16, "rps": 1000.0}]
    cpu, rps, p50 = comparisons({"open_loop": [kit, spin], "wrk": wrk})
    assert (cpu["value"], cpu["verdict"]) == (5.0, "meets")              # 5 % of spin's, at most 15 %
    assert (rps["value"], rps["verdict"]) == (90.0, "misses")            # 90 % of spin's, at least 95 %
    assert (p50["bound"], p50["verdict"]) == (820.0, "misses")           # 900 µs above 1.2 × 600 + 100


def test_idle_vms_gives_host_cpu_and_memory_per_vm(tmp_path):
    """Two idle lesson VMs at once, beside one alone: every figure is per VM
    and the VMs are idle by the guest's count and by what their vCPU threads
    ask of the host (runnable time, which a busy host does not raise)."""
    out = tmp_path / "idle-vms.json"
    result = run_bench("idle-vms", out, progress=False, vms=2, seconds=1.0, settle=0.5)
    data = json.loads(out.read_text())
    assert data["benchmark"] == "idle-vms" and data["vms"] == 2 and data["cpus"] == 2
    for key, n in (("alone", 1), ("sampled", 1), ("together", 2)):
        run = data[key]
        assert run["vms"] == n and len(run["per_vm"]) == n, f"{key}: expected {n} VMs' figures, got {run}"
        for vm in run["per_vm"]:
            assert vm["total_pct"] >= 0 and vm["vcpu_pct"] >= 0 and vm["main_pct"] >= 0, \
                f"{key}: host CPU cannot be negative: {vm} (points at the bench's arithmetic)"
            assert vm["rss_mb"] > 0 and vm["ram_file_mb"] > 0 and (vm["pss_mb"] is None or vm["pss_mb"] > 0), \
                f"{key}: expected QEMU's resident memory and the guest's touched RAM above 0 MiB, got {vm}"
            assert vm["ram_file_mb"] <= 64, f"{key}: a 64 MiB guest touched more than its RAM: {vm}"
            assert vm["runnable_pct"] < 50 and vm["halted"] > 0.9, (
                f"{key}: an idle=hlt VM's vCPUs should be halted (guest: {vm['halted']:.2f} of the time, "
                f"expected above 0.9) and ask the host for little (runnable {vm['runnable_pct']:.1f} % of a core "
                "for two vCPUs, expected under 50): the kernel does not halt when idle")
    assert data["together"]["total_pct_all"] == pytest.approx(
        sum(vm["total_pct"] for vm in data["together"]["per_vm"]), abs=1e-3)
    assert data["sampled"]["python_pct"] >= 0 and (data["vms_per_gib"] is None or data["vms_per_gib"] > 0)
    assert [r["setup"] for r in result.table()][-1] == "2 VMs at once, all"
