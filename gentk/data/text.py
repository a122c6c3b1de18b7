"""Reading delimited text files: encoding, delimiter and header detection shared by the loaders."""

from __future__ import annotations

import math
from pathlib import Path

from gentk.errors import DataError

__all__ = ["read_lines", "detect_delimiter", "split_line", "is_number", "to_float"]


def read_lines(path) -> list[tuple[int, str]]:
    """Non-blank lines with their 1-based line numbers; UTF-8 (with BOM) or Latin-1."""
    path = Path(path)
    if not path.exists():
        raise DataError("no such file", path)
    if path.is_dir():
        raise DataError("is a folder, expected a file", path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    lines = [(i + 1, line) for i, line in enumerate(text.splitlines()) if line.strip()]
    if not lines:
        raise DataError("file is empty", path)
    return lines


def detect_delimiter(line: str) -> str | None:
    """``::``, tab, comma or semicolon by what the first line holds; None means whitespace."""
    for delim in ("::", "\t", ",", ";", "|"):
        if delim in line:
            return delim
    return None


def split_line(line: str, delimiter: str | None) -> list[str]:
    parts = line.split(delimiter) if delimiter is not None else line.split()
    return [p.strip().strip('"') for p in parts]


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def to_float(text: str, path, line_no: int, column: str) -> float:
    """A finite float, or a ``DataError`` naming file, line and column."""
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{column} is not a number: {text!r}", path, line_no) from None
    if not math.isfinite(value):
        raise DataError(f"{column} is {text!r}; only finite numbers are allowed", path, line_no)
    return value
