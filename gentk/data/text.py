"""Reading delimited text files: encoding, delimiter and header detection shared by the loaders."""

from __future__ import annotations

import math
from pathlib import Path

from gentk.errors import DataError

__all__ = ["iter_lines", "read_lines", "detect_delimiter", "split_line", "is_number", "to_float"]


def _check_file(path: Path) -> None:
    if not path.exists():
        raise DataError("no such file", path)
    if path.is_dir():
        raise DataError("is a folder, expected a file", path)


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def iter_lines(path, skip: int = 0):
    """``(line number, text, bytes)`` of each non-blank line, streamed in 1 MiB blocks (bounded
    memory), after the first ``skip`` non-blank lines; UTF-8 (with BOM) or, block by block,
    Latin-1."""
    path = Path(path)
    _check_file(path)
    seen, number = 0, 0
    with open(path, "rb") as f:
        while block := f.readlines(1 << 20):
            if number == 0 and block[0].startswith(b"\xef\xbb\xbf"):
                block[0] = block[0][3:]
            sizes = [len(raw) for raw in block]
            texts = _decode(b"".join(block)).split("\n")
            if len(texts) > len(block):  # the block ends with a newline
                texts.pop()
            for text, size in zip(texts, sizes):
                number += 1
                if not text or text.isspace():
                    continue
                seen += 1
                if seen > skip:
                    yield number, text.rstrip("\r"), size


def read_lines(path, limit: int | None = None) -> list[tuple[int, str]]:
    """Non-blank lines (the first ``limit`` of them) with their 1-based line numbers."""
    path = Path(path)
    lines = []
    for number, text, _ in iter_lines(path):
        lines.append((number, text))
        if limit is not None and len(lines) >= limit:
            break
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
    if '"' in line or " " in line:
        return [p.strip().strip('"') for p in parts]
    return parts


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
