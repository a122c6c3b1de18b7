"""Numeric tabular CSV files (header optional, optional label column) into float32 arrays."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from gentk.data.text import (
    OPEN_QUOTE,
    detect_delimiter,
    is_number,
    read_lines,
    split_line,
    to_float,
)
from gentk.errors import DataError

__all__ = ["TabularData", "read_tabular"]


@dataclasses.dataclass
class TabularData:
    x: np.ndarray
    labels: np.ndarray | None = None
    columns: list[str] | None = None
    source: str = ""


def read_tabular(path: str | os.PathLike, *, label_column: str | None = None) -> TabularData:
    """Read a numeric CSV; every cell must be a finite number (the label column excepted).

    Raises:
        DataError: naming the file and line, for an empty file, a ragged row, a non-numeric or
            non-finite value.
    """
    path = Path(path)
    lines = read_lines(path)
    delim = detect_delimiter(lines[0][1])
    first = split_line(lines[0][1], delim)
    has_header = not all(is_number(f) for f in first)
    header = first if has_header else [f"x{k}" for k in range(len(first))]
    body = lines[1:] if has_header else lines
    if not body:
        raise DataError("file has a header but no rows", path)
    label_idx = None
    if label_column is not None:
        if label_column in header:
            label_idx = header.index(label_column)
        elif label_column.isdigit() and int(label_column) < len(header):
            label_idx = int(label_column)
        else:
            raise DataError(f"no column {label_column!r}; columns: {', '.join(header)}", path)
    rows, labels = [], []
    for line_no, line in body:
        if line.count('"') % 2:
            raise DataError(OPEN_QUOTE, path, line_no)
        parts = split_line(line, delim)
        if len(parts) != len(header):
            raise DataError(f"expected {len(header)} columns, found {len(parts)}", path, line_no)
        rows.append(
            [to_float(v, path, line_no, header[k]) for k, v in enumerate(parts) if k != label_idx]
        )
        if label_idx is not None:
            labels.append(parts[label_idx])
    columns = [h for k, h in enumerate(header) if k != label_idx]
    y = None
    if label_idx is not None:
        classes = sorted(set(labels))
        y = np.asarray([classes.index(v) for v in labels], dtype=np.int64)
    return TabularData(np.asarray(rows, dtype=np.float32), y, columns, str(path))
