"""User-item interaction files (CSV/TSV/``::``, header or not) into validated arrays.

The file is streamed line by line into int32 codes and float32 ratings (bounded memory: a
4-million-row file needs ~50 MB beyond the distinct identifiers), with a progress bar when
reading takes more than a few seconds.

Columns are user, item[, rating][, timestamp], chosen by header name or 0-based position.
MovieLens ``u.data`` (tab), ``ratings.dat`` (``::``) and ``ratings.csv`` (header) read as they
are. Identifiers are kept as strings so every output can use the original ones.
"""

from __future__ import annotations

import csv
import dataclasses
import gc
import os
from array import array
from pathlib import Path

import numpy as np

from gentk.data.text import (
    OPEN_QUOTE,
    compression,
    detect_delimiter,
    is_number,
    iter_lines,
    read_lines,
    split_line,
    to_float,
)
from gentk.errors import DataError
from gentk.progress import task

__all__ = ["EncodedRows", "Interactions", "read_interactions"]

_USER_NAMES = ("user", "userid", "user_id", "users", "uid", "customer", "customer_id")
_ITEM_NAMES = (
    "item",
    "itemid",
    "item_id",
    "movieid",
    "movie_id",
    "movie",
    "artistid",
    "artist_id",
    "iid",
    "product",
    "product_id",
    "song",
    "track",
)
_RATING_NAMES = ("rating", "ratings", "score", "weight", "count", "value", "plays")
_TIME_NAMES = ("timestamp", "time", "ts", "date", "datetime")
_KNOWN = set(_USER_NAMES + _ITEM_NAMES + _RATING_NAMES + _TIME_NAMES)


class EncodedRows:
    """Rows stored as codes: ``user_ids[user_index[k]]`` and ``item_ids[item_index[k]]``."""

    user_index: np.ndarray
    item_index: np.ndarray
    user_ids: np.ndarray
    item_ids: np.ndarray

    @property
    def users(self) -> np.ndarray:
        """The user identifier of every row (materialised: for small files and tests)."""
        return self.user_ids[self.user_index]

    @property
    def items(self) -> np.ndarray:
        return self.item_ids[self.item_index]


@dataclasses.dataclass
class Interactions(EncodedRows):
    """Interaction rows, encoded: row ``k`` is user ``user_ids[user_index[k]]`` and item
    ``item_ids[item_index[k]]`` (original string identifiers, in order of first appearance);
    ``ratings`` are float32 (None when the file has no rating column: every row is then a
    positive). Memory is a few bytes per row plus one string per distinct identifier."""

    user_index: np.ndarray
    item_index: np.ndarray
    user_ids: np.ndarray
    item_ids: np.ndarray
    ratings: np.ndarray | None
    timestamps: np.ndarray | None = None
    source: str = ""

    def __len__(self) -> int:
        return len(self.user_index)


class _Codes:
    """String identifiers to int32 codes, in order of first appearance."""

    def __init__(self):
        self.index: dict[str, int] = {}
        self.codes = array("i")

    def extend(self, keys: list[str]) -> None:
        index = self.index
        found = list(map(index.get, keys))  # C speed; new keys are rare after the first rows
        if None in found:
            for k, key in enumerate(keys):
                if found[k] is None:
                    found[k] = index.setdefault(key, len(index))
        self.codes.extend(found)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        ids = np.empty(len(self.index), dtype=object)
        ids[:] = list(self.index)
        return np.frombuffer(self.codes, dtype=np.int32), ids


def _numbers(chunk, parts, column: int, path, what: str, dtype) -> np.ndarray:
    """Column ``column`` of a chunk as finite numbers, or a ``DataError`` naming the line."""
    try:
        values = np.fromiter(map(float, [p[column] for p in parts]), dtype, len(parts))
        bad = np.flatnonzero(~np.isfinite(values))
    except (ValueError, OverflowError):
        bad = None
    if bad is None or len(bad):
        # a column of text may not be this column at all: say how to choose another
        hint = (
            f"; if column {column} is not a {what}, set {what}_column=none "
            f"(--set {what}_column=none) or name the {what} column"
        )
        for (line_no, _, _), p in zip(chunk, parts):
            to_float(p[column], path, line_no, what, hint)  # raises naming the line
    return values


