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


def shown_by_lessons() -> list[tuple[str, str, str]]:
    """(path, marker, stage) of every kit.show(...) in the notebooks."""
    import json
    import re

    pattern = re.compile(r'kit\.show\("([^"]+)", "([^"]+)", stage="(\w+)"\)')
    used = []
    for nb in sorted((root() / "notebooks").glob("*.ipynb")):
        for cell in json.loads(nb.read_text())["cells"]:
            used += pattern.findall("".join(cell["source"]))
    return used


def test_every_marker_a_lesson_uses_exists():
    """Each kit.show(...) in a notebook names a region that the source still has."""
    used = shown_by_lessons()
    assert used, "the lessons show no source at all"
    for path, marker, stage in used:
        assert show(path, marker, stage=stage).text.strip(), f"{path}:{marker} is empty"


def test_every_marker_in_the_source_is_shown_by_a_lesson():
    """A marked region that no lesson shows is a stale marker: show it or remove it."""
    shown = {(path, marker) for path, marker, _ in shown_by_lessons()}
    files = [p for part in ("boot", "kernel") for p in sorted((root() / part).iterdir()) if p.is_file()]
    assert any(p.name == "Makefile" for p in files)
    marked = [(str(p.relative_to(root())), m) for p in files for m in markers(p.relative_to(root()))]
    assert marked, "no file in boot/ or kernel/ has a marker"
    unshown = [f"{path}: {marker}" for path, marker in marked if (path, marker) not in shown]
    assert not unshown, "markers no lesson shows:\n" + "\n".join(unshown)


STAGES = "#define STAGE_BOOT 1\n#define STAGE_SCHED 4\n#define STAGE_IDLE 5\n#define STAGE_POLL 6\n"
SOURCE = """// <<wait
void
wait(void)
{
#if KIT_STAGE_LEVEL >= STAGE_POLL
	spin_first();
#endif
#if KIT_STAGE_LEVEL >= STAGE_SCHED && KIT_STAGE_LEVEL < STAGE_IDLE
	spin();
#elif KIT_STAGE_LEVEL >= STAGE_IDLE
	halt();
#else
	stop();
#endif
#ifdef DEBUG
	trace();
#endif
}
// >>wait
"""


@pytest.mark.parametrize("stage, calls", [
    ("boot", ["stop()"]),
    ("sched", ["spin()"]),
    ("idle", ["halt()"]),
    ("poll", ["spin_first()", "halt()"]),
])
def test_a_stage_sees_its_own_branches_and_every_other_if_as_written(tmp_path, stage, calls):
    top = write(tmp_path, SOURCE)
    (tmp_path / "kernel").mkdir()
    (tmp_path / "kernel" / "stage.h").write_text(STAGES)
    ex = show("k/f.c", "wait", stage=stage, top=top)
    body = [line.strip() for line in ex.text.splitlines()[3:-1]]
    assert body == [c + ";" for c in calls] + ["#ifdef DEBUG", "trace();", "#endif"], ex.text
    assert f"as stage `{stage}` builds it" in ex._repr_markdown_()
    assert "KIT_STAGE_LEVEL" in show("k/f.c", "wait", top=top).text      # no stage: as written


def test_an_unknown_stage_names_the_known_ones(tmp_path):
    top = write(tmp_path, SOURCE)
    (tmp_path / "kernel").mkdir()
    (tmp_path / "kernel" / "stage.h").write_text(STAGES)
    with pytest.raises(KitError, match="the stages: boot, sched, idle, poll"):
        show("k/f.c", "wait", stage="net", top=top)
