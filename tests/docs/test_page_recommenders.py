"""The code blocks of docs/recommenders.md run (``run_page``: in order, in a fresh directory with
the files the pages call yours)."""

from __future__ import annotations

import pytest

from tests.docs.test_code_blocks import ROOT, run_page


@pytest.mark.slow
def test_recommenders_page_blocks_run(tmp_path):
    run_page(ROOT / "docs" / "recommenders.md", tmp_path)
