"""The documentation site builds with warnings as errors, its API reference covers the plugin
API, and the README's two commands are what CI runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.docs.blocks import INSTALL, ROOT, blocks, commands


def test_site_builds_with_warnings_as_errors(tmp_path):
    pytest.importorskip("mkdocs")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert (tmp_path / "site" / "reference" / "api" / "index.html").is_file()
    assert (tmp_path / "site" / "images" / "vae-samples.png").is_file()


def test_every_plugin_api_name_is_in_the_reference():
    import gentk.api

    page = (ROOT / "docs" / "reference" / "api.md").read_text()
    shown = set(re.findall(r"^::: ([\w.]+)$", page, re.M))
    for name in gentk.api.__all__:
        where = gentk.api._WHERE[name]
        target = where if where.rsplit(".", 1)[-1] == name else f"{where}.{name}"
        assert target in shown, f"docs/reference/api.md lacks `::: {target}`"


def test_every_page_is_in_the_navigation():
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in (ROOT / "docs").rglob("*.md"):
        assert str(page.relative_to(ROOT / "docs")) in nav, page


def test_install_lines_are_what_ci_runs():
    """README's two commands (and every page's install lines) are .ci/run's, less its -q."""
    ci = (ROOT / ".ci" / "run").read_text().replace(" -q", "")
    readme = blocks(ROOT / "README.md")
    assert readme[0].language == readme[1].language == "bash"
    assert "pytest -q" in readme[1].code
    ci_parts = {part.strip() for line in ci.splitlines() for part in line.split("&&")}
    for page in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]:
        for block in blocks(page):
            if block.language != "bash":
                continue
            for command in commands(block):
                for part in (p.strip() for p in command.split("&&")):
                    if INSTALL.match(part) and not part.startswith("source "):
                        norm = part.replace("pip install -e", ".venv/bin/pip install -e")
                        norm = norm.replace(".venv/bin/.venv/bin/", ".venv/bin/")
                        assert norm in ci_parts or norm.replace(" -q", "") in ci_parts, (
                            f"{block.where}: {part!r} is not what .ci/run runs"
                        )
    assert ".venv/bin/python -m pytest -q".replace(" -q", "") in ci_parts
