"""Reading delimited text files: compression, encoding, line endings, delimiter and header
detection shared by the loaders.

A file compressed with gzip, bzip2, xz or zip (one member) is read as the text it holds,
recognised by its first bytes whatever its name. UTF-8 (with or without BOM) and Latin-1 are
read as bytes block by block (the fast path); a UTF-16 file (BOM) and a file whose lines end in
a bare CR (classic Mac OS) are decoded as text first.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import stat
from pathlib import Path

from gentk.errors import DataError

OPEN_QUOTE = 'a quote (") opened on this line is never closed'
"""The message for a line whose quoted field never ends (interaction and tabular files)."""

__all__ = [
    "check_input",
    "compression",
    "iter_lines",
    "read_lines",
    "detect_delimiter",
    "split_line",
    "is_number",
    "to_float",
]

_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"PK\x03\x04", "zip"),
)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def check_input(path: str | os.PathLike, *, folders: bool = True) -> None:
    """Refuse, before anything opens it, a path that is not a regular file or (with
    ``folders``) a folder of them: a FIFO, socket or device would block or never end.

    Raises:
        DataError: naming the path (or the first odd file in the folder) and what it is.
    """
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise DataError("no such file", path) from None
    except OSError as err:
        raise DataError(f"cannot read: {err.strerror or err}", path) from None
    if stat.S_ISDIR(mode):
        if not folders:
            raise DataError("is a folder, expected a file", path)
        for child in sorted(path.rglob("*")):
            child_mode = os.stat(child).st_mode if child.exists() else 0
            if not (stat.S_ISREG(child_mode) or stat.S_ISDIR(child_mode)):
                raise DataError(f"is {_kind(child_mode)}; data must be regular files", child)
        return
    if not stat.S_ISREG(mode):
        raise DataError(f"is {_kind(mode)}; data must be a regular file or a folder", path)


def compression(path: str | os.PathLike) -> str | None:
    """``gzip``, ``bzip2``, ``xz`` or ``zip`` by the file's first bytes; None for plain files."""
    with open(path, "rb") as f:
        head = f.read(6)
    return next((name for magic, name in _MAGIC if head.startswith(magic)), None)


@contextlib.contextmanager
def _open_binary(path: Path):
    """The file's bytes, decompressed when it is compressed; damaged compressed data (here or
    while the caller reads) is a ``DataError`` naming the file."""
    import bz2
    import gzip
    import lzma
    import zipfile
    import zlib

    kind = compression(path)
    try:
        if kind is None:
            with open(path, "rb") as f:
                yield f
        elif kind == "zip":
            with zipfile.ZipFile(path) as archive:
                members = [m for m in archive.infolist() if not m.is_dir()]
                if len(members) != 1:
                    raise DataError(
                        f"zip archive holds {len(members)} files; expected exactly one", path
                    )
                with archive.open(members[0]) as f:
                    yield f
        else:
            opener = {"gzip": gzip.open, "bzip2": bz2.open, "xz": lzma.open}[kind]
            with opener(path, "rb") as f:
                yield f
    except (OSError, EOFError, zipfile.BadZipFile, lzma.LZMAError, zlib.error) as err:
        if kind is None:
            raise
        raise DataError(f"damaged {kind} data ({err})", path) from None


def _looks_binary(sample: bytes) -> bool:
    """NUL bytes, or more than 10% control characters other than tab, CR, LF and form feed."""
    if not sample:
        return False
    if b"\x00" in sample:
        return True
    controls = sum(sample.count(bytes([c])) for c in range(32) if c not in (9, 10, 12, 13))
    return controls > 0.1 * len(sample)


def _text_encoding(sample: bytes) -> str | None:
    """The encoding to decode the file with first (universal newlines) when it is UTF-16 (BOM)
    or its lines end in a bare CR; None for the byte fast path."""
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if b"\r" in sample and b"\n" not in sample:
        try:
            sample.decode("utf-8")
        except UnicodeDecodeError as err:
            return "utf-8-sig" if err.start > len(sample) - 4 else "latin-1"
        return "utf-8-sig"
    return None


def _blocks(f, path: Path):
    """Lists of lines as bytes (each with its newline), about 1 MiB a list; ``f`` can peek."""
    sample = f.peek(1 << 16)[: 1 << 16]
    encoding = _text_encoding(sample)
    if encoding is None and _looks_binary(sample):
        raise DataError(
            "not a text file (binary data); CSV/TSV text is read, plain or compressed with "
            "gzip, bzip2, xz or zip",
            path,
        )
    if encoding is None:
        while block := f.readlines(1 << 20):
            yield block
        return
    text = io.TextIOWrapper(f, encoding=encoding, newline=None)
    try:
        while block := text.readlines(1 << 20):
            yield [line.encode("utf-8") for line in block]
    except UnicodeDecodeError as err:
        raise DataError(f"not valid {encoding.upper()} text ({err.reason})", path) from None
    finally:
        text.detach()  # the caller closes the file


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def iter_lines(path: str | os.PathLike, skip: int = 0):
    """``(line number, text, bytes)`` of each non-blank line, streamed in 1 MiB blocks (bounded
    memory), after the first ``skip`` non-blank lines; UTF-8 (with BOM) or, block by block,
    Latin-1."""
    path = Path(path)
    check_input(path, folders=False)
    seen, number = 0, 0
    with _open_binary(path) as raw:
        f = raw if hasattr(raw, "peek") else io.BufferedReader(raw)
        for block in _blocks(f, path):
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


def read_lines(path: str | os.PathLike, limit: int | None = None) -> list[tuple[int, str]]:
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


def to_float(
    text: str, path: str | os.PathLike, line_no: int, column: str, hint: str = ""
) -> float:
    """A finite float, or a ``DataError`` naming file, line and column (``hint`` follows the
    message when ``text`` is not a number at all)."""
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{column} is not a number: {text!r}{hint}", path, line_no) from None
    if not math.isfinite(value):
        raise DataError(f"{column} is {text!r}; only finite numbers are allowed", path, line_no)
    return value
