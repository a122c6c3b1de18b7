"""Image data: NPZ archives, IDX files (gzipped or raw, as MNIST ships them) and PNG folders.

Every loader returns ``ImageData`` with float32 pixels in [0, 1], shape ``[N, H, W, C]``.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import zipfile
from pathlib import Path

import numpy as np

from gentk.errors import DataError

__all__ = ["ImageData", "read_idx", "read_npz", "read_png_folder", "load_images"]

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclasses.dataclass
class ImageData:
    x: np.ndarray
    labels: np.ndarray | None = None
    source: str = ""

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])


def _to_unit(x: np.ndarray, path) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255.0
    x = x.astype(np.float32)
    if not np.all(np.isfinite(x)):
        bad = int(np.argwhere(~np.isfinite(x.reshape(len(x), -1)))[0][0])
        raise DataError(f"image {bad} holds NaN or inf", path)
    lo, hi = float(x.min()), float(x.max())
    if lo < 0.0 or hi > 1.0:
        if lo >= 0.0 and hi <= 255.0:
            return x / 255.0
        raise DataError(f"pixel values must lie in [0, 1] or [0, 255]; found [{lo}, {hi}]", path)
    return x


def _with_channels(x: np.ndarray) -> np.ndarray:
    return x[..., None] if x.ndim == 3 else x


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array in an IDX file (``.gz`` or raw), with shape and type checked against its header."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DataError(f"cannot read: {err.strerror}", path) from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise DataError(f"corrupt gzip data: {err}", path) from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise DataError("not an IDX file (bad magic number)", path)
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError("IDX header is truncated", path)
    shape = tuple(int.from_bytes(raw[4 + 4 * k : 8 + 4 * k], "big") for k in range(ndim))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(
            f"IDX header promises shape {shape} ({expected} bytes) but the file "
            f"holds {len(raw) - header} bytes",
            path,
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def read_npz(path: str | os.PathLike) -> ImageData:
    """Images from ``x``/``images`` (else the first array) and labels from ``y``/``labels``."""
    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise DataError("file is empty", path)
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError("a single .npy array, not an .npz archive")
        with loaded as archive:
            arrays = {k: archive[k] for k in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"cannot read NPZ: {err}", path) from None
    if not arrays:
        raise DataError("NPZ archive holds no arrays", path)
    key = next((k for k in ("x", "images", "x_train") if k in arrays), next(iter(arrays)))
    x = arrays[key]
    if x.ndim not in (3, 4):
        raise DataError(
            f"array {key!r} has shape {x.shape}; expected [N, H, W] or [N, H, W, C]", path
        )
    labels = next((arrays[k] for k in ("y", "labels", "y_train") if k in arrays), None)
    if labels is not None and len(labels) != len(x):
        raise DataError(f"{len(labels)} labels for {len(x)} images", path)
    return ImageData(_with_channels(_to_unit(x, path)), labels, str(path))


def read_png_folder(path: str | os.PathLike) -> ImageData:
    """Every PNG under ``path``; sub-folder names become labels when there are sub-folders."""
    from PIL import Image

    path = Path(path)
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() == ".png")
    if not files:
        raise DataError("folder holds no PNG files", path)
    images, names = [], []
    for f in files:
        try:
            with Image.open(f) as img:
                arr = np.asarray(
                    img.convert("L") if img.mode in ("L", "P", "1", "I;16") else img.convert("RGB")
                )
        except OSError as err:
            raise DataError(f"cannot read PNG: {err}", f) from None
        if images and arr.shape != images[0].shape:
            raise DataError(
                f"image shape {arr.shape} differs from {images[0].shape} of {files[0].name}", f
            )
        images.append(arr)
        names.append(f.parent.name if f.parent != path else None)
    labels = None
    if all(n is not None for n in names):
        classes = sorted(set(names))
        labels = np.asarray([classes.index(n) for n in names], dtype=np.int64)
    x = _with_channels(np.stack(images))
    return ImageData(_to_unit(x, path), labels, str(path))


def load_images(path: str | os.PathLike) -> ImageData:
    """Dispatch on what ``path`` is: a PNG folder, ``.npz``, or an IDX file (labels beside it
    are picked up when named like MNIST's: ``*-images-idx3-ubyte`` -> ``*-labels-idx1-ubyte``)."""
    path = Path(path)
    if not path.exists():
        raise DataError("no such file or folder", path)
    if path.is_dir():
        return read_png_folder(path)
    if path.suffix == ".npz":
        return read_npz(path)
    x = read_idx(path)
    if x.ndim not in (3, 4):
        raise DataError(f"IDX array has shape {x.shape}; expected images [N, H, W]", path)
    labels = None
    stem = path.name.replace("images-idx3", "labels-idx1")
    candidates = [path.with_name(n) for n in (stem, stem.removesuffix(".gz"), stem + ".gz")]
    label_path = next((p for p in candidates if p != path and p.exists()), None)
    if label_path is not None:
        labels = read_idx(label_path).astype(np.int64)
        if len(labels) != len(x):
            raise DataError(f"{len(labels)} labels for {len(x)} images", label_path)
    return ImageData(_with_channels(_to_unit(x, path)), labels, str(path))
