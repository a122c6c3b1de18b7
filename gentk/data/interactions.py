"""User-item interaction files (CSV/TSV/``::``, header or not) into validated arrays.

Columns are user, item[, rating][, timestamp], chosen by header name or 0-based position.
MovieLens ``u.data`` (tab), ``ratings.dat`` (``::``) and ``ratings.csv`` (header) read as they
are. Identifiers are kept as strings so every output can use the original ones.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from gentk.data.text import detect_delimiter, is_number, read_lines, split_line, to_float
from gentk.errors import DataError

__all__ = ["Interactions", "read_interactions"]

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


@dataclasses.dataclass
class Interactions:
    """Interaction rows: ``users`` and ``items`` are string identifiers, ``ratings`` floats
    (or None when the file has no rating column: every row is then a positive)."""

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray | None
    timestamps: np.ndarray | None = None
    source: str = ""

    def __len__(self) -> int:
        return len(self.users)


def _has_header(first: list[str], second: list[str] | None) -> bool:
    if any(f.lower().replace(" ", "") in _KNOWN for f in first):
        return True
    if second is None:
        return not all(is_number(f) for f in first[2:])
    return any(not is_number(a) and is_number(b) for a, b in zip(first, second))


def _pick(
    spec: str,
    header: list[str] | None,
    names: tuple[str, ...],
    default: int | None,
    width: int,
    path,
    what: str,
) -> int | None:
    if spec in ("", "none"):
        return None
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


def read_interactions(
    path,
    *,
    user_column: str = "auto",
    item_column: str = "auto",
    rating_column: str = "auto",
    timestamp_column: str = "auto",
    delimiter: str = "auto",
    header: str = "auto",
) -> Interactions:
    """Read and validate an interaction file.

    Args:
        path: the file.
        user_column, item_column, rating_column, timestamp_column: a header name, a 0-based
            position, ``auto`` (by known header names, else positions 0, 1, 2, 3), or ``none``.
        delimiter: ``auto``, ``,``, ``tab``, ``::``, ``;``, ``|`` or ``whitespace``.
        header: ``auto``, ``true`` or ``false``.

    Raises:
        DataError: naming the file and line, for an empty file, a row with the wrong number of
            columns, an empty identifier, a rating that is not a finite number.
    """
    path = Path(path)
    lines = read_lines(path)
    if delimiter == "auto":
        delim = detect_delimiter(lines[0][1])
    else:
        delim = {"tab": "\t", "\\t": "\t", "whitespace": None}.get(delimiter, delimiter)
    first = split_line(lines[0][1], delim)
    second = split_line(lines[1][1], delim) if len(lines) > 1 else None
    has_header = {"true": True, "false": False}.get(str(header).lower())
    if has_header is None:
        has_header = _has_header(first, second)
    head = first if has_header else None
    body = lines[1:] if has_header else lines
    if not body:
        raise DataError("file has a header but no rows", path)
    width = len(first)
    if width < 2:
        raise DataError(
            f"expected at least 2 columns (user, item), found {width}; is the delimiter right?",
            path,
            lines[0][0],
        )
    u = _pick(user_column, head, _USER_NAMES, 0, width, path, "user")
    i = _pick(item_column, head, _ITEM_NAMES, 1, width, path, "item")
    r = _pick(rating_column, head, _RATING_NAMES, 2, width, path, "rating")
    t = _pick(timestamp_column, head, _TIME_NAMES, 3, width, path, "timestamp")
    if u is None or i is None:
        raise DataError("the user and item columns are required", path)
    users, items, ratings, times = [], [], [], []
    for line_no, line in body:
        parts = split_line(line, delim)
        if len(parts) != width:
            raise DataError(f"expected {width} columns, found {len(parts)}", path, line_no)
        if not parts[u] or not parts[i]:
            raise DataError("empty user or item identifier", path, line_no)
        users.append(parts[u])
        items.append(parts[i])
        if r is not None:
            ratings.append(to_float(parts[r], path, line_no, "rating"))
        if t is not None:
            times.append(to_float(parts[t], path, line_no, "timestamp"))
    return Interactions(
        users=np.asarray(users, dtype=object),
        items=np.asarray(items, dtype=object),
        ratings=np.asarray(ratings, dtype=np.float64) if r is not None else None,
        timestamps=np.asarray(times, dtype=np.float64) if t is not None else None,
        source=str(path),
    )
