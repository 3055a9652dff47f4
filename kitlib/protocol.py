"""The words guest and host share: command-line keys and their values, and
every line the kernel prints that the host reads.

The kernel prints; this module alone knows how those lines look and how to
take them apart, so the library and the tests read the guest one way.
"""

from __future__ import annotations

import re

__all__ = ["IDLE_POLICIES", "fields"]

# idle=<policy> on the command line, `idle <policy>` on the console (kernel/idle.c).
IDLE_POLICIES = ("spin", "hlt")

_FIELD = re.compile(r"(\w+)=(\S*)")


def fields(line: str) -> dict[str, str]:
    """The ``key=value`` words of a line, in order (``a=1 b=x`` -> {"a": "1", "b": "x"})."""
    return dict(_FIELD.findall(line))
