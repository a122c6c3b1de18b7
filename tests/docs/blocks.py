"""The fenced code blocks of README.md and docs/: reading them, and the files they use.

``tests/docs/test_code_blocks.py`` runs them; this module finds them and makes the directory
they run in (the files the pages call yours: ``ratings.csv``, ``new_users.csv``,
``train.csv``, ``val.csv``, ``test.csv``).
"""

from __future__ import annotations

import csv
import dataclasses
import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^```(\S*)(.*)$")

#: the lines that install gentk: ``.ci/run`` runs them (tests/docs/test_site.py checks it)
INSTALL = re.compile(r"^(python3 -m venv|\.venv/bin/pip install|pip install|source \.venv)")


@dataclasses.dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    language: str
    title: str
    code: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """Every fenced block of ``page``, in order."""
    found, lines = [], page.read_text().splitlines()
    k = 0
    while k < len(lines):
        match = FENCE.match(lines[k])
        if match is None:
            k += 1
            continue
        start, body = k, []
        k += 1
        while not lines[k].startswith("```"):
            body.append(lines[k])
            k += 1
        title = re.search(r'title="([^"]*)"', match.group(2))
        found.append(
            Block(page, start + 1, match.group(1), title.group(1) if title else "", "\n".join(body))
        )
        k += 1
    return found


def commands(block: Block) -> list[str]:
    """The shell commands of a bash block (continuations joined, comments kept)."""
    joined = block.code.replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip()]


def make_workdir(path: Path) -> Path:
    """The files the pages read as the user's own, in ``path``.

    ``ratings.csv``: MovieLens latest-small as gentk ships it, cut to its 1,200 most-rated
    movies (a real file of a user's shape, small enough for the examples' seconds);
    ``new_users.csv``: 30 of its users under new ids; ``train/val/test.csv``: two moons.
    """
    from sklearn.datasets import make_moons

    source = ROOT / "plugins" / "gentk_recommender" / "data" / "ratings.csv"
    with source.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row[1]] = counts.get(row[1], 0) + 1
    keep = set(sorted(counts, key=lambda item: -counts[item])[:1200])
    rows = [row for row in rows if row[1] in keep]
    with (path / "ratings.csv").open("w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    users = sorted({row[0] for row in rows}, key=int)[:30]
    with (path / "new_users.csv").open("w", newline="") as f:
        csv.writer(f).writerows(
            [header, *([f"new-{row[0]}", *row[1:]] for row in rows if row[0] in users)]
        )
    for name, n, seed in (("train", 1000, 0), ("val", 200, 1), ("test", 200, 2)):
        x, _ = make_moons(n, noise=0.05, random_state=seed)
        np.savetxt(path / f"{name}.csv", x, delimiter=",", header="x0,x1", comments="")
    return path
