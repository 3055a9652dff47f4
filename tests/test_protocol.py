"""The guest's console lines, read one way: protocol.py on lines as the kernel prints them."""

from __future__ import annotations

import math

import pytest

from kitlib import protocol

CONSOLE = """kit: boot cores
cmdline: test
kit: cpu 0 up
kit: cpu 2 up
kit: cpu 1 up
idt: OK
sleep: 10 ms, woke 12 us late
sleep: 25 ms, woke 480 us late
remote: FAIL woke on cpu 0, wanted 1
kit: ready
locks: ticket pause=0: 4 cpus, 123456 increments in 2500 ms, 49382/s
locks: OK
stats: cpu 0 halts=3 halted_ms=900 ctx_switches=12 timer_irqs=0 ipis_sent=1 ipis_received=0 wakeups=2
stats: cpu 1 halts=5 halted_ms=950 ctx_switches=7 timer_irqs=0 ipis_sent=0 ipis_received=1 wakeups=0
stats: end
"""


def test_fields_reads_every_key_value_word_in_order():
    assert protocol.fields("prodcons: poll=wait sent=3 seen=- ns") == {"poll": "wait", "sent": "3", "seen": "-"}
    assert protocol.fields("kit: ready") == {}


def test_bring_up_lines_in_the_order_printed():
    assert protocol.cpus_up(CONSOLE) == [0, 2, 1]


def test_verdicts_name_what_passed_and_why_the_rest_failed():
    results = protocol.test_results(CONSOLE)
    assert results == {"idt": None, "remote": "woke on cpu 0, wanted 1", "locks": None}
    assert protocol.ok("locks") == "locks: OK" and protocol.fail("locks") == "locks: FAIL"


def test_a_verdict_is_waited_for_as_a_whole_line():
    rx = protocol.verdict("locks")
    assert rx.search("locks: FAIL lost 3 of 9 incre") is None           # the reason still on its way
    assert rx.search("locks: ticket pause=0: 4 cpus\n") is None       # the summary line is not a verdict
    assert rx.search("x\nlocks: FAIL lost 3 of 9 increments\n").group(0) == "locks: FAIL lost 3 of 9 increments\n"
    assert rx.search("locks: OK\n").group(0) == protocol.ok("locks") + "\n"


def test_the_lock_apps_summary():
    s = protocol.locks_summary(CONSOLE)
    assert s == protocol.LocksSummary("ticket", False, 4, 123456, 2500, 49382)
    assert protocol.locks_summary("locks: OK\n") is None


def test_stats_lines_per_cpu():
    rows = protocol.stats_lines(CONSOLE)
    assert list(rows) == [0, 1]
    assert rows[1]["halted_ms"] == 950 and rows[0]["wakeups"] == 2


def test_a_stats_line_still_arriving_is_not_read():
    assert protocol.stats_lines("stats: cpu 0 halts=3 halted_ms=9") == {}


def test_sched_self_test_sleeps():
    assert protocol.woke_late_us(CONSOLE) == [12, 480]


@pytest.mark.parametrize("line, n, sent, mode", [
    ("lateness: n=400 min=900 p50=12000 p90=30500 p99=80000 max=95000 ns\n", 400, None, None),
    ("prodcons: poll=wait sent=50 seen=49 min=1 p50=2 p90=3 p99=4 max=5 ns\n", 49, 50, "wait"),
])
def test_percentile_lines(line, n, sent, mode):
    p = protocol.percentiles(line)
    assert (p.n, p.sent, p.mode) == (n, sent, mode)
    assert p.min_ns <= p.p50_ns <= p.p90_ns <= p.p99_ns <= p.max_ns


def test_a_percentile_line_without_samples_is_nan():
    p = protocol.percentiles("prodcons: poll=toro sent=200 seen=0 min=- p50=- p90=- p99=- max=- ns")
    assert p.n == 0 and all(math.isnan(getattr(p, f"{r}_ns")) for r in protocol.RANKS)


def test_other_lines_are_not_percentiles():
    with pytest.raises(ValueError, match="not a percentile line"):
        protocol.percentiles("lateness: n=4")               # cut short: no ranks


def test_the_line_patterns_find_their_lines_whole():
    text = "x\nlateness: n=2 min=1 p50=1 p90=1 p99=1 max=1 ns\nprodcons: poll=spin period=200 us n=5 consumer on cpu 1\n"
    assert protocol.LATENESS_LINE.search(text).group(0).endswith("ns\n")
    assert protocol.prodcons_start(text) == protocol.ProdconsStart("spin", 200, 5, 1)
    assert protocol.prodcons_start("prodcons: poll=spin period=200 us n=5 consumer on cpu 1") is None


def test_the_network_threads_line():
    text = "net: virtio-net mac 52:54:00:12:34:56, 128+128 buffers, rx on cpu 1 by MSI-X\nnet: thread on cpu 1 waits by toro\n"
    assert protocol.net_wait(text) == protocol.NetWait(1, "toro")
    assert protocol.net_wait("net: no virtio-net device\n") is None
    assert protocol.net_wait("net: thread on cpu 1 waits by wa") is None      # still arriving


@pytest.mark.parametrize("command, line, refused", [
    ("idle hlt", "idle: hlt\n", False),
    ("poll toro", "poll: toro\n", False),
    ("poll nap", "poll: bad way 'nap' (poll spin, poll toro or poll wait)\n", True),
    ("tick 0", "tick: bad rate '0'\n", True),
    ("nap", "console: unknown command 'nap' (try help)\n", True),
])
def test_console_answers(command, line, refused):
    m = protocol.tagged_answer_pattern(7, command).search(f"@6 stats: end\n{line}@7 {line}")
    said = protocol.answer(m)
    assert str(said) == line.strip() and said.refused is refused
