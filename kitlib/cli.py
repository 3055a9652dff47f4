"""The ``kit`` command line: the same functions the lessons call, from a shell."""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import GuestError, KitError

if TYPE_CHECKING:
    from .bench import Benchmark


def _doctor(args: argparse.Namespace) -> int:
    from .doctor import checks

    failed = 0
    for check in checks():
        mark = "ok " if check.ok else ("-- " if check.optional else "NO ")
        print(f"{mark} {check.name:<14} {check.detail}")
        if not check.ok and check.hint:
            print(f"    {check.hint}")
        failed += not check.ok and not check.optional
    print("all required pieces are here" if not failed else f"{failed} required piece(s) missing")
    return 1 if failed else 0


def _build(args: argparse.Namespace) -> int:
    from .build import build

    image = build(args.stage)
    print(f"{image.path} ({'rebuilt' if image.rebuilt else 'up to date'})")
    return 0


# `kit run` of a VM with a network card, once it is ready: where the host
# reaches the guest's port 80 (VM.url).  The one line of its kind in a run.
URL_LINE = "kit: {url}"
URL_PATTERN = re.compile(r"^kit: (http://127\.0\.0\.1:(\d+)/)$", re.M)


def url_line(url: str) -> str:
    """The line `kit run` prints for a VM whose web server is at ``url``."""
    return URL_LINE.format(url=url)


def url_in(output: str) -> str | None:
    """The URL of the first such line in ``output``, or None."""
    m = URL_PATTERN.search(output)
    return m.group(1) if m else None


def _wants_net(stage: str, no_net: bool) -> bool:
    """A stage from net on gets the network card, unless told not to."""
    from .build import stages

    known = stages()
    return not no_net and "net" in known and stage in known and known.index(stage) >= known.index("net")


def _run(args: argparse.Namespace) -> int:
    """Boot, echo the console, sum up host CPU.  Every end the run did not ask
    for (a panic, QEMU killed, a timeout) is reported as its named error, with
    the summary marked as cut short, and the status is 1."""
    from .build import build
    from .qemu import EXIT_SUCCESS
    from .session import Session

    image = build(args.stage)
    selftests = "test" in args.append.split()       # the kernel runs its tests, then exits
    net = _wants_net(args.stage, args.no_net)
    failure: KitError | None = None
    stopped: KeyboardInterrupt | None = None
    with Session(args.stage, args.cpus, hz=args.hz, progress=False) as session:
        try:
            vm = session.boot(image, append=args.append, echo=True, accel=args.accel, ready=False,
                              boot_timeout=args.timeout, net=net)
            if selftests:
                session.phase(args.stage, vm)
                vm.wait_exit()                      # 33, or the named error of how it failed
            else:
                vm.wait_ready()
                if vm.url is not None:
                    vm.say(url_line(vm.url))
                session.phase(args.stage, vm)
                threading.Thread(target=_type_into, args=(vm,), daemon=True).start()
                deadline = math.inf if args.seconds is None else time.monotonic() + args.seconds
                while vm.running and vm.panic is None and time.monotonic() < deadline:
                    time.sleep(0.1)
                if vm.panic is not None or vm.exit_status not in (None, EXIT_SUCCESS):
                    failure = vm.outcome_error("the end of the run")
        except KitError as e:
            failure = e
        except KeyboardInterrupt as e:
            stopped = e
            print("\nstopped", file=sys.stderr)
        session.end()
        summary = session.result(args.stage, settle=5) if session.labels else None
    if summary is not None:
        _print_summary(summary, args.cpus, cut_short=failure is not None)
    if failure is not None:
        _report(failure, echoed=True)
        return 1
    if isinstance(stopped, Terminated):
        raise stopped                               # the VMs are stopped: now end as told
    return 130 if stopped is not None and summary is None else 0


def _print_summary(summary, cpus: int, cut_short: bool) -> None:
    mark = " (cut short)" if cut_short else ""
    if summary.samples == 0 or math.isnan(summary.total):
        print(f"\nhost CPU: no samples{mark}: the run ended before the first one")
        return
    print(f"\nhost CPU over {summary.samples} samples{mark}: QEMU {summary.total:.1f} % of one core")
    for n in range(cpus):
        vcpu, halted = summary.vcpu.get(n, math.nan), summary.halted.get(n, math.nan)
        thread = "n/a" if math.isnan(vcpu) else f"{vcpu:.1f} %"
        guest = "n/a" if math.isnan(halted) else f"{100 * halted:.1f} %"
        print(f"  vCPU {n}: thread {thread}, guest halted {guest}")


