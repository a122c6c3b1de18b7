"""Test setup: only gentk's built-ins and the example plugin load, whatever else is installed."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

TEST_PLUGINS = "core,autoencoders,vae,vqvae,recommender,gan,flows,example"
os.environ["GENTK_PLUGINS"] = TEST_PLUGINS
os.environ.pop("GENTK_DISABLE_PLUGINS", None)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# the GAN metrics' feature extractors are cached here, not in the user's home
os.environ.setdefault("GENTK_CACHE", tempfile.mkdtemp(prefix="gentk-test-cache-"))

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


def run_cli(*args, cwd=None, timeout=600, fresh=False):
    """``gentk ARGS``; returns a ``subprocess.CompletedProcess`` (returncode, stdout, stderr).

    By default the command runs in this process through click's test runner: the same command
    group, plugins and error handling as the console script, without a new interpreter's 4-5 s
    of imports (about a hundred CLI calls in the suite). ``fresh=True`` starts the installed
    ``gentk`` script instead, for tests about the process itself: start-up, native log lines,
    plugin loading, signals, environment. ``timeout`` applies to fresh processes only."""
    if fresh:
        exe = Path(sys.executable).with_name("gentk")
        return subprocess.run(
            [str(exe), *map(str, args)],
            capture_output=True,
            text=True,
            cwd=cwd,
            timeout=timeout,
            env={**os.environ},
        )
    return _run_in_process([str(a) for a in args], cwd)


def _run_in_process(args: list[str], cwd) -> subprocess.CompletedProcess:
    import contextlib
    import logging
    import traceback

    from click.testing import CliRunner

    from gentk.cli import cli, notes_handler
    from gentk.progress import NOTES

    _add_plugin_commands()
    notes = logging.getLogger(NOTES)
    handler, level = notes_handler(), notes.level  # the console script's notes on stderr
    notes.addHandler(handler)
    notes.setLevel(logging.INFO)
    try:
        with contextlib.chdir(cwd or os.getcwd()):
            result = CliRunner().invoke(cli, args, prog_name="gentk")
    finally:
        notes.removeHandler(handler)
        notes.setLevel(level)
    stderr = result.stderr
    if result.exc_info is not None and not isinstance(result.exception, SystemExit):
        # what Python prints when an exception leaves the console script
        stderr += "".join(traceback.format_exception(*result.exc_info))
    return subprocess.CompletedProcess(["gentk", *args], result.exit_code, result.stdout, stderr)


@functools.cache
def _add_plugin_commands() -> None:
    """The plugins' commands on the command group, once per test process (``gentk.cli.main``
    adds them at each start)."""
    from gentk.cli import _add_plugin_commands

    _add_plugin_commands()


def kill_at_epoch(args, state_file, epoch: int, timeout: float = 300) -> int:
    """Start ``gentk *args``, SIGKILL it once ``state_file`` (a run's
    ``checkpoints/state.json``) records ``epoch`` or later, and return the epoch it recorded
    then. Fails the test if the process ends first."""
    import json
    import signal
    import time

    exe = [str(Path(sys.executable).with_name("gentk")), *map(str, args)]
    proc = subprocess.Popen(exe, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ})  # fmt: skip
    state_file, reached = Path(state_file), 0
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if state_file.is_file():
            reached = json.loads(state_file.read_text() or "{}").get("epoch", 0)
            if reached >= epoch:
                proc.send_signal(signal.SIGKILL)
                break
        time.sleep(0.05)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the process ended before it could be killed"
    return reached


def error_lines(stderr: str) -> list[str]:
    """stderr lines that are gentk's own (TensorFlow's C++ log lines filtered out)."""
    return [
        line
        for line in stderr.splitlines()
        if line.startswith(("Error", "Warning", "Usage", "Try"))
    ]


# The slowest files first (each 1.5-4 minutes of a CI run on 2 cores): pytest-xdist's
# ``--dist loadfile`` hands files out in collection order, so the long ones start at once on
# both workers and the short ones fill in at the end, instead of one worker running the last
# long file alone while the other waits (pyproject.toml: --no-loadscope-reorder keeps this order).
SLOW_FILES_FIRST = [
    "tests/cli/test_cli_flows.py",
    "tests/conformance/test_registry.py",
    "tests/training/test_multiworker.py",
    "tests/conformance/test_multi_worker.py",
    "tests/cli/test_cli_recommender.py",
    "tests/docs/test_page_getting_started.py",
    "tests/docs/test_page_gans.py",
    "tests/cli/test_cli_vae.py",
    "tests/cli/test_cli_family.py",
    "tests/docs/test_code_blocks.py",
    "tests/docs/test_page_flows.py",
    "tests/docs/test_page_vae.py",
    "tests/training/test_rundir.py",
    "tests/cli/test_cli_gan.py",
    "tests/test_tune.py",
    "tests/docs/test_page_recommenders.py",
]


def pytest_collection_modifyitems(config, items):
    rank = {path: k for k, path in enumerate(SLOW_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))  # stable
