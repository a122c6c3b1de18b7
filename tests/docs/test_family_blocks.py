"""Every page whose blocks run in a file of its own (the family pages and getting started:
``tests/docs/test_page_NAME.py``, one file each so that CI's two workers share them) has that
file, and it runs that page."""

from __future__ import annotations

from tests.docs.test_code_blocks import FAMILY_PAGES, OWN_FILE_PAGES, ROOT, RUN_PAGES


def test_the_family_pages_are_found():
    assert {p.stem for p in RUN_PAGES if p.stem in FAMILY_PAGES} == FAMILY_PAGES


def test_each_page_with_a_file_of_its_own_has_one_that_runs_it():
    assert OWN_FILE_PAGES <= {p.stem for p in RUN_PAGES}
    for stem in OWN_FILE_PAGES:
        test_file = ROOT / "tests" / "docs" / f"test_page_{stem.replace('-', '_')}.py"
        assert test_file.exists(), test_file
        assert f'"{stem}.md"' in test_file.read_text(), test_file