def _report(error: KitError, echoed: bool = False) -> None:
    """Print a named error on stderr.  With ``echoed`` the console was already
    shown live, so a guest error leaves out its copy of the last lines."""
    if echoed and isinstance(error, GuestError):
        text = f"{error.title}: {error.message}"
        log = getattr(error, "stderr_tail", "")
        if log.strip():
            text += "\nQEMU's own messages:\n" + "\n".join("    " + line for line in log.splitlines())
    else:
        text = str(error)
    print(f"kit: {text}", file=sys.stderr, flush=True)


def _type_into(vm) -> None:
    """Send each line typed on stdin to the guest's console (its commands, from stage idle on)."""
    try:
        for line in sys.stdin:
            if not vm.running:
                return
            vm.sendline(line.rstrip("\r\n"))
    except (OSError, ValueError, KitError):
        return                              # stdin closed, or the VM stopped meanwhile


def _peer(args: argparse.Namespace) -> int:
    """``kit peer build``: the Linux peer from Debian's packages; ``kit peer run``:
    boot it with the network card, print its URL, sum up host CPU at the end."""
    from .peer import build_peer

    t0 = time.monotonic()
    image = build_peer(refresh=args.refresh)
    state = "rebuilt" if image.rebuilt else "up to date"
    print(f"{image.initrd} and {image.kernel} (Linux {image.version}, {state}"
          f"{', packages downloaded' if image.downloaded else ''}, {time.monotonic() - t0:.1f} s)")
    if args.action == "build":
        return 0
    from .session import Session

    failure: KitError | None = None
    with Session("peer", args.cpus, hz=args.hz, progress=False) as session:
        try:
            vm = session.boot(image, echo=True, ready=False, accel=args.accel, boot_timeout=args.timeout)
            vm.wait_ready()
            vm.say(url_line(vm.url))
            session.phase("peer", vm)
            deadline = math.inf if args.seconds is None else time.monotonic() + args.seconds
            while vm.running and vm.panic is None and time.monotonic() < deadline:
                time.sleep(0.1)
            if vm.panic is not None or not vm.running:
                failure = vm.outcome_error("the end of the run")
        except KitError as e:
            failure = e
        except KeyboardInterrupt:
            print("\nstopped", file=sys.stderr)
        session.end()
        summary = session.result("peer", settle=5) if session.labels else None
    if summary is not None:
        _print_summary(summary, args.cpus, cut_short=failure is not None)
    if failure is not None:
        _report(failure, echoed=True)
        return 1
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from .calibrate import calibrate

    print(calibrate(seconds=args.seconds))
    return 0


def _load(args: argparse.Namespace) -> int:
    """HTTP load on a URL (kitlib.loadgen): the result's table, progress on
    stderr; status 1 when a request failed or the run was cut short."""
    from . import loadgen

    seconds = 5.0 if args.seconds is None and args.requests is None else args.seconds
    bounds = dict(seconds=seconds, requests=args.requests)
    common = dict(timeout=args.timeout, progress=not args.quiet)
    try:
        load = (loadgen.Load.closed_loop(args.url, args.concurrency, **bounds, **common)
                if args.concurrency is not None else
                loadgen.Load.open_loop(args.url, args.rate, **bounds, connections=args.connections, **common))
    except ValueError as e:
        print(f"kit: load: {e}", file=sys.stderr)
        return 2
    result = load.result()
    print(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result.to_dict(), indent=1) + "\n")
    return 0 if result.errors == 0 and result.ended_by == "done" else 1


def _demo(args: argparse.Namespace) -> int:
    if args.stage == "net":
        return _demo_net(args)
    from .build import build
    from .calibrate import calibrate
    from .experiment import compare_idle
    from .protocol import IDLE_POLICIES

    cal = calibrate(seconds=min(args.seconds, 3.0))
    run = compare_idle(build("boot"), IDLE_POLICIES, cpus=1, seconds=args.seconds,
                       floor=cal.floor, ceiling=cal.ceiling, show=False)
    return _save_demo(run, args.out, "demo")


# The policies `kit demo net` compares: the kit's API and a spinning idle loop.
DEMO_NET = ("kit's API", "idle=spin")


def _demo_net(args: argparse.Namespace) -> int:
    """Toro's HTTP experiment, headless: every phase bounded (about a minute
    at the default 5 s), QEMU as top shows it on stderr, a table on stdout."""
    from .build import build
    from .calibrate import calibrate
    from .net import POLICIES, compare_net

    seconds = args.seconds
    cal = calibrate(seconds=min(seconds, 3.0), net=True)
    run = compare_net(build("net"), {p: POLICIES[p] for p in DEMO_NET}, idle=min(seconds, 3.0),
                      stress_s=seconds, after=seconds, after_half_open=seconds, floor=cal.floor,
                      ceiling=cal.ceiling, show=False, top=sys.stderr)
    return _save_demo(run, args.out, "demo-net")


