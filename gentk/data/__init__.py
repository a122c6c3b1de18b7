"""Data loading: interaction files, images (IDX/NPZ/PNG), tabular CSV, built-ins and splits."""

from gentk.data.builtin import digits, gaussian_grid, gaussian_ring
from gentk.data.images import ImageData, load_images, read_idx, read_npz, read_png_folder
from gentk.data.interactions import Interactions, read_interactions
from gentk.data.split import split_indices
from gentk.data.tabular import TabularData, read_tabular

__all__ = [
    "ImageData",
    "Interactions",
    "TabularData",
    "digits",
    "gaussian_grid",
    "gaussian_ring",
    "load_images",
    "read_idx",
    "read_interactions",
    "read_npz",
    "read_png_folder",
    "read_tabular",
    "split_indices",
]