def _split(chunk, delim) -> list[list[str]]:
    """The fields of each line of a chunk: the C ``csv`` parser for a one-character delimiter
    (quotes handled), ``split_line`` otherwise (``::``, whitespace)."""
    if delim is not None and len(delim) == 1:
        texts = [text for _, text, _ in chunk]
        reader = csv.reader(texts, delimiter=delim, skipinitialspace=True)
        try:
            rows = list(reader)
        except csv.Error as err:
            line_no = chunk[max(0, reader.line_num - 1)][0]
            raise _CsvProblem(_csv_message(str(err)), line_no) from None
        if len(rows) != len(texts):  # a quote left open swallowed the lines after it
            line_no = next((n for n, text, _ in chunk if text.count('"') % 2), chunk[0][0])
            raise _CsvProblem(OPEN_QUOTE, line_no)
        if '"' in texts[-1] and _open_at_end(texts[-1], delim):  # the parser closed it at the end
            raise _CsvProblem(OPEN_QUOTE, chunk[-1][0])
        if any(" " in text for text in texts):
            rows = [[f.strip() for f in row] for row in rows]
        return rows
    return [split_line(text, delim) for _, text, _ in chunk]


def _open_at_end(text: str, delim: str) -> bool:
    """Whether ``text`` ends inside a quoted field (the lenient parser closes such a field at
    the end of its input, so a quote left open on a chunk's last line would pass unseen)."""
    try:
        list(csv.reader([text], delimiter=delim, skipinitialspace=True, strict=True))
    except csv.Error as err:
        return "unexpected end of data" in str(err)
    return False


class _CsvProblem(Exception):
    """A line the CSV parser refused, with the message to show; ``_read_rows`` names the file."""

    def __init__(self, message: str, line_no: int):
        super().__init__(message)
        self.line_no = line_no


def _csv_message(message: str) -> str:
    if "field larger than field limit" in message:
        limit = csv.field_size_limit()
        return f"a field is longer than {limit:,} characters; is this an interaction file?"
    if "new-line character seen in unquoted field" in message:
        return "a carriage return (CR) inside a field; is this a text file of interactions?"
    if "NUL" in message or "null byte" in message:
        return "the line holds NUL bytes; is this a text file of interactions?"
    return f"cannot parse the line as CSV ({message})"


def _chunks(lines, size: int = 65536):
    chunk = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _has_header(first: list[str], second: list[str] | None) -> bool:
    if any(f.lower().replace(" ", "") in _KNOWN for f in first):
        return True
    if second is None:
        return not all(is_number(f) for f in first[2:])
    return any(not is_number(a) and is_number(b) for a, b in zip(first, second))


def _pick(
    spec: str | int | None,
    header: list[str] | None,
    names: tuple[str, ...],
    default: int | None,
    width: int,
    path,
    what: str,
) -> int | None:
    if spec is None or spec in ("", "none"):
        return None
    spec = str(spec)  # a position given as a Python int
    if spec != "auto":
        if spec.lstrip("-").isdigit():
            index = int(spec)
            if not 0 <= index < width:
                raise DataError(
                    f"{what} column {index} does not exist; rows have {width} columns", path
                )
            return index
        if header is None:
            raise DataError(
                f"{what} column {spec!r} given by name but the file has no header", path
            )
        lowered = [h.lower() for h in header]
        if spec.lower() not in lowered:
            raise DataError(f"no {what} column named {spec!r}; header: {', '.join(header)}", path)
        return lowered.index(spec.lower())
    if header is not None:
        lowered = [h.lower().replace(" ", "") for h in header]
        for name in names:
            if name in lowered:
                return lowered.index(name)
    if default is not None and default < width:
        return default
    return None


