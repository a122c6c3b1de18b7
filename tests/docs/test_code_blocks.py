"""Every code block of README.md and docs/ is run: Python blocks each on its own (as a reader
copies one), shell blocks command by command, in an empty directory holding the files the
pages call the reader's own (``tests/docs/blocks.py``). The lines that install gentk are the
ones ``.ci/run`` runs (``tests/docs/test_site.py``); a block titled with a file is an excerpt
of that file, line for line."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.docs.blocks import INSTALL, PAGES, ROOT, blocks, commands, make_workdir

LANGUAGES = {"bash", "python", "toml", "text"}
RUN_PAGES = [page for page in PAGES if page.name != "README.md"]  # README: install and tests


def _env() -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=540)


def _gentk_chain(command: str) -> list[list[str]] | None:
    """``gentk A && gentk B  # note`` as the argument lists of its gentk commands, or None when
    the line needs a shell (pipes, redirection, variables, globs, other programs)."""
    import shlex

    words = shlex.split(command, comments=True)
    if any(set(word) & set("|;<>$`*?()") for word in words):
        return None
    chain, current = [], []
    for word in [*words, "&&"]:
        if word != "&&":
            current.append(word)
            continue
        if not current or current[0] != "gentk":
            return None
        chain.append(current[1:])
        current = []
    return chain


def _run_command(command: str, work: Path) -> subprocess.CompletedProcess:
    """A shell block's line: plain ``gentk`` commands through the console script's command
    group in this process (``tests.conftest.run_cli``), anything else through bash."""
    from tests.conftest import run_cli

    chain = _gentk_chain(command)
    if chain is None:
        return _run(["bash", "-o", "pipefail", "-c", command], work)
    for args in chain:
        proc = run_cli(*args, cwd=work)
        if proc.returncode != 0:
            break
    return proc


def _check(proc: subprocess.CompletedProcess, what: str) -> None:
    assert proc.returncode == 0, (
        f"{what} exited {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}\n"
        f"--- stderr\n{proc.stderr[-3000:]}"
    )


def test_every_block_names_a_known_language():
    for page in PAGES:
        for block in blocks(page):
            assert block.language in LANGUAGES, f"{block.where}: ```{block.language}"


def test_toml_blocks_parse():
    found = [block for page in PAGES for block in blocks(page) if block.language == "toml"]
    assert found
    for block in found:
        tomllib.loads(block.code)


def test_titled_blocks_are_excerpts_of_their_files():
    found = [block for page in PAGES for block in blocks(page) if block.title]
    assert found
    for block in found:
        path = ROOT / block.title.split(" ")[0]
        source = path.read_text().splitlines()
        at = 0
        for line in block.code.splitlines():
            if not line.strip():
                continue
            assert line in source[at:], f"{block.where}: {line!r} is not (in order) in {path}"
            at = source.index(line, at) + 1


#: pages whose blocks take a minute or more: each has a file of its own
#: (tests/docs/test_page_NAME.py), so that CI's two workers share them
OWN_FILE_PAGES = {"recommenders", "vae", "gans", "flows", "getting-started"}
FAMILY_PAGES = {"recommenders", "vae", "gans", "flows"}


def run_page(page: Path, tmp_path: Path) -> None:
    """Every untitled bash and Python block of ``page``, in order, in a fresh directory."""
    work = make_workdir(tmp_path)
    ran = 0
    for block in blocks(page):
        if block.title or block.language not in ("bash", "python"):
            continue
        if block.language == "python":
            proc = _run([sys.executable, "-c", block.code], work)
            _check(proc, f"{block.where} (python)")
            ran += 1
            continue
        for command in commands(block):
            if INSTALL.match(command):
                continue  # .ci/run installs (test_site.py)
            proc = _run_command(command, work)
            _check(proc, f"{block.where}: {command}")
            ran += 1
    if any(b.language in ("bash", "python") and not b.title for b in blocks(page)):
        assert ran, page


GUIDES = [p for p in RUN_PAGES if p.stem not in OWN_FILE_PAGES]


@pytest.mark.slow
@pytest.mark.parametrize("page", GUIDES, ids=[str(p.relative_to(ROOT)) for p in GUIDES])
def test_page_blocks_run(page, tmp_path):
    run_page(page, tmp_path)
