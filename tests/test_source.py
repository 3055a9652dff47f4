"""Lessons show real source cut out by marker comments."""

from pathlib import Path

import pytest

from kitlib.errors import KitError
from kitlib.paths import root
from kitlib.source import markers, show


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "f.c").write_text(text)
    return tmp_path


def test_region_between_markers_is_shown_dedented(tmp_path):
    top = write(tmp_path, "int a;\n\t// <<loop\n\tfor (;;)\n\t\tx++;\n\t// >>loop\nint b;\n")
    ex = show("k/f.c", "loop", top=top)
    assert ex.text == "for (;;)\n\tx++;"
    assert (ex.first, ex.last) == (3, 4)
    assert ex.language == "c"
    assert "```c" in ex._repr_markdown_()


def test_unknown_marker_names_the_known_ones(tmp_path):
    top = write(tmp_path, "// <<one\nx\n// >>one\n")
    with pytest.raises(KitError, match="one"):
        show("k/f.c", "two", top=top)
    assert markers("k/f.c", top=top) == ["one"]


def test_unclosed_marker_is_an_error(tmp_path):
    top = write(tmp_path, "// <<open\nx\n")
    with pytest.raises(KitError):
        show("k/f.c", "open", top=top)


def test_every_marker_a_lesson_uses_exists():
    """Each kit.show(...) in a notebook names a region that the source still has."""
    import json
    import re

    pattern = re.compile(r'kit\.show\("([^"]+)", "([^"]+)"\)')
    used = []
    for nb in sorted((root() / "notebooks").glob("*.ipynb")):
        for cell in json.loads(nb.read_text())["cells"]:
            used += pattern.findall("".join(cell["source"]))
    assert used, "the lessons show no source at all"
    for path, marker in used:
        assert show(path, marker).text.strip(), f"{path}:{marker} is empty"
