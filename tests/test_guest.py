"""The guest's view: stats block reading and the halted-fraction arithmetic.

Pure tests use synthetic snapshots and a synthetic RAM file laid out like
kernel/stats.h; live tests boot the boot stage with idle=spin and idle=hlt.
"""

from __future__ import annotations

import math
import struct
import threading
import time

import pytest

import kitlib
from kitlib import guest
from kitlib.guest import StatsBlock, StatsSnapshot, counter_rate, halted_fraction, idle_rate, is_counter
from kitlib.hosttsc import read_tsc

from conftest import requires_qemu, runnable_pct

HZ = 1_000_000_000     # 1 GHz makes cycles == nanoseconds in the arithmetic below
FIELDS = ("seq", "idle_passes", "halts", "halted_tsc", "halt_since", "last_tsc")


def snap(t, cpus, *, tsc_hz=HZ, ready_tsc=5 * HZ, valid=True):
    full = tuple({**dict.fromkeys(FIELDS, 0), **c} for c in cpus)
    return StatsSnapshot(host_time=t, tsc_hz=tsc_hz, ready_tsc=ready_tsc, cpus=full, valid=valid, fields=FIELDS)


# ready at host t=100.0 s, when the guest TSC read 5e9: guest_now(t) = 5e9 + 1e9 * (t - 100)
READY = 100.0


def gnow(t):
    return 5 * HZ + HZ * (t - READY)


