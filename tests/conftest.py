"""Test setup: only gentk's built-ins and the example plugin load, whatever else is installed."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

TEST_PLUGINS = "autoencoders,vae,vqvae,recommender,gan,flows,example"
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


def run_cli(*args, cwd=None, timeout=600):
    """Run the installed ``gentk`` console script; returns the CompletedProcess."""
    exe = Path(sys.executable).with_name("gentk")
    return subprocess.run(
        [str(exe), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={**os.environ},
    )


def error_lines(stderr: str) -> list[str]:
    """stderr lines that are gentk's own (TensorFlow's C++ log lines filtered out)."""
    return [
        line
        for line in stderr.splitlines()
        if line.startswith(("Error", "Warning", "Usage", "Try"))
    ]
