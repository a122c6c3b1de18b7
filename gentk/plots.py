"""PNG pictures of a run: sample grids, reconstructions, latent scatter and training curves."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from gentk.atomic import atomic_path

__all__ = [
    "image_grid",
    "mosaic",
    "reconstructions",
    "latent_scatter",
    "scatter_over",
    "study_progress",
    "training_curves",
]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path) -> Path:
    plt = _pyplot()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return Path(path)


def _as_images(x: np.ndarray, image_shape=None) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if image_shape is not None:
        x = x.reshape((-1, *image_shape))
    elif x.ndim == 2:
        side = int(round(np.sqrt(x.shape[1])))
        if side * side != x.shape[1]:
            raise ValueError(f"cannot show vectors of length {x.shape[1]} as square images")
        x = x.reshape(-1, side, side)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    return x


def mosaic(images: np.ndarray, columns: int = 8, pad: int = 1) -> np.ndarray:
    """Images ``[N, H, W]`` or ``[N, H, W, C]`` tiled into one array, ``columns`` per row, with
    ``pad`` pixels of background (0.5 grey) between them."""
    n = len(images)
    rows = max(1, int(np.ceil(n / columns)))
    h, w = images.shape[1:3]
    extra = images.shape[3:]
    out = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, *extra), 0.5, np.float32)
    for i, img in enumerate(images):
        r, c = divmod(i, columns)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        out[y : y + h, x : x + w] = img
    return out


def image_grid(
    images: np.ndarray,
    path: str | os.PathLike,
    *,
    image_shape: tuple[int, int, int] | None = None,
    columns: int = 8,
    title: str | None = None,
    row_labels: Sequence[str] | None = None,
) -> Path:
    """A grid of images (values in [0, 1]); rows of ``columns`` images, drawn as one mosaic
    (fast enough to write after every epoch)."""
    plt = _pyplot()
    imgs = np.clip(_as_images(images, image_shape), 0.0, 1.0)
    columns = max(1, min(columns, len(imgs)))
    rows = int(np.ceil(len(imgs) / columns))
    tiled = mosaic(imgs, columns)
    fig, ax = plt.subplots(figsize=(columns * 1.1, rows * 1.1 + 0.4))
    ax.imshow(tiled, cmap="gray" if tiled.ndim == 2 else None, vmin=0, vmax=1,
              interpolation="nearest")  # fmt: skip
    ax.set_axis_off()
    if row_labels is not None:
        h = imgs.shape[1] + 1
        for r, label in enumerate(row_labels[:rows]):
            ax.text(-1, 1 + r * h + h / 2, str(label), ha="right", va="center", fontsize=8)
    if title:
        ax.set_title(title)
    return _save(fig, path)


def reconstructions(
    originals: np.ndarray,
    recons: np.ndarray,
    path: str | os.PathLike,
    *,
    image_shape: tuple[int, int, int] | None = None,
    n: int = 8,
) -> Path:
    """Originals (top row) above their reconstructions (bottom row)."""
    a = _as_images(originals[:n], image_shape)
    b = _as_images(recons[:n], image_shape)
    return image_grid(
        np.concatenate([a, b]),
        path,
        columns=len(a),
        title="originals (top) and reconstructions (bottom)",
    )


def latent_scatter(
    z: np.ndarray,
    path: str | os.PathLike,
    labels: np.ndarray | None = None,
    title: str = "latent space",
) -> Path:
    """A 2-D scatter of latents (PCA to 2-D when wider), coloured by label when given."""
    plt = _pyplot()
    z = np.asarray(z, dtype=np.float64)
    method = "latent"
    if z.shape[1] > 2:
        from sklearn.decomposition import PCA

        z = PCA(n_components=2).fit_transform(z)
        method = "PCA of latent"
    elif z.shape[1] == 1:
        z = np.concatenate([z, np.zeros_like(z)], axis=1)
    fig, ax = plt.subplots(figsize=(6, 5))
    sc = ax.scatter(
        z[:, 0], z[:, 1], c=labels, cmap="tab10" if labels is not None else None, s=6, alpha=0.8
    )
    if labels is not None:
        fig.colorbar(sc, ax=ax, label="label")
    ax.set_xlabel(f"{method} 1")
    ax.set_ylabel(f"{method} 2")
    ax.set_title(title)
    return _save(fig, path)


def scatter_over(
    samples: np.ndarray, real: np.ndarray, path: str | os.PathLike, title: str = "samples"
) -> Path:
    """2-D generated points (orange) over real points (grey): which modes a model covers."""
    plt = _pyplot()
    samples = np.asarray(samples, dtype=np.float64)
    samples = samples[np.all(np.isfinite(samples), axis=1)]
    real = np.asarray(real, dtype=np.float64)
    if len(samples) == 0:
        samples = real[:0]
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(real[:, 0], real[:, 1], s=4, c="0.6", alpha=0.5, label="data")
    ax.scatter(samples[:, 0], samples[:, 1], s=4, c="tab:orange", alpha=0.6, label="samples")
    both = np.concatenate([real, samples]) if len(samples) else real
    lo = np.minimum(real.min(0), np.percentile(both, 1, axis=0)) - 0.5
    hi = np.maximum(real.max(0), np.percentile(both, 99, axis=0)) + 0.5
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(title)
    return _save(fig, path)


def density_2d(
    log_prob: Callable[[np.ndarray], np.ndarray],
    real: np.ndarray,
    path: str | os.PathLike,
    title: str = "density",
    n: int = 200,
) -> Path:
    """The model's density on an ``n x n`` grid around the data (heat map) beside the data
    (scatter), on the same axes. ``log_prob(points [M, 2]) -> [M]``."""
    plt = _pyplot()
    real = np.asarray(real, dtype=np.float64)
    lo, hi = real.min(0), real.max(0)
    pad = 0.15 * (hi - lo) + 1e-6
    lo, hi = lo - pad, hi + pad
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    values = np.asarray(log_prob(grid), dtype=np.float64).reshape(n, n)
    density = np.exp(np.nan_to_num(values, nan=-np.inf, posinf=np.inf).clip(max=50))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
    image = axes[0].imshow(
        density, origin="lower", extent=(lo[0], hi[0], lo[1], hi[1]), cmap="viridis",
        aspect="auto",
    )  # fmt: skip
    fig.colorbar(image, ax=axes[0], label="p(x)")
    axes[0].set_title(title)
    axes[1].scatter(real[:, 0], real[:, 1], s=3, c="0.3", alpha=0.5)
    axes[1].set_xlim(lo[0], hi[0])
    axes[1].set_ylim(lo[1], hi[1])
    axes[1].set_title("data")
    return _save(fig, path)


def codebook_usage(
    counts: np.ndarray, path: str | os.PathLike, title: str = "codebook usage"
) -> Path:
    """Bars of how often each code is used, most used first, with the perplexity."""
    plt = _pyplot()
    counts = np.asarray(counts, dtype=np.float64)
    p = counts / max(counts.sum(), 1.0)
    nz = p[p > 0]
    perplexity = float(np.exp(-(nz * np.log(nz)).sum())) if len(nz) else 0.0
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.bar(np.arange(len(counts)), np.sort(counts)[::-1], width=1.0)
    ax.set_xlabel("code (sorted by use)")
    ax.set_ylabel("uses")
    ax.set_title(
        f"{title}: {int((counts > 0).sum())}/{len(counts)} codes used, perplexity {perplexity:.1f}"
    )
    return _save(fig, path)


def training_curves(history: list[dict], path: str | os.PathLike) -> Path:
    """One panel per logged quantity (train and ``val_`` together) against the epoch."""
    plt = _pyplot()
    keys = []
    for row in history:
        keys.extend(k for k in row if k != "epoch" and k not in keys)
    base = [k for k in keys if not k.startswith("val_")]
    base += [k[4:] for k in keys if k.startswith("val_") and k[4:] not in base]
    cols = min(3, max(1, len(base)))
    rows = int(np.ceil(len(base) / cols)) or 1
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    epochs = [row["epoch"] for row in history]
    for ax, key in zip(axes.flat, base):
        for name, style in ((key, "-"), (f"val_{key}", "--")):
            ys = [row.get(name, np.nan) for row in history]
            if not np.all(np.isnan(np.asarray(ys, dtype=float))):
                ax.plot(epochs, ys, style, marker="o", ms=3, label=name)
        ax.set_title(key)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(base) :]:
        ax.axis("off")
    fig.tight_layout()
    return _save(fig, path)


def study_progress(
    points: Sequence[tuple[int, float, str]],
    path: str | os.PathLike,
    metric: str,
    maximize: bool = False,
) -> Path:
    """A tuning study: each trial's ``metric`` (``points`` = ``(trial, value, state)``;
    pruned trials at their last reported value, hollow) and the best completed so far."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    complete = [(n, v) for n, v, s in points if s == "complete"]
    pruned = [(n, v) for n, v, s in points if s != "complete"]
    if complete:
        ax.plot(*zip(*complete), "o", label="complete")
        best, line = None, []
        for n, v in complete:
            best = v if best is None else (max(best, v) if maximize else min(best, v))
            line.append((n, best))
        ax.step(*zip(*line), where="post", label="best so far")
    if pruned:
        ax.plot(*zip(*pruned), "o", mfc="none", label="pruned (last value)")
    ax.set_xlabel("trial")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} per trial ({'higher' if maximize else 'lower'} is better)")
    if points:
        ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)