class TestHaltedFraction:
    def test_spinning_cpu_is_never_halted(self):
        a = snap(101.0, [{"idle_passes": 10}])
        b = snap(102.0, [{"idle_passes": 5010}])
        assert halted_fraction(a, b, READY) == [0.0]

    def test_halt_in_progress_at_both_ends_counts_fully(self):
        # halted once before a, never woke: only the ongoing term sees it
        since = gnow(100.5)
        a = snap(101.0, [{"halts": 1, "halt_since": since}])
        b = snap(103.0, [{"halts": 1, "halt_since": since}])
        assert halted_fraction(a, b, READY) == pytest.approx([1.0])

    def test_halt_starting_midway(self):
        a = snap(101.0, [{}])
        b = snap(102.0, [{"halts": 1, "halt_since": gnow(101.75)}])
        assert halted_fraction(a, b, READY) == pytest.approx([0.25])

    def test_halt_ending_midway_uses_completed_cycles(self):
        since = gnow(100.5)
        a = snap(101.0, [{"halts": 1, "halt_since": since}])
        # the halt ended at t=101.4: completed halted_tsc counts since..101.4
        b = snap(102.0, [{"halts": 1, "halted_tsc": int(gnow(101.4) - since), "halt_since": 0}])
        assert halted_fraction(a, b, READY) == pytest.approx([0.4])

    def test_completed_halts_between_snapshots(self):
        a = snap(10.0, [{"halted_tsc": 7 * HZ}], ready_tsc=0)
        b = snap(12.0, [{"halted_tsc": 7 * HZ + HZ // 2}], ready_tsc=0)
        assert halted_fraction(a, b, 5.0) == pytest.approx([0.25])

    def test_clamped_to_unit_interval(self):
        a = snap(101.0, [{}])
        b = snap(102.0, [{"halted_tsc": 3 * HZ}])       # more cycles than the interval had
        assert halted_fraction(a, b, READY) == [1.0]
        c = snap(102.0, [{"halted_tsc": 0}])
        d = snap(103.0, [{"halted_tsc": 0, "halt_since": gnow(104.0)}])   # halt "in the future"
        assert halted_fraction(c, d, READY) == [0.0]

    def test_per_cpu(self):
        a = snap(101.0, [{}, {"halt_since": gnow(100.0)}])
        b = snap(102.0, [{"idle_passes": 99}, {"halt_since": gnow(100.0)}])
        assert halted_fraction(a, b, READY) == pytest.approx([0.0, 1.0])

    @pytest.mark.parametrize(
        "a, b, ready",
        [
            (snap(1.0, [{}], tsc_hz=0), snap(2.0, [{}], tsc_hz=0), READY),     # TSC rate unknown
            (snap(1.0, [{}], valid=False), snap(2.0, [{}]), READY),           # block not valid yet
            (snap(1.0, [{}]), snap(2.0, [{}]), None),                         # 'kit: ready' not seen
            (snap(2.0, [{}]), snap(2.0, [{}]), READY),                        # no time passed
        ],
    )
    def test_unknown_is_nan(self, a, b, ready):
        assert all(math.isnan(x) for x in halted_fraction(a, b, ready))
        assert len(halted_fraction(a, b, ready)) == len(b.cpus)

    def test_the_guest_clock_read_through_the_host_tsc_wins_over_the_rate(self):
        # the rate says 1 GHz, but the guest's TSC moved 2e9 in that second: trust the TSC
        since = gnow(100.5)
        a = StatsSnapshot(101.0, HZ, 5 * HZ, ({**dict.fromkeys(FIELDS, 0), "halt_since": since},),
                          True, FIELDS, guest_tsc=gnow(101.0))
        b = StatsSnapshot(102.0, HZ, 5 * HZ, ({**dict.fromkeys(FIELDS, 0), "halted_tsc": HZ // 2},),
                          True, FIELDS, guest_tsc=gnow(101.0) + 2 * HZ)
        # halted: the ongoing 0.5e9 at a ended, 0.5e9 completed by b: 0 net of 2e9 cycles
        assert halted_fraction(a, b, READY) == pytest.approx([0.0])

    def test_cpu_that_appeared_later_is_nan(self):
        a = snap(101.0, [{}])
        b = snap(102.0, [{}, {}])
        out = halted_fraction(a, b, READY)
        assert out[0] == 0.0 and math.isnan(out[1])


class TestIdleRate:
    def test_passes_per_second(self):
        a = snap(1.0, [{"idle_passes": 100}, {"idle_passes": 0}])
        b = snap(1.5, [{"idle_passes": 600}, {"idle_passes": 0}])
        assert idle_rate(a, b) == pytest.approx([1000.0, 0.0])

    def test_invalid_is_nan(self):
        a = snap(1.0, [{}], valid=False)
        b = snap(2.0, [{}])
        assert math.isnan(idle_rate(a, b)[0])


# --------------------------------------------------------------- synthetic RAM file

ADDRESS = 0x5040        # not page aligned on purpose: the reader must map the page below
CPU_OFFSET, STRIDE = 320, 64


def write_block(buf: bytearray, cpus: list[dict], *, magic=b"KITSTATS", version=1, tsc_hz=HZ, ready_tsc=123,
                cpu_offset=CPU_OFFSET, fill=False):
    """The kernel's layout (kernel/stats.h): a 40-byte header, the names up to cpu_offset, the records.
    ``fill``: the names padded with spaces to the whole area, with no NUL after them."""
    names = " ".join(FIELDS).encode()
    if fill:
        names = names.rjust(cpu_offset - 40) if fill == "right" else names.ljust(cpu_offset - 40)
    struct.pack_into(f"<8sIIIIQQ{cpu_offset - 40}s", buf, ADDRESS, magic, version, len(cpus), cpu_offset,
                     STRIDE, tsc_hz, ready_tsc, names)
    for i, c in enumerate(cpus):
        values = [c.get(f, 0) for f in FIELDS]
        struct.pack_into("<6Q", buf, ADDRESS + cpu_offset + i * STRIDE, *values)


@pytest.fixture
def ram(tmp_path):
    path = tmp_path / "ram"
    path.write_bytes(bytes(1 << 20))
    return path


def rewrite(path, **kw):
    buf = bytearray(path.read_bytes())
    write_block(buf, **kw)
    with open(path, "r+b") as f:
        f.write(buf)


class TestStatsBlock:
    @pytest.mark.parametrize("cpu_offset, fill", [(128, "left"), (320, False), (576, "right")])
    def test_the_names_area_is_as_large_as_the_block_says(self, ram, cpu_offset, fill):
        """A kernel that grows or shrinks fields[] moves cpu_offset; the host follows it: it reads
        names up to cpu_offset (not into the records after a full area), and all of a longer area."""
        rewrite(ram, cpus=[{"seq": 2, "idle_passes": 7}, {"idle_passes": 9}], cpu_offset=cpu_offset, fill=fill)
        s = StatsBlock(ram, ADDRESS).read()
        assert s.fields == FIELDS and [c["idle_passes"] for c in s.cpus] == [7, 9]

    def test_reads_self_describing_block(self, ram):
        rewrite(ram, cpus=[{"seq": 2, "idle_passes": 7, "halts": 1}, {"idle_passes": 9, "last_tsc": 5}])
        block = StatsBlock(ram, ADDRESS)
        s = block.read()
        assert s.valid and s.tsc_hz == HZ and s.ready_tsc == 123
        assert s.fields == FIELDS
        assert s.cpus[0]["idle_passes"] == 7 and s.cpus[0]["halts"] == 1
        assert s.cpus[1] == {**dict.fromkeys(FIELDS, 0), "idle_passes": 9, "last_tsc": 5}
        block.close()

    def test_sees_updates_through_the_mapping(self, ram):
        rewrite(ram, cpus=[{"idle_passes": 1}])
        block = StatsBlock(ram, ADDRESS)
        assert block.read().cpus[0]["idle_passes"] == 1
        rewrite(ram, cpus=[{"idle_passes": 2}])
        assert block.read().cpus[0]["idle_passes"] == 2
        block.close()

    def test_not_valid_before_magic_or_file(self, tmp_path, ram):
        assert not StatsBlock(tmp_path / "missing", ADDRESS).read().valid
        assert not StatsBlock(ram, ADDRESS).read().valid          # zeros: no magic yet

    def test_other_version_is_an_error(self, ram):
        rewrite(ram, cpus=[{}], version=2)
        with pytest.raises(kitlib.KitError, match="version"):
            StatsBlock(ram, ADDRESS).read()

    def test_odd_seq_is_retried_then_reported(self, ram, monkeypatch):
        monkeypatch.setattr(guest, "_SEQ_TIMEOUT", 0.05)
        rewrite(ram, cpus=[{"seq": 3}])
        with pytest.raises(kitlib.KitError, match="mid-update"):
            StatsBlock(ram, ADDRESS).read()

    def test_odd_seq_that_completes_is_read(self, ram, monkeypatch):
        rewrite(ram, cpus=[{"seq": 3, "halts": 1}])
        block = StatsBlock(ram, ADDRESS)
        fixer = threading.Timer(0.02, rewrite, args=(ram,), kwargs={"cpus": [{"seq": 4, "halts": 2}]})
        fixer.start()
        s = block.read()
        fixer.join()
        assert s.cpus[0]["seq"] == 4 and s.cpus[0]["halts"] == 2
        block.close()

    def test_closed_block_raises(self, ram):
        rewrite(ram, cpus=[{}])
        block = StatsBlock(ram, ADDRESS)
        block.read()
        block.close()
        with pytest.raises(kitlib.KitError):
            block.read()


# --------------------------------------------------------------- live guest

@requires_qemu
class TestLiveStats:
    def test_spin_counts_idle_passes_and_never_halts(self, boot_image):
        with kitlib.VM(boot_image, append="idle=spin") as vm:
            vm.wait_ready()
            a = vm.stats()
            time.sleep(0.5)
            b = vm.stats()
        assert a.valid and b.valid
        assert a.tsc_hz > 0
        assert b.cpus[0]["idle_passes"] > a.cpus[0]["idle_passes"]
        assert b.cpus[0]["halts"] == 0
        assert idle_rate(a, b)[0] > 0
        assert halted_fraction(a, b, vm.ready_time)[0] < 0.05

    def test_hlt_halts_once_and_reads_fully_halted(self, boot_image):
        with kitlib.VM(boot_image, append="idle=hlt") as vm:
            vm.wait_ready()
            time.sleep(0.1)
            a = vm.stats()
            time.sleep(0.5)
            b = vm.stats()
            runnable = runnable_pct(vm, 0.6)
        cpu = b.cpus[0]
        assert cpu["halts"] == 1
        assert cpu["halt_since"] != 0
        assert halted_fraction(a, b, vm.ready_time)[0] > 0.95
        assert runnable[0] < 30, f"the guest reads halted, yet the host saw its vCPU runnable {runnable[0]:.0f} %"

    def test_the_guest_clock_follows_a_spinning_cpu_without_drift(self, boot_image):
        """The host's TSC plus the learned offset is the guest's TSC: a spinning
        CPU's last stamp stays just behind it, seconds later too."""
        if read_tsc() is None:
            pytest.skip("the host's TSC cannot be read here")
        with kitlib.VM(boot_image, append="idle=spin") as vm:
            vm.wait_ready()
            gaps = []
            for _ in range(6):
                s = vm.stats()
                gaps.append((s.guest_tsc - s.cpus[0]["last_tsc"]) / s.tsc_hz)
                time.sleep(0.4)
        assert all(g >= 0 for g in gaps), gaps                  # a lower bound never overtakes
        assert max(gaps[1:]) < 0.02, gaps                       # ... and does not drift away

    def test_long_halts_read_as_halted_in_every_sample(self):
        """Cores that wake once a second: each sample, not just the mean, reads
        halted, seconds after boot too; and the host's reading of the guest's
        clock never falls behind a stamp the guest wrote, nor runs ahead of
        the last one by more than the longest halt.  (A clock that drifts
        from the guest's misplaces the ends of halts.)"""
        if read_tsc() is None:
            pytest.skip("the host's TSC cannot be read here")
        image = kitlib.build("idle")
        with kitlib.VM(image, cpus=2, append="app=sleepers sleep=1000 idle=hlt") as vm:
            vm.wait_ready()
            time.sleep(3.0)
            snaps = []
            for _ in range(25):
                snaps.append(vm.stats())
                time.sleep(0.1)
            ready = vm.ready_time
        fractions = [halted_fraction(a, b, ready) for a, b in zip(snaps, snaps[1:])]
        assert min(min(f) for f in fractions) > 0.8, fractions
        for s in snaps:
            latest = max(max(c["last_tsc"], c["halt_since"]) for c in s.cpus)
            ahead = (s.guest_tsc - latest) / s.tsc_hz       # seconds since the guest's last stamp
            assert 0 <= ahead < 1.5, f"the host's guest clock is {ahead:.3f} s past the last stamp"



# Counters told from stamps, and their rates, on synthetic snapshots.

def test_counters_are_told_from_stamps_by_name():
    assert is_counter("lock_acquires") and is_counter("halts")
    assert not any(map(is_counter, ("seq", "up_tsc", "halted_tsc", "halt_since")))
    assert is_counter("net_tcp_accepts") and not is_counter("net_conns_now"), "a level is no rate"


def _snap(t, cpus, hz=1_000_000_000):
    return StatsSnapshot(host_time=t, tsc_hz=hz, cpus=tuple(cpus), valid=True, fields=tuple(cpus[0]))


def test_counter_rate_per_cpu_and_unknown_for_a_late_cpu():
    a = _snap(1.0, [{"lock_acquires": 10}])
    b = _snap(1.5, [{"lock_acquires": 60}, {"lock_acquires": 5}])
    rate = counter_rate(a, b, "lock_acquires")
    assert rate[0] == 100.0 and math.isnan(rate[1])
