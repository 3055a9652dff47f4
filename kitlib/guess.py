"""Predictions beside measurements.

A lesson asks for a guess before it measures: a cell ``guess = {...}`` that
the student fills in (``None`` for "no idea"), and after the measurement
``kit.versus(guess, measured)`` shows each guess beside what was measured.
Nothing is checked here: a guess is never wrong, only far.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from .table import Tabular

__all__ = ["Versus", "versus"]

Value = float | int | str | bool | None


@dataclass(frozen=True)
class Versus(Tabular):
    """Each guessed quantity: the guess, the measurement, and how far apart."""

    guess: Mapping[str, Value]
    measured: Mapping[str, Value]
    unit: str = ""

    columns = {"what": "what", "guess": "your guess", "measured": "measured", "off": "measured / guess"}

    @property
    def title(self) -> str:
        return f"your guesses beside the measurement{f' ({self.unit})' if self.unit else ''}"

    def table(self) -> list[dict[str, object]]:
        rows = []
        for what in dict.fromkeys([*self.guess, *self.measured]):
            g, m = self.guess.get(what), self.measured.get(what)
            off = None
            if isinstance(g, (int, float)) and isinstance(m, (int, float)) and not isinstance(g, bool) \
                    and g and not math.isnan(float(g)):
                off = round(float(m) / float(g), 2)
            rows.append({"what": what, "guess": g, "measured": m, "off": off})
        return rows


def versus(guess: Mapping[str, Value], measured: Mapping[str, Value], unit: str = "") -> Versus:
    """``guess`` beside ``measured``, key by key (a key in either shows)."""
    missing = [k for k in guess if k not in measured]
    if missing and not set(guess) & set(measured):
        raise KeyError(f"none of the guessed quantities {list(guess)} was measured "
                       f"(measured: {list(measured)})")
    return Versus(dict(guess), dict(measured), unit)
