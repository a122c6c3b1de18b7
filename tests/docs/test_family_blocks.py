"""The code blocks of the family pages (recommenders, VAEs, GANs, flows) run, as
``test_code_blocks.py`` runs the guides' (a file of its own, so the two share the CI's
workers)."""

from __future__ import annotations

import pytest

from tests.docs.test_code_blocks import FAMILY_PAGES, RUN_PAGES, run_page

FAMILIES = [p for p in RUN_PAGES if p.stem in FAMILY_PAGES]


def test_the_family_pages_are_found():
    assert {p.stem for p in FAMILIES} == FAMILY_PAGES


@pytest.mark.slow
@pytest.mark.parametrize("page", FAMILIES, ids=[p.stem for p in FAMILIES])
def test_family_page_blocks_run(page, tmp_path):
    run_page(page, tmp_path)
