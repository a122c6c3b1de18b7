"""The library stands without the command line: ``import gentk`` leaves the process environment
alone and loads neither click nor TensorFlow; its errors are plain exceptions whose exit codes
the CLI maps (#24 item 5)."""

import subprocess
import sys

from tests.conftest import error_lines, run_cli


def test_import_gentk_changes_no_environment_and_loads_no_cli_or_tensorflow():
    code = (
        "import os, sys; before = dict(os.environ); import gentk, gentk.errors; "
        "assert dict(os.environ) == before, set(os.environ.items()) ^ set(before.items()); "
        "assert 'click' not in sys.modules and 'tensorflow' not in sys.modules"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_errors_are_plain_exceptions_that_the_cli_maps_to_one_line_and_their_exit_code(tmp_path):
    from gentk.errors import DataError, GentkError, TrainingError, UserError

    assert UserError.__mro__[1:] == (GentkError, Exception, BaseException, object)
    assert (UserError("x").exit_code, TrainingError("x").exit_code) == (2, 3)
    assert str(DataError("bad row", path="a.csv", line=3)) == "a.csv:3: bad row"
    result = run_cli("run", "vae", "--set", "nope=1", "-o", tmp_path / "r")
    assert result.returncode == 2
    (line,) = error_lines(result.stderr)
    assert line.startswith("Error: unknown option 'nope' in --set")


def test_run_takes_a_models_name_and_names_the_closest_ones_when_it_is_unknown(tmp_path):
    """``gentk.run("recommender-dae", ...)`` works as ``gentk run`` does (a run by name is in
    tests/plugins/test_recommender_splits.py); a misspelt name is one error with suggestions,
    before anything is written."""
    import pytest

    import gentk
    from gentk.errors import UserError

    with pytest.raises(UserError, match=r"unknown model 'recomender-vae'; did you mean recomm"):
        gentk.run("recomender-vae", output=tmp_path / "run")
    assert not (tmp_path / "run").exists()
