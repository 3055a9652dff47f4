"""Guesses beside measurements (kitlib.guess), without QEMU."""

from __future__ import annotations

import pytest

import kitlib


def test_versus_puts_each_guess_beside_its_measurement_with_the_ratio():
    v = kitlib.versus({"spin": 50, "hlt": None}, {"spin": 100.0, "hlt": 0.4}, unit="% of a host core")
    rows = {r["what"]: r for r in v.table()}
    assert rows["spin"] == {"what": "spin", "guess": 50, "measured": 100.0, "off": 2.0}
    assert rows["hlt"]["off"] is None               # no guess, no ratio
    text = str(v)
    assert "your guess" in text and "% of a host core" in text and "  100 " in text
    assert "<table>" in v._repr_html_()


def test_versus_shows_a_quantity_measured_but_not_guessed():
    v = kitlib.versus({"a": 1}, {"a": 2, "b": 3})
    assert [r["what"] for r in v.table()] == ["a", "b"]


def test_versus_says_when_nothing_guessed_was_measured():
    with pytest.raises(KeyError, match="none of the guessed"):
        kitlib.versus({"x": 1}, {"y": 2})
