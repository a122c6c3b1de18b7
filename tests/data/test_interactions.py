import numpy as np
import pytest

from gentk.data import read_interactions
from gentk.errors import DataError


@pytest.mark.parametrize(
    "text",
    [
        "user,item,rating\n1,10,5\n1,11,3\n2,10,4\n",
        "1\t10\t5\t881250949\n1\t11\t3\t881250950\n2\t10\t4\t881250951\n",
        "1::10::5::978300760\n1::11::3::978300761\n2::10::4::978300762\n",
        "userId,movieId,rating,timestamp\r\n1,10,5,964982703\r\n1,11,3,9\r\n2,10,4,9\r\n",
    ],
)
def test_formats_read_as_they_are(tmp_path, text):
    path = tmp_path / "r.txt"
    path.write_bytes(text.encode())
    inter = read_interactions(path)
    assert list(inter.users) == ["1", "1", "2"]
    assert list(inter.items) == ["10", "11", "10"]
    np.testing.assert_array_equal(inter.ratings, [5, 3, 4])


def test_two_columns_mean_implicit_feedback(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("alice,apple\nbob,pear\n")
    inter = read_interactions(path)
    assert inter.ratings is None and list(inter.users) == ["alice", "bob"]


def test_columns_by_name(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("ts,item,who,stars\n1,a,u1,5\n2,b,u2,4\n")
    inter = read_interactions(
        path, user_column="who", item_column="item", rating_column="stars", timestamp_column="ts"
    )
    assert list(inter.users) == ["u1", "u2"] and list(inter.ratings) == [5, 4]


def test_columns_as_python_positions_and_none(tmp_path):
    """From Python a position may be an int and "no such column" may be ``None``, as the
    strings ``"2"`` and ``"none"`` are."""
    path = tmp_path / "tags.csv"
    path.write_text('userId,movieId,tag,timestamp\n2,60756,funny,1445714994\n'
                    '2,60756,"Highly quotable, and funny",1445714996\n')  # fmt: skip
    inter = read_interactions(path, user_column=0, item_column=1, rating_column=None)
    assert list(inter.items) == ["60756", "60756"] and inter.ratings is None
    as_strings = read_interactions(path, user_column="0", item_column="1", rating_column="none")
    assert list(as_strings.users) == list(inter.users)


@pytest.mark.parametrize(
    "text, needle",
    [
        ("", "file is empty"),
        ("user,item,rating\n", "header but no rows"),
        ("1,2,5\n1,3\n", ":2: expected 3 columns, found 2"),
        ("1,2,5\n1,3,good\n", ":2: rating is not a number"),
        ("1,2,5\n1,3,nan\n", ":2: rating is 'nan'"),
        ("1,2,5\n,3,4\n", ":2: empty user or item"),
    ],
)
def test_bad_files_name_file_and_line(tmp_path, text, needle):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=needle) as info:
        read_interactions(path)
    assert "bad.csv" in str(info.value)


def test_movielens_files_from_shared_data(shared_data):
    inter = read_interactions(shared_data / "ml-100k" / "u.data")
    assert len(inter) == 100_000 and len(set(inter.users)) == 943
    small = read_interactions(shared_data / "ml-latest-small" / "ratings.csv")
    assert len(small) == 100_836 and small.ratings.min() == 0.5


def test_rows_are_stored_as_int32_codes_into_distinct_identifiers(tmp_path):
    """#10 item 11: a 4M-row file peaked at 3.4 GB as Python strings; now each row costs a few
    bytes (benchmarks/read_interactions.py measures peak RSS against the file size)."""
    path = tmp_path / "r.csv"
    rows = [f"u{k % 5},i{k % 7},{1 + k % 5},{1000 + k}" for k in range(200_000)]
    path.write_text("user,item,rating,timestamp\n" + "\n".join(rows) + "\n")
    inter = read_interactions(path)
    assert inter.user_index.dtype == np.int32 and inter.item_index.dtype == np.int32
    assert inter.ratings.dtype == np.float32 and len(inter) == 200_000
    assert list(inter.user_ids) == [f"u{k}" for k in range(5)]  # order of first appearance
    assert inter.users[123_456] == "u1" and inter.items[123_456] == "i4"
    assert inter.ratings[123_456] == 2 and inter.timestamps[-1] == 1000 + 199_999


def test_errors_past_the_first_chunk_name_their_line(tmp_path):
    path = tmp_path / "late.csv"
    good = "".join(f"{k},{k % 9},4\n" for k in range(70_000))
    path.write_text(good + "70000,3,four\n")
    with pytest.raises(DataError, match=r"late.csv:70001: rating is not a number: 'four'"):
        read_interactions(path)


def test_quoted_fields_and_a_byte_order_mark(tmp_path):
    path = tmp_path / "q.csv"
    path.write_bytes('\ufeffuser,item,rating\n"a, b",x,5\n"c",y, 4\n'.encode())
    inter = read_interactions(path)
    assert list(inter.users) == ["a, b", "c"] and list(inter.ratings) == [5, 4]


TEXT = "user,item,rating\n" + "".join(f"u{k % 7},i{k % 11},{1 + k % 5}\n" for k in range(60))


def _compressed(path, kind):
    import bz2
    import gzip
    import lzma
    import zipfile

    data = TEXT.encode()
    if kind == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("ratings.csv", data)
    else:
        path.write_bytes({"gz": gzip, "bz2": bz2, "xz": lzma}[kind].compress(data))
    return path


@pytest.mark.parametrize("kind", ["gz", "bz2", "xz", "zip"])
def test_compressed_files_read_as_the_text_they_hold(tmp_path, kind):
    plain = tmp_path / "r.csv"
    plain.write_text(TEXT)
    expected = read_interactions(plain)
    # recognised by their first bytes, whatever the name says
    for name in (f"r.csv.{kind}", "r.data"):
        inter = read_interactions(_compressed(tmp_path / name, kind))
        assert list(inter.users) == list(expected.users)
        assert list(inter.items) == list(expected.items)
        np.testing.assert_array_equal(inter.ratings, expected.ratings)


def test_a_damaged_gzip_file_is_one_error_naming_it(tmp_path):
    path = _compressed(tmp_path / "r.csv.gz", "gz")
    path.write_bytes(path.read_bytes()[:-12])
    with pytest.raises(DataError, match=r"r.csv.gz: damaged gzip data"):
        read_interactions(path)


@pytest.mark.parametrize(
    "encode", [lambda t: t.replace("\n", "\r").encode(), lambda t: t.encode("utf-16")],
    ids=["cr-line-endings", "utf-16"],
)  # fmt: skip
def test_cr_line_endings_and_utf16_read_as_text(tmp_path, encode):
    plain = tmp_path / "r.csv"
    plain.write_text(TEXT)
    odd = tmp_path / "odd.csv"
    odd.write_bytes(encode(TEXT))
    a, b = read_interactions(plain), read_interactions(odd)
    assert list(a.users) == list(b.users) and list(a.items) == list(b.items)
    np.testing.assert_array_equal(a.ratings, b.ratings)


@pytest.mark.parametrize(
    "content, needle",
    [
        (b"user,item,rating\n1,2,5\n1,x\ry,4\n", r"bad.csv:3: a carriage return \(CR\) inside"),
        (b"user,item,rating\n1," + b"a" * 200_000 + b",5\n", r"bad.csv:2: a field is longer"),
        (b'user,item,rating\n1,2,5\n1,"3,4\n2,3,5\n', r'bad.csv:3: a quote \("\) opened on this'),
        (b'user,item,rating\n1,2,5\n1,"3,4\n', r'bad.csv:3: a quote \("\) opened on this'),
        (b'user,item\nu1,"a', r'bad.csv:2: a quote \("\) opened on this'),
        (bytes(range(256)) * 800, r"bad.csv: not a text file \(binary data\)"),
    ],
    ids=["bare-cr", "long-field", "open-quote", "open-quote-last-line", "open-quote-no-eol",
         "binary"],
)
def test_unparseable_lines_are_one_error_naming_the_line(tmp_path, content, needle):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=needle):
        read_interactions(path)