def _read_rows(lines, delim, width, columns, path, out, advance) -> None:
    """Fill ``out`` (user codes, item codes, rating and timestamp chunks) from ``lines``."""
    u, i, r, t = columns
    users, items, ratings, times = out
    for chunk in _chunks(lines):
        try:
            parts = _split(chunk, delim)
        except _CsvProblem as err:
            raise DataError(str(err), path, err.line_no) from None
        for (line_no, _, _), p in zip(chunk, parts):
            if len(p) != width:
                raise DataError(f"expected {width} columns, found {len(p)}", path, line_no)
            if not p[u] or not p[i]:
                raise DataError("empty user or item identifier", path, line_no)
        users.extend([p[u] for p in parts])
        items.extend([p[i] for p in parts])
        if r is not None:
            ratings.append(_numbers(chunk, parts, r, path, "rating", np.float32))
        if t is not None:
            times.append(_numbers(chunk, parts, t, path, "timestamp", np.float64))
        advance(sum(size for _, _, size in chunk))


def read_interactions(
    path: str | os.PathLike,
    *,
    user_column: str | int | None = "auto",
    item_column: str | int | None = "auto",
    rating_column: str | int | None = "auto",
    timestamp_column: str | int | None = "auto",
    delimiter: str = "auto",
    header: str = "auto",
) -> Interactions:
    """Read and validate an interaction file.

    Args:
        path: the file.
        user_column: a header name, a 0-based position, ``auto`` (by known header names, else
            position 0) or ``none`` (or Python's ``None``); the same for the columns below.
        item_column: the item column (``auto``: by name, else position 1).
        rating_column: the rating column (``auto``: by name, else position 2).
        timestamp_column: the timestamp column (``auto``: by name, else position 3).
        delimiter: ``auto``, ``,``, ``tab``, ``::``, ``;``, ``|`` or ``whitespace``.
        header: ``auto``, ``true`` or ``false``.

    Raises:
        DataError: naming the file and line, for an empty file, a row with the wrong number of
            columns, an empty identifier, a rating that is not a finite number.
    """
    path = Path(path)
    head_lines = read_lines(path, limit=2)
    if delimiter == "auto":
        delim = detect_delimiter(head_lines[0][1])
    else:
        delim = {"tab": "\t", "\\t": "\t", "whitespace": None}.get(delimiter, delimiter)
    first = split_line(head_lines[0][1], delim)
    second = split_line(head_lines[1][1], delim) if len(head_lines) > 1 else None
    has_header = {"true": True, "false": False}.get(str(header).lower())
    if has_header is None:
        has_header = _has_header(first, second)
    head = first if has_header else None
    if has_header and second is None:
        raise DataError("file has a header but no rows", path)
    width = len(first)
    if width < 2:
        raise DataError(
            f"expected at least 2 columns (user, item), found {width}; is the delimiter right?",
            path,
            head_lines[0][0],
        )
    u = _pick(user_column, head, _USER_NAMES, 0, width, path, "user")
    i = _pick(item_column, head, _ITEM_NAMES, 1, width, path, "item")
    r = _pick(rating_column, head, _RATING_NAMES, 2, width, path, "rating")
    # with a header, a timestamp is found by name only: a 4th column of titles is not one
    t = _pick(timestamp_column, head, _TIME_NAMES, 3 if head is None else None, width, path,
              "timestamp")  # fmt: skip
    if rating_column == "auto" and r is not None and r in (u, i, t):
        r = None  # "user,item,timestamp": the third column is the time, not a rating
    if u is None or i is None:
        raise DataError("the user and item columns are required", path)
    users, items = _Codes(), _Codes()
    ratings, times = [], []
    lines = iter_lines(path, skip=1 if has_header else 0)
    gc_was_on = gc.isenabled()
    gc.disable()  # millions of short-lived lists: the cyclic collector only slows reading down
    try:
        size = path.stat().st_size if compression(path) is None else None  # else unknown
        with task(f"reading {path.name}", total=size, unit="bytes") as advance:
            _read_rows(
                lines, delim, width, (u, i, r, t), path, (users, items, ratings, times), advance
            )
    finally:
        if gc_was_on:
            gc.enable()
    user_index, user_ids = users.arrays()
    item_index, item_ids = items.arrays()
    return Interactions(
        user_index=user_index,
        item_index=item_index,
        user_ids=user_ids,
        item_ids=item_ids,
        ratings=np.concatenate(ratings) if r is not None else None,
        timestamps=np.concatenate(times) if t is not None else None,
        source=str(path),
    )
