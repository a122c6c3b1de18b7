import gzip

import numpy as np
import pytest
from PIL import Image

from gentk.data import digits, load_images, read_idx, read_tabular
from gentk.errors import DataError


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(s).to_bytes(4, "big") for s in array.shape
    )
    return header + array.astype(np.uint8).tobytes()


def test_idx_raw_and_gzipped_with_labels(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (5, 4, 3), dtype=np.uint8)
    (tmp_path / "t-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(x)))
    (tmp_path / "t-labels-idx1-ubyte").write_bytes(_idx(np.arange(5)))
    np.testing.assert_array_equal(read_idx(tmp_path / "t-images-idx3-ubyte.gz"), x)
    data = load_images(tmp_path / "t-images-idx3-ubyte.gz")
    assert data.x.shape == (5, 4, 3, 1) and data.x.max() <= 1.0
    np.testing.assert_array_equal(data.labels, np.arange(5))


def test_truncated_idx_is_reported(tmp_path):
    path = tmp_path / "x.idx"
    path.write_bytes(_idx(np.zeros((5, 4, 3)))[:-7])
    with pytest.raises(DataError, match="promises shape"):
        read_idx(path)


def test_png_folder_labels_and_inconsistent_shapes(tmp_path):
    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        Image.fromarray(np.full((6, 5), 200, np.uint8)).save(tmp_path / label / "0.png")
    data = load_images(tmp_path)
    assert data.x.shape == (2, 6, 5, 1) and list(data.labels) == [0, 1]
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "b" / "1.png")
    with pytest.raises(DataError, match="differs"):
        load_images(tmp_path)


def test_npz_and_nan_rejected(tmp_path):
    np.savez(tmp_path / "ok.npz", x=np.ones((3, 2, 2)), y=np.arange(3))
    assert load_images(tmp_path / "ok.npz").x.shape == (3, 2, 2, 1)
    np.savez(tmp_path / "bad.npz", x=np.full((3, 2, 2), np.nan))
    with pytest.raises(DataError, match="NaN"):
        load_images(tmp_path / "bad.npz")


def test_tabular_csv_errors_name_line(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,label\n1,2,x\n3,4,y\n")
    data = read_tabular(path, label_column="label")
    assert data.x.shape == (2, 2) and list(data.labels) == [0, 1]
    path.write_text("a,b\n1,2\n3,inf\n")
    with pytest.raises(DataError, match="t.csv:3: b is 'inf'"):
        read_tabular(path)
    path.write_text('a,b\n"1","2"\n3,"4\n')  # quoted numbers are fine, an open quote is not
    with pytest.raises(DataError, match=r't.csv:3: a quote \("\) opened on this line'):
        read_tabular(path)


def test_digits_builtin():
    data = digits()
    assert data.x.shape == (1797, 8, 8, 1) and 0 <= data.x.min() and data.x.max() <= 1


def test_mnist_from_shared_data(shared_data):
    data = load_images(shared_data / "mnist" / "t10k-images-idx3-ubyte.gz")
    assert data.x.shape == (10000, 28, 28, 1) and len(data.labels) == 10000