@pytest.mark.parametrize("line_no", [65536, 65537, 65538])
def test_a_quote_left_open_at_a_chunk_boundary_is_named(tmp_path, line_no):
    """The file is parsed 65,536 lines at a time; a quote opened on a chunk's last line has no
    later line in that chunk to swallow, and must still be named."""
    lines = ["user,item,rating"] + [f"u{i % 50},i{i % 997},4" for i in range(70_000)]
    lines[line_no - 1] = 'u1,"i2,4'
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=rf'bad.csv:{line_no}: a quote \("\) opened on this'):
        read_interactions(path)


def test_a_fifo_is_refused_before_anything_opens_it(tmp_path):
    import os

    from gentk.data.text import check_input
    from tests.conftest import run_cli

    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match=r"pipe.csv: is a FIFO \(named pipe\)"):
        read_interactions(fifo)
    folder = tmp_path / "images"
    folder.mkdir()
    os.mkfifo(folder / "p.png")
    with pytest.raises(DataError, match=r"p.png: is a FIFO"):
        check_input(folder)
    for model in ("vae", "recommender-dae"):
        proc = run_cli(
            "run", model, "--data", fifo, "-o", tmp_path / model, timeout=120, fresh=True
        )
        assert proc.returncode == 2 and "is a FIFO (named pipe)" in proc.stderr


def test_a_fourth_column_of_titles_is_not_a_timestamp(tmp_path):
    path = tmp_path / "titles.csv"
    path.write_text("userId,movieId,rating,title\n1,2,5,Toy Story\n1,3,4,Heat\n")
    assert read_interactions(path).timestamps is None  # found by name only under a header
    path.write_text("1,2,5,Toy Story\n1,3,4,Heat\n")  # no header: position 3, with a hint
    hint = r"'Toy Story'; if column 3 is not a timestamp, set timestamp_column=none"
    with pytest.raises(DataError, match=r"titles.csv:1: timestamp is not a number: " + hint):
        read_interactions(path)


def test_a_third_column_named_as_a_time_is_not_a_rating(tmp_path):
    """``user,item,timestamp``: the third column is found as the timestamp by its name, so the
    rating's positional default does not take it too (the clicks are implicit feedback)."""
    path = tmp_path / "clicks.csv"
    path.write_text("user,item,timestamp\nu1,a,0.5\nu2,b,1700000000\n")
    inter = read_interactions(path)
    assert inter.ratings is None and list(inter.timestamps) == [0.5, 1700000000.0]
    path.write_text("user,item,score\nu1,a,3\nu2,b,5\n")  # a third column with another name
    assert list(read_interactions(path).ratings) == [3, 5]
