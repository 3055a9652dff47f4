"""In a notebook a KitError shows its message, not kitlib's insides."""

from IPython.core.interactiveshell import InteractiveShell

import kitlib
from kitlib.errors import BuildError
from kitlib.notebook import show_error


class Shell:
    def __init__(self):
        self.shown = []

    def _showtraceback(self, etype, value, stb):
        self.shown.append((etype, value, stb))


def test_the_message_is_shown_whole_and_alone():
    shell = Shell()
    err = BuildError("boot", "kernel/main.c:3:1: error: expected ';' before '}' token")
    stb = show_error(shell, BuildError, err, None)
    assert shell.shown == [(BuildError, err, stb)]
    assert len(stb) == 1 and "BuildError" in stb[0]
    assert "kernel/main.c:3:1: error: expected ';'" in stb[0]


def test_a_failing_cell_still_fails_with_the_short_message(capsys):
    shell = InteractiveShell.instance()
    kitlib.notebook.install()
    result = shell.run_cell("import kitlib\nraise kitlib.BuildError('boot', 'x.c:1: error: oops')")
    assert isinstance(result.error_in_exec, BuildError)
    out = capsys.readouterr()
    text = out.out + out.err
    assert "x.c:1: error: oops" in text and "Traceback" not in text
    InteractiveShell.clear_instance()