def _save_demo(run, folder: str | None, name: str) -> int:
    """A demo's table on stdout, its plot (plotly.js inlined) and its JSON in
    ``folder`` (default results/) as <name>.html and <name>.json."""
    from .paths import root

    out = Path(folder) if folder else root() / "results"
    out.mkdir(parents=True, exist_ok=True)
    run.figure().write_html(out / f"{name}.html", include_plotlyjs=True)
    (out / f"{name}.json").write_text(json.dumps(run.to_dict(), indent=2) + "\n")
    print(run)
    print(f"\nplot: {out / f'{name}.html'}\ntable: {out / f'{name}.json'}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from . import bench

    a = bench_parser().parse_args(args.rest)
    if a.list or a.name in (None, "list"):
        print(_listing(bench.REGISTRY.values()))
        return 0
    if a.name == "all":
        return _bench_all(Path(a.out) if a.out else None)
    options = {}
    for param in bench.REGISTRY[a.name].params:
        value = getattr(a, param.name)
        options[param.name] = tuple(value) if param.many else value
    print(bench.run_bench(a.name, Path(a.out) if a.out else None, **options))
    return 0


def _bench_all(folder: Path | None) -> int:
    """Every benchmark with its defaults, one JSON each; a failure does not stop the rest."""
    from . import bench
    from .table import render_text

    rows = []
    for name in list(bench.REGISTRY):
        t0 = time.monotonic()
        try:
            result = bench.run_bench(name, folder / f"bench-{name}.json" if folder else None)
        except KitError as e:
            print(f"kit: {name}: {e}", file=sys.stderr)
            rows.append({"benchmark": name, "result": "failed", "s": time.monotonic() - t0,
                         "where": str(e).splitlines()[0]})
            continue
        print(result, end="\n\n", flush=True)
        rows.append({"benchmark": name, "result": "ok", "s": time.monotonic() - t0,
                     "where": str(result.path)})
    failed = sum(r["result"] != "ok" for r in rows)
    print(render_text(f"{len(rows) - failed} of {len(rows)} benchmarks done", rows,
                      {"benchmark": "benchmark", "result": "result", "s": "seconds", "where": "JSON, or why not"}))
    return 1 if failed else 0


def _listing(benchmarks: Iterable[Benchmark]) -> str:
    from .table import render_text

    rows = [{"name": b.name, "stage": b.stage,
             "options": " ".join(f"{p.option} {p.shown()}" for p in b.params),
             "summary": b.summary} for b in benchmarks]
    return render_text("benchmarks (kit bench <name> [options]; kit bench all runs each)", rows,
                       {"name": "name", "stage": "stage", "options": "options (defaults)", "summary": "measures"})


def bench_parser() -> argparse.ArgumentParser:
    """``kit bench``'s own parser: a sub-command per registered benchmark, its
    options from the benchmark's parameters."""
    from . import bench

    p = argparse.ArgumentParser(prog="kit bench", description=(
        "Run a benchmark: a table of its headline figures on stdout, progress on stderr, "
        "and every figure as JSON in results/bench-<name>.json."))
    p.add_argument("--list", action="store_true", help="list the benchmarks and their options")
    names = p.add_subparsers(dest="name", metavar="benchmark", title="benchmarks")
    names.add_parser("list", help="list the benchmarks and their options")
    every = names.add_parser("all", help="run every benchmark with its defaults, one JSON each, and sum up")
    every.add_argument("--out", default=None, help="folder for the JSON files (default: results/)")
    for b in bench.REGISTRY.values():
        n = names.add_parser(b.name, help=b.summary, description=f"{b.summary} Lesson stage: {b.stage}.")
        for param in b.params:
            help = f"{param.help} (default: {param.shown()})"
            if param.kind is bool:          # --name / --no-name
                n.add_argument(param.option, dest=param.name, default=param.default, help=help,
                               action=argparse.BooleanOptionalAction)
            else:
                n.add_argument(param.option, dest=param.name, type=param.kind, default=param.default,
                               nargs="+" if param.many else None, metavar=param.kind.__name__.upper(),
                               help=help)
        n.add_argument("--out", default=None, help=f"JSON file (default: results/bench-{b.name}.json)")
    return p


def _positive(kind: type) -> "Callable[[str], float]":
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{text} is not above 0")
        return value
    parse.__name__ = kind.__name__
    return parse


def _not_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text} is below 0")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kit", description="idlekit: build, boot and measure the teaching unikernel.")
    sub = p.add_subparsers(dest="command", required=True, metavar="command")

    d = sub.add_parser("doctor", help="check QEMU, gcc, make, /dev/shm, a pseudo-terminal, the HTTP clients, clang, the static C library, the Linux peer and KVM, with install hints")
    d.set_defaults(func=_doctor)

    b = sub.add_parser("build", help="build a kernel stage")
    b.add_argument("stage", nargs="?", default="boot")
    b.set_defaults(func=_build)

    r = sub.add_parser("run", help="boot a stage, stream its console (lines typed go to the guest), "
                                   "summarise host CPU at the end")
    r.add_argument("stage", nargs="?", default="boot")
    r.add_argument("--append", default="", help='kernel command line, e.g. "idle=spin"')
    r.add_argument("--cpus", type=_positive(int), default=1)
    r.add_argument("--seconds", type=_not_negative, default=None, help="stop after this long (default: Ctrl-C)")
    r.add_argument("--timeout", type=_positive(float), default=30.0,
                   help="seconds to wait for 'kit: ready', or for the self-tests to end (default: 30)")
    r.add_argument("--accel", default="auto", choices=("auto", "tcg", "kvm"))
    r.add_argument("--hz", type=_positive(float), default=10.0, help="host CPU samples a second")
    r.add_argument("--no-net", action="store_true",
                   help="boot a stage from net on without its network card (it has one by default, "
                        "its web server forwarded from a free port of 127.0.0.1)")
    r.set_defaults(func=_run)

    q = sub.add_parser("peer", help="the Linux peer (Debian's cloud kernel, busybox, an epoll web server): "
                                    "build it, or boot it on the same network as the kit's kernel")
    q.add_argument("action", choices=("build", "run"),
                   help="build: download Debian's packages (once) and make build/peer/; run: also boot it")
    q.add_argument("--refresh", action="store_true", help="download the packages again")
    q.add_argument("--cpus", type=_positive(int), default=1)
    q.add_argument("--seconds", type=_not_negative, default=None, help="stop after this long (default: Ctrl-C)")
    q.add_argument("--timeout", type=_positive(float), default=120.0,
                   help="seconds to wait for 'peer: ready' (default: 120)")
    q.add_argument("--accel", default="auto", choices=("auto", "tcg", "kvm"))
    q.add_argument("--hz", type=_positive(float), default=10.0, help="host CPU samples a second")
    q.set_defaults(func=_peer)

    c = sub.add_parser("calibrate", help="measure this host's floor (cli; hlt) and ceiling (spin)")
    c.add_argument("--seconds", type=_positive(float), default=3.0)
    c.set_defaults(func=_calibrate)

    m = sub.add_parser("demo", help="a lesson's experiment, headless: a table and a saved plot "
                                    "(lesson 01's; net: lesson 07's HTTP stress)")
    m.add_argument("stage", nargs="?", default="boot", choices=("boot", "net"),
                   help="boot: spin against hlt (demo.*); net: Toro's HTTP stress for the kit's API "
                        "and idle=spin (demo-net.*)")
    m.add_argument("--seconds", type=_positive(float), default=5.0,
                   help="seconds a phase (net: of the stress and each idle phase after it)")
    m.add_argument("--out", default=None, help="folder for the plot (.html) and table (.json) (default: results/)")
    m.set_defaults(func=_demo)

    ld = sub.add_parser("load", help="HTTP load on a URL: open-loop at a rate, or closed-loop at a concurrency")
    ld.add_argument("url", help="e.g. the http://127.0.0.1:<port>/ that `kit run net` prints")
    how = ld.add_mutually_exclusive_group(required=True)
    how.add_argument("--rate", type=_positive(float), help="requests a second, each due at its time (open-loop)")
    how.add_argument("--concurrency", type=_positive(int),
                     help="connections that each send when the last answer came (closed-loop)")
    ld.add_argument("--seconds", type=_positive(float), default=None, help="how long (default: 5)")
    ld.add_argument("--requests", type=_positive(int), default=None, help="at most this many requests")
    ld.add_argument("--connections", type=_positive(int), default=8, help="open-loop: kept-alive connections")
    ld.add_argument("--timeout", type=_positive(float), default=5.0, help="seconds one request may take")
    ld.add_argument("--json", default=None, help="also write the result, every request's times, to this file")
    ld.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    ld.set_defaults(func=_load)

    n = sub.add_parser("bench", add_help=False,
                       help="a benchmark: a table, and every figure as JSON (kit bench --help lists them)")
    n.set_defaults(func=_bench)
    return p


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that every ``with`` stops its VMs
    and removes their files on the way out, as Ctrl-C does."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    p = parser()
    # `kit bench` parses the rest itself (bench_parser), so that only it loads the benchmarks
    args, rest = p.parse_known_args(argv)
    if args.command == "bench":
        args.rest = rest
    elif rest:
        p.error(f"unrecognized arguments: {' '.join(rest)}")
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        return args.func(args)
    except KitError as e:
        _report(e)
        return 1
    except Terminated:
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (`kit run | head`): nothing more can be shown;
        # point stdout at /dev/null so that the flush at exit does not fail too
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
