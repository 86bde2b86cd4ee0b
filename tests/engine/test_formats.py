"""Every output format written by us, read back by someone else's reader.

VOTable and FITS go through astropy, CSV/TSV through pyarrow.csv, pandas and astropy's
ascii reader, Parquet and Arrow through pyarrow, JSON through the json module. Values are
compared exactly (floats bit for bit via ``float.hex``), with the documented exceptions
of each format spelled out in the expectations below.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import math
import shutil
import struct
import subprocess
import tracemalloc
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from astropy.io import fits
from astropy.io import votable as astropy_votable
from astropy.table import Table

from skydock.engine.catalog import ColumnMeta
from skydock.engine.formats import FORMATS, normalise_format, write_result
from skydock.errors import FormatError

NS = "{http://www.ivoa.net/xml/VOTable/v1.3}"
I64_MIN, I64_MAX = -(2**63), 2**63 - 1
NAN, INF = math.nan, math.inf
TS = dt.datetime


def _f32(values: list[float | None]) -> list[float | None]:
    """Python floats holding exactly the float32 values."""
    return [None if v is None else float(np.float32(v)) for v in values]


F32 = _f32([0.1, NAN, INF, -INF, -0.0, 1e-45, 3.4028235e38, 1.1754944e-38, None, 2**24, 1.5, 20])
F64 = [0.1, 1 / 3, NAN, INF, -INF, -0.0, 1e-300, 5e-324, 1.7976931348623157e308, None, 1e16, 1e8]
TEXT = ["plain", "α Cen ☃ 𝄞", 'say "hi"', "a,b;c", "line1\nline2", "<&>\"'", "", None]
TEXT += ["tab\there", "#hash", "cr\rhere", "x"]
TIMES = [TS(2020, 1, 1), None, TS(1999, 12, 31, 23, 59, 59, 999999), TS(1970, 1, 1)]
TIMES += [TS(2024, 2, 29, 12, 30)] * 8
DATA: dict[str, tuple[pa.DataType, list[Any]]] = {
    "i8": (pa.int8(), [1, None, -128, 127, 0, -1, 2, 3, 4, 5, 6, 7]),
    "i16": (pa.int16(), [-32768, 32767, None, 0, 1, 2, 3, 4, 5, 6, 7, 8]),
    "i32": (pa.int32(), [-(2**31), 2**31 - 1, None, 0, 1, 2, 3, 4, 5, 6, 7, 8]),
    "i64": (pa.int64(), [I64_MIN, I64_MAX, 2**53 + 1, None, I64_MIN + 1, 0, 1, 2, 3, 4, 5, -7]),
    "u8": (pa.uint8(), [0, 255, None, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
    "u16": (pa.uint16(), [0, 65535, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
    "u32": (pa.uint32(), [0, 2**32 - 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
    "u64": (pa.uint64(), [0, I64_MAX, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
    "f32": (pa.float32(), F32),
    "f64": (pa.float64(), F64),
    "b": (
        pa.bool_(),
        [True, False, None, True, False, True, True, False, True, False, True, False],
    ),
    "s": (pa.string(), TEXT),
    "t": (pa.timestamp("us"), TIMES),
    "lf": (
        pa.list_(pa.float64()),
        [[1.5, 2.5], [], None, [NAN], [1e-300, -0.0], [1.0, None]] + [[0.25]] * 6,
    ),
    "pt": (pa.list_(pa.float64(), 2), [[10.0, -20.0], None] + [[1.0, 2.0]] * 10),
}
ROWS = 12
RA = 'Right ascension <ICRS> & "J2000"'
META = {
    "f64": ColumnMeta("f64", "DOUBLE", "deg", "pos.eq.ra;meta.main", RA),
    "i64": ColumnMeta("i64", "BIGINT", "", "meta.id", "Identifier"),
    "f32": ColumnMeta("f32", "FLOAT", "mag", "phot.mag", "A magnitude"),
    "s": ColumnMeta("s", "VARCHAR", "", "meta.id", 'Name, with "quotes"'),
    "lf": ColumnMeta("lf", "DOUBLE[]", "Jy", "phot.flux", "Fluxes"),
}
NAMES = list(DATA)


@pytest.fixture(scope="module")
def table() -> pa.Table:
    return pa.table({n: pa.array(v, t) for n, (t, v) in DATA.items()})


def columns(names: list[str] = NAMES) -> list[ColumnMeta | None]:
    return [META.get(n) for n in names]


def batches(tab: pa.Table) -> Iterator[pa.RecordBatch]:
    """Several batches, one of them empty."""
    yield from tab.slice(0, 3).to_batches()
    yield pa.RecordBatch.from_pylist([], schema=tab.schema)
    yield from tab.slice(3, 4).to_batches()
    yield from tab.slice(7).to_batches()


def write(fmt: str, tab: pa.Table, *, overflow: object = False, **kw: Any) -> bytes:
    out = io.BytesIO()
    n = write_result(fmt, tab.schema, batches(tab), out, columns=columns(tab.column_names),
                     overflow=overflow, **kw)  # fmt: skip
    assert n == tab.num_rows
    return out.getvalue()


def canon(value: Any) -> Any:
    """Comparable form: floats by their exact bits (so NaN == NaN and -0.0 != 0.0)."""
    if isinstance(value, float | np.floating):
        return ("float", float(value).hex())
    if isinstance(value, list | tuple | np.ndarray):
        return [canon(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def expected(name: str) -> list[Any]:
    return canon(DATA[name][1])


def column_values(col: Any) -> list[Any]:
    """An astropy column as Python values, masked entries as None."""
    mask = np.ma.getmaskarray(col)
    data = np.ma.getdata(col)
    out: list[Any] = []
    for i in range(len(col)):
        if mask.ndim > 1:
            if mask[i].all():
                out.append(None)
                continue
        elif mask[i]:
            out.append(None)
            continue
        value = data[i]
        if isinstance(value, np.ma.MaskedArray):
            value = [
                None if m else v
                for v, m in zip(value.data.tolist(), np.ma.getmaskarray(value), strict=True)
            ]
        elif isinstance(value, np.ndarray):
            value = value.tolist()
        elif isinstance(value, bytes):
            value = value.decode("utf-8")
        elif isinstance(value, np.generic):
            value = value.item()
        out.append(value)
    return canon(out)


def float_values(col: Any) -> list[Any]:
    """Stored float bits with NULLs as None (astropy masks NaN too, so use the mask only
    where the input had a NULL)."""
    return canon(np.ma.getdata(col).tolist())


def with_nulls(got: list[Any], name: str) -> list[Any]:
    return [None if v is None else g for g, v in zip(got, DATA[name][1], strict=True)]


def iso(values: list[Any]) -> list[Any]:
    return [None if v is None else v.isoformat(timespec="microseconds") for v in values]


# --- format names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("csv", "csv"),
        ("CSV", "csv"),
        ("text/csv", "csv"),
        ("text/csv;header=present", "csv"),
        ("tsv", "tsv"),
        ("text/tab-separated-values", "tsv"),
        ("ascii", "tsv"),
        ("votable", "votable"),
        ("application/x-votable+xml", "votable"),
        ("text/xml", "votable"),
        ("votable/td", "votable"),
        ("application/x-votable+xml;serialization=TABLEDATA", "votable"),
        ("votable-binary2", "votable-binary2"),
        ("votable/b2", "votable-binary2"),
        ("application/x-votable+xml; serialization=binary2", "votable-binary2"),
        ("application/x-votable+xml;serialization=BINARY2", "votable-binary2"),
        ("fits", "fits"),
        ("application/fits", "fits"),
        ("parquet", "parquet"),
        ("application/vnd.apache.parquet", "parquet"),
        ("arrow", "arrow"),
        ("application/vnd.apache.arrow.stream", "arrow"),
        ("json", "json"),
        (" application/JSON ", "json"),
        ("text/csv; charset=utf-8", "csv"),
    ],
)
def test_normalise_format_accepts_names_mime_types_and_aliases(given: str, canonical: str) -> None:
    assert normalise_format(given) == canonical


@pytest.mark.parametrize(
    "bad", ["hdf5", "xlsx", "", "application/x-votable+xml;serialization=BINARY"]
)
def test_normalise_format_refuses_unknown_names_clearly(bad: str) -> None:
    with pytest.raises(FormatError) as info:
        normalise_format(bad)
    message = str(info.value)
    assert repr(bad) in message or "BINARY" in message
    if "serialization" not in bad:
        for name in ("csv", "votable", "fits", "parquet", "json"):
            assert name in message


def test_format_registry_names_media_types_and_extensions() -> None:
    assert set(FORMATS) == {
        "csv", "tsv", "votable", "votable-binary2", "fits", "parquet", "arrow", "json"
    }  # fmt: skip
    for name, spec in FORMATS.items():
        assert spec.name == name
        assert normalise_format(spec.media_type) == name
        assert spec.extension and spec.description
    assert FORMATS["votable"].media_type == "application/x-votable+xml"
    assert FORMATS["csv"].media_type.startswith("text/csv")


def test_writing_an_unknown_format_fails_before_writing(table: pa.Table) -> None:
    out = io.BytesIO()
    with pytest.raises(FormatError):
        write_result("xlsx", table.schema, batches(table), out)
    assert out.getvalue() == b""


# --- CSV and TSV ----------------------------------------------------------------------------

CSV_LISTS = {
    "lf": ["{1.5,2.5}", "{}", None, "{NaN}", "{1e-300,-0.0}", "{1.0,NULL}"] + ["{0.25}"] * 6,
    "pt": ["{10.0,-20.0}", None] + ["{1.0,2.0}"] * 10,
}
SCALARS = [n for n in NAMES if n not in ("lf", "pt", "t")]


def read_delimited(data: bytes, sep: str) -> pa.Table:
    types = {n: DATA[n][0] for n in SCALARS} | {
        "t": pa.timestamp("us"),
        "lf": pa.string(),
        "pt": pa.string(),
    }
    return pacsv.read_csv(
        io.BytesIO(data),
        parse_options=pacsv.ParseOptions(delimiter=sep, newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=types,
            true_values=["t"],
            false_values=["f"],
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )  # fmt: skip


@pytest.mark.parametrize(("fmt", "sep"), [("csv", ","), ("tsv", "\t")])
def test_delimited_round_trips_every_value_exactly(table: pa.Table, fmt: str, sep: str) -> None:
    data = write(fmt, table)
    assert data.endswith(b"\n")
    assert data.split(b"\n", 1)[0].decode() == sep.join(NAMES)
    back = read_delimited(data, sep)
    assert back.column_names == NAMES
    for name in SCALARS:
        assert back.schema.field(name).type == DATA[name][0]
        assert canon(back.column(name).to_pylist()) == expected(name), name
    assert back.column("t").to_pylist() == DATA["t"][1]
    for name, text in CSV_LISTS.items():
        assert back.column(name).to_pylist() == text


def test_csv_follows_postgresql_conventions(table: pa.Table) -> None:
    lines = write("csv", table).decode().split("\n")
    first = lines[1].split(",")
    assert first[NAMES.index("b")] == "t"
    assert first[NAMES.index("t")] == "2020-01-01T00:00:00.000000"
    text = write("csv", table).decode()
    assert ',"",' in text  # the empty string, quoted
    assert ",,," in text  # NULLs, unquoted empty fields
    assert "NaN" in text and "Infinity" in text and "-Infinity" in text
    assert "100000000.0" in text  # integral floats keep a decimal point


def test_csv_reads_in_pandas_and_astropy_like_data_lab_convert(table: pa.Table) -> None:
    numeric = table.select(["i64", "u32", "f32", "f64", "i8"])
    data = write("csv", numeric)
    frame = pd.read_csv(io.BytesIO(data))
    assert frame.shape == (ROWS, 5)
    assert frame["f64"].dtype == np.float64 and frame["u32"].dtype == np.int64
    assert canon(frame["f64"].tolist()) == canon([NAN if v is None else v for v in DATA["f64"][1]])
    f32 = [NAN if v is None else v for v in DATA["f32"][1]]
    assert canon(frame["f32"].astype(np.float32).astype(float).tolist()) == canon(f32)
    with warnings.catch_warnings():
        # astropy's fast reader warns on subnormals (5e-324) yet reads them exactly
        warnings.filterwarnings("ignore", "OverflowError converting to FloatType")
        astro = Table.read(data.decode(), format="ascii.csv")
    assert astro["f64"].dtype == np.float64
    assert column_values(astro["f64"]) == expected("f64")
    assert column_values(astro["i64"]) == expected("i64")


def test_csv_quotes_only_what_needs_it() -> None:
    values = ["plain", " lead", "trail ", "", None, "#x", 'q"', "a,b", "tab\tx"]
    tab = pa.table({"s": pa.array(values)})
    csv = write("csv", tab).decode().split("\n")[1:-1]
    assert csv == ["plain", '" lead"', '"trail "', '""', "", '"#x"', '"q"""', '"a,b"', "tab\tx"]
    tsv = write("tsv", tab).decode().split("\n")[1:-1]
    assert tsv[-2:] == ["a,b", '"tab\tx"']
    frame = pd.read_csv(io.BytesIO(write("csv", tab)), keep_default_na=False, na_values=[])
    assert frame["s"].tolist()[:4] == ["plain", " lead", "trail ", ""]


def test_csv_of_zero_rows_is_the_header_line(table: pa.Table) -> None:
    out = io.BytesIO()
    assert write_result("csv", table.schema, iter([]), out) == 0
    assert out.getvalue() == (",".join(NAMES) + "\n").encode()


# --- VOTable --------------------------------------------------------------------------------

VOTABLE_DTYPES = {
    "i8": np.int16, "i16": np.int16, "i32": np.int32, "i64": np.int64, "u8": np.int16,
    "u16": np.int32, "u32": np.int64, "u64": np.int64, "f32": np.float32, "f64": np.float64,
    "b": np.bool_,
}  # fmt: skip
VOTABLE_TYPES = {
    "i8": ("short", None), "i16": ("short", None), "i32": ("int", None), "i64": ("long", None),
    "u8": ("short", None), "u16": ("int", None), "u32": ("long", None), "u64": ("long", None),
    "f32": ("float", None), "f64": ("double", None), "b": ("boolean", None),
    "s": ("unicodeChar", "*"), "t": ("char", "*"), "lf": ("double", "*"), "pt": ("double", "2"),
}  # fmt: skip


def parse_votable(data: bytes) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return astropy_votable.parse(io.BytesIO(data), verify="exception")


def resource_children(data: bytes) -> list[tuple[str, str | None]]:
    root = ET.fromstring(data)
    resource = root.find(f"{NS}RESOURCE")
    assert resource is not None and resource.get("type") == "results"
    return [(child.tag.removeprefix(NS), child.get("value")) for child in resource]


@pytest.mark.parametrize("fmt", ["votable", "votable-binary2"])
def test_votable_round_trips_values_types_and_metadata(table: pa.Table, fmt: str) -> None:
    data = write(fmt, table, info={"QUERY": "SELECT * FROM t WHERE a < 1 & b > 2", "LANG": "ADQL"})
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<VOTABLE version="1.4"')
    vot = parse_votable(data)
    votab = vot.get_first_table()
    fields = {f.name: f for f in votab.fields}
    for name, (datatype, arraysize) in VOTABLE_TYPES.items():
        assert fields[name].datatype == datatype, name
        assert fields[name].arraysize == arraysize, name
    assert fields["t"].xtype == "timestamp"
    assert str(fields["f64"].unit) == "deg" and fields["f64"].ucd == "pos.eq.ra;meta.main"
    assert fields["f64"].description == RA
    assert fields["s"].description == 'Name, with "quotes"'
    assert str(fields["lf"].unit) == "Jy"
    back = votab.to_table()
    assert back.colnames == NAMES
    for name, dtype in VOTABLE_DTYPES.items():
        assert back[name].dtype == dtype, name
        if name in ("f32", "f64"):
            nulls = np.ma.getmaskarray(back[name])
            assert [bool(m) for m in nulls] >= [v is None for v in DATA[name][1]]
            assert with_nulls(float_values(back[name]), name) == expected(name), name
        else:
            assert column_values(back[name]) == expected(name), name
    # astropy reads NULL text as "" (it ignores the BINARY2 null flag of strings on
    # purpose, astropy issue 8995); test_binary2_null_flags checks the flags themselves.
    assert column_values(back["s"]) == ["" if v is None else v for v in expected("s")]
    assert column_values(back["t"]) == ["" if v is None else v for v in iso(DATA["t"][1])]
    # array elements: NULL is written as NaN, and astropy masks NaN
    lf = [None if v is None else [None if x is None or math.isnan(x) else x for x in v]
          for v in DATA["lf"][1]]  # fmt: skip
    got_lf = column_values(back["lf"])
    assert got_lf[2] in (None, [])  # a NULL array reads back empty
    got_lf[2] = None
    assert got_lf == canon(lf)
    assert back["pt"].shape == (ROWS, 2)
    assert column_values(back["pt"]) == expected("pt")
    assert resource_children(data) == [
        ("INFO", "OK"), ("INFO", "SELECT * FROM t WHERE a < 1 & b > 2"), ("INFO", "ADQL"),
        ("TABLE", None),
    ]  # fmt: skip


@pytest.mark.parametrize("fmt", ["votable", "votable-binary2"])
def test_votable_overflow_info_follows_the_table_only_when_truncated(
    table: pa.Table, fmt: str
) -> None:
    children = resource_children(write(fmt, table, overflow=True))
    assert children[0] == ("INFO", "OK")
    assert children[-2:] == [("TABLE", None), ("INFO", "OVERFLOW")]
    assert ("INFO", "OVERFLOW") not in resource_children(write(fmt, table))

    class LateOverflow:
        """Truthy only once every batch has been read, like the executor's flag."""

        consumed = False

        def __bool__(self) -> bool:
            return self.consumed

    flag = LateOverflow()

    def rows() -> Iterator[pa.RecordBatch]:
        yield from batches(table)
        flag.consumed = True

    out = io.BytesIO()
    write_result(fmt, table.schema, rows(), out, overflow=flag)
    assert resource_children(out.getvalue())[-1] == ("INFO", "OVERFLOW")


def test_binary2_keeps_what_tabledata_cannot() -> None:
    tab = pa.table({"s": pa.array(["  padded  ", "", "𝄞 outside the BMP"])})
    back = parse_votable(write("votable-binary2", tab)).get_first_table().to_table()
    assert column_values(back["s"]) == ["  padded  ", "", "𝄞 outside the BMP"]
    back = parse_votable(write("votable", tab)).get_first_table().to_table()
    assert column_values(back["s"]) == ["padded", "", "𝄞 outside the BMP"]  # TD is stripped


def decode_binary2(data: bytes, layout: list[str]) -> list[list[Any]]:
    """A minimal BINARY2 reader (VOTable 1.4 section 5.5) for int/unicodeChar[*]/double[*]
    columns, written from the standard rather than from our writer."""
    root = ET.fromstring(data)
    stream = root.find(f"{NS}RESOURCE/{NS}TABLE/{NS}DATA/{NS}BINARY2/{NS}STREAM")
    assert stream is not None and stream.get("encoding") == "base64"
    raw = base64.b64decode("".join((stream.text or "").split()))
    rows, at = [], 0
    nbytes = (len(layout) + 7) // 8
    while at < len(raw):
        flags = np.unpackbits(np.frombuffer(raw, np.uint8, nbytes, at))[: len(layout)]
        at += nbytes
        row: list[Any] = []
        for kind, null in zip(layout, flags, strict=True):
            if kind == "int":
                value: Any = struct.unpack_from(">i", raw, at)[0]
                at += 4
            else:
                (count,) = struct.unpack_from(">I", raw, at)
                at += 4
                if kind == "unicodeChar":
                    value = raw[at : at + 2 * count].decode("utf-16-be")
                    at += 2 * count
                else:
                    value = list(struct.unpack_from(f">{count}d", raw, at))
                    at += 8 * count
            row.append(None if null else value)
        rows.append(row)
    return rows


def test_binary2_null_flags() -> None:
    tab = pa.table({
        "n": pa.array([1, None, -3, None, 5, 6, 7, 8, 9], pa.int32()),
        "s": pa.array(["a", "", None, "é𝄞", None, "x", "y", "z", "w"]),
        "l": pa.array([[1.5], None, [], [2.0, -0.0], None, [], [], [], [0.5]]),
    })  # fmt: skip
    rows = decode_binary2(write("votable-binary2", tab), ["int", "unicodeChar", "double"])
    assert canon(rows) == canon([list(r.values()) for r in tab.to_pylist()])


@pytest.mark.skipif(shutil.which("stilts") is None, reason="STILTS is not installed")
@pytest.mark.parametrize("fmt", ["votable", "votable-binary2"])
def test_stilts_votlint_finds_nothing_to_report(table: pa.Table, fmt: str, tmp_path: Any) -> None:
    path = tmp_path / "result.vot"
    path.write_bytes(write(fmt, table, overflow=True, info={"QUERY": "SELECT <1>"}))
    run = subprocess.run(
        ["stilts", "votlint", f"votable={path}"], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0 and run.stdout.strip() == "", run.stdout + run.stderr


def test_votable_replaces_characters_xml_cannot_carry() -> None:
    tab = pa.table({"s": pa.array(["bell\x07", "ok"])})
    back = parse_votable(write("votable", tab)).get_first_table().to_table()
    assert column_values(back["s"]) == ["bell\ufffd", "ok"]


def test_votable_error_mid_stream_closes_the_document_and_raises(table: pa.Table) -> None:
    def failing() -> Iterator[pa.RecordBatch]:
        yield table.to_batches()[0]
        raise FormatError("the query ran out of time")

    for fmt in ("votable", "votable-binary2"):
        out = io.BytesIO()
        with pytest.raises(FormatError):
            write_result(fmt, table.schema, failing(), out)
        root = ET.fromstring(out.getvalue())
        info = root.findall(f"{NS}RESOURCE/{NS}INFO")[-1]
        assert (info.get("value"), info.text) == ("ERROR", "the query ran out of time")


def test_votable_uint64_beyond_long_is_refused_clearly() -> None:
    tab = pa.table({"big": pa.array([2**64 - 1], pa.uint64())})
    with pytest.raises(FormatError, match="big"):
        write("votable-binary2", tab)


# --- FITS -----------------------------------------------------------------------------------

FITS_DTYPES = {  # NULL-free small/unsigned ints keep their type via TZERO; with NULLs they widen
    "i8": np.int16, "i16": np.int16, "i32": np.int32, "i64": np.int64, "u8": np.uint8,
    "u16": np.uint16, "u32": np.uint32, "u64": np.uint64, "f32": np.float32, "f64": np.float64,
    "b": np.bool_,
}  # fmt: skip


def test_fits_round_trips_values_types_and_metadata(table: pa.Table) -> None:
    data = write("fits", table, overflow=True, info={"QUERY": "SELECT *\nFROM t"})
    assert len(data) % 2880 == 0
    with fits.open(io.BytesIO(data)) as hdus:
        assert len(hdus) == 2
        header = hdus[1].header
        index = {header[f"TTYPE{i}"]: i for i in range(1, header["TFIELDS"] + 1)}
        assert header[f"TUNIT{index['f64']}"] == "deg"
        assert header[f"TUCD{index['f64']}"] == "pos.eq.ra;meta.main"
        assert header[f"TCOMM{index['f64']}"] == RA
        assert header["OVERFLOW"] is True
        assert header["QUERY"] == "SELECT * FROM t"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Column 'b' contains NULL")
        back = Table.read(io.BytesIO(data))
    assert back.colnames == NAMES
    assert str(back["f64"].unit) == "deg" and str(back["f32"].unit) == "mag"
    for name, dtype in FITS_DTYPES.items():
        assert back[name].dtype.newbyteorder("=") == np.dtype(dtype), name
        want = expected(name)
        if name == "b":  # FITS logical NULL reads back as False
            want = [False if v is None else v for v in want]
        if name in ("f32", "f64"):  # float NULL is NaN
            want = [canon(NAN) if v is None else v for v in want]
        got = column_values(back[name])
        if name in ("f32", "f64"):  # astropy masks NaN; compare the stored bits
            got = canon(np.ma.getdata(back[name]).tolist())
        assert got == want, name
    strings = expected("s")
    strings[strings.index("")] = None  # FITS has no NULL string; astropy masks empty ones
    assert column_values(back["s"]) == strings
    assert column_values(back["t"]) == iso(DATA["t"][1])
    lf = [[] if v is None else [NAN if x is None else x for x in v] for v in DATA["lf"][1]]
    assert canon([list(v) for v in back["lf"]]) == canon(lf)
    assert back["pt"].shape == (ROWS, 2)
    assert canon(np.ma.getdata(back["pt"])[0].tolist()) == canon([10.0, -20.0])


def test_fits_integer_nulls_use_a_value_the_column_never_holds() -> None:
    tab = pa.table({
        "full": pa.array([I64_MIN, I64_MAX, None, I64_MIN + 1], pa.int64()),
        "u8": pa.array([0, 255, None, 1], pa.uint8()),
        "free": pa.array([5, None, 7, 8], pa.int32()),
    })  # fmt: skip
    back = Table.read(io.BytesIO(write("fits", tab)))
    assert column_values(back["full"]) == [I64_MIN, I64_MAX, None, I64_MIN + 1]
    assert column_values(back["u8"]) == [0, 255, None, 1]
    assert column_values(back["free"]) == [5, None, 7, 8]


def test_fits_is_written_sequentially_to_an_unseekable_stream(table: pa.Table) -> None:
    class Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self.chunks: list[bytes] = []

        def writable(self) -> bool:
            return True

        def write(self, b: Any) -> int:
            self.chunks.append(bytes(b))
            return len(self.chunks[-1])

        def seekable(self) -> bool:
            return False

    pipe = Pipe()
    write_result("fits", table.schema, batches(table), pipe, columns=columns())
    assert b"".join(pipe.chunks) == write("fits", table)


# --- Parquet and Arrow ----------------------------------------------------------------------


def assert_same_table(back: pa.Table, table: pa.Table) -> None:
    assert back.schema.names == table.schema.names
    for name in table.column_names:
        assert back.schema.field(name).type == table.schema.field(name).type, name
        assert canon(back.column(name).to_pylist()) == canon(table.column(name).to_pylist()), name


def assert_field_metadata(schema: pa.Schema) -> None:
    meta = schema.field("f64").metadata
    assert meta[b"unit"] == b"deg" and meta[b"ucd"] == b"pos.eq.ra;meta.main"
    assert meta[b"description"].decode() == RA
    assert schema.field("i8").metadata is None


def test_parquet_round_trips_with_field_metadata_and_voparquet_header(table: pa.Table) -> None:
    data = write("parquet", table, overflow=True, info={"QUERY": "SELECT 1"})
    back = pq.read_table(io.BytesIO(data))
    assert_same_table(back, table)
    assert_field_metadata(back.schema)
    kv = pq.read_metadata(io.BytesIO(data)).metadata
    assert kv[b"IVOA.VOTable-Parquet.version"] == b"1.0"
    header = kv[b"IVOA.VOTable-Parquet.content"]
    votab = parse_votable(header).get_first_table()
    assert [f.name for f in votab.fields] == NAMES
    assert votab.array.shape == (0,)  # FIELDs, no DATA
    assert ("INFO", "OVERFLOW") in resource_children(header)
    clean = write("parquet", table)
    header = pq.read_metadata(io.BytesIO(clean)).metadata[b"IVOA.VOTable-Parquet.content"]
    assert ("INFO", "OVERFLOW") not in resource_children(header)


def test_astropy_reads_units_and_ucds_from_voparquet() -> None:
    tab = pa.table({"f64": pa.array([0.5, 1.5]), "f32": pa.array([1.0, 2.0], pa.float32())})
    back = Table.read(io.BytesIO(write("parquet", tab)), format="parquet.votable")
    assert str(back["f64"].unit) == "deg" and str(back["f32"].unit) == "mag"
    assert back["f64"].meta["ucd"] == "pos.eq.ra;meta.main"
    assert back["f64"].tolist() == [0.5, 1.5]


def test_arrow_stream_round_trips_with_field_metadata(table: pa.Table) -> None:
    back = pa.ipc.open_stream(write("arrow", table, info={"QUERY": "SELECT 1"})).read_all()
    assert_same_table(back, table)
    assert_field_metadata(back.schema)
    assert back.schema.metadata[b"QUERY"] == b"SELECT 1"


def test_metadata_falls_back_to_arrow_field_metadata() -> None:
    field = pa.field("x", pa.float64(), metadata={"unit": "km/s", "ucd": "phys.veloc"})
    tab = pa.Table.from_arrays([pa.array([1.0])], schema=pa.schema([field]))
    out = io.BytesIO()
    write_result("votable", tab.schema, tab.to_batches(), out)
    vfield = parse_votable(out.getvalue()).get_first_table().fields[0]
    assert (str(vfield.unit), vfield.ucd) == ("km / s", "phys.veloc")


# --- JSON -----------------------------------------------------------------------------------


def test_json_shape_and_exact_values(table: pa.Table) -> None:
    doc = json.loads(write("json", table, overflow=True, info={"QUERY": "SELECT 1"}))
    assert list(doc) == ["columns", "info", "data", "rows", "overflow"]
    assert doc["rows"] == ROWS and doc["overflow"] is True and doc["info"] == {"QUERY": "SELECT 1"}
    cols = {c["name"]: c for c in doc["columns"]}
    assert cols["f64"] == {
        "name": "f64", "datatype": "double", "arraysize": None, "xtype": None, "unit": "deg",
        "ucd": "pos.eq.ra;meta.main", "description": RA,
    }  # fmt: skip
    assert cols["t"]["xtype"] == "timestamp" and cols["lf"]["arraysize"] == "*"
    rows = doc["data"]
    assert len(rows) == ROWS
    for j, name in enumerate(NAMES):
        got = [row[j] for row in rows]
        values = DATA[name][1]
        if name in ("f32", "f64"):  # JSON has no NaN or infinity
            values = [None if v is None or not math.isfinite(v) else v for v in values]
            assert all(isinstance(v, float) for v in got if v is not None)
            if name == "f32":  # the shortest text that reads back as the same float32
                got = [None if v is None else float(np.float32(v)) for v in got]
        elif name == "t":
            values = iso(values)
        elif name == "lf":
            values = [None if v is None else [None if x is None or math.isnan(x) else x for x in v]
                      for v in values]  # fmt: skip
        assert canon(got) == canon(values), name
    assert json.loads(write("json", table))["overflow"] is False


# --- every format -----------------------------------------------------------------------------


def read_back(fmt: str, data: bytes) -> tuple[list[str], int]:
    """Column names and row count, read by an independent reader."""
    if fmt in ("csv", "tsv"):
        sep = "," if fmt == "csv" else "\t"
        back = pacsv.read_csv(io.BytesIO(data), parse_options=pacsv.ParseOptions(delimiter=sep))
        return back.column_names, back.num_rows
    if fmt.startswith("votable"):
        back = parse_votable(data).get_first_table().to_table()
        return back.colnames, len(back)
    if fmt == "fits":
        with fits.open(io.BytesIO(data)) as hdus:
            return list(hdus[1].columns.names), hdus[1].header["NAXIS2"]
    if fmt == "parquet":
        back = pq.read_table(io.BytesIO(data))
        return back.column_names, back.num_rows
    if fmt == "arrow":
        back = pa.ipc.open_stream(data).read_all()
        return back.column_names, back.num_rows
    doc = json.loads(data)
    return [c["name"] for c in doc["columns"]], len(doc["data"])


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_zero_rows_still_describe_every_column(table: pa.Table, fmt: str) -> None:
    for source in ([], [pa.RecordBatch.from_pylist([], schema=table.schema)]):
        out = io.BytesIO()
        assert write_result(fmt, table.schema, iter(source), out, columns=columns()) == 0
        assert read_back(fmt, out.getvalue()) == (NAMES, 0)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_dictionary_and_view_types_are_written_as_plain_values(fmt: str) -> None:
    tab = pa.table({
        "kind": pa.array(["STAR", "QSO", "STAR"]).dictionary_encode(),
        "name": pa.array(["a", None, "c"], pa.string_view()),
        "n": pa.array([1, 2, 3], pa.int64()),
    })  # fmt: skip
    out = io.BytesIO()
    assert write_result(fmt, tab.schema, tab.to_batches(), out) == 3
    assert read_back(fmt, out.getvalue()) == (["kind", "name", "n"], 3)


def test_repeated_column_names_stay_readable() -> None:
    """``SELECT a, a``: text and VOTable keep the names; FITS and Parquet readers refuse
    repeats, so those files number them like astropy does."""
    tab = pa.Table.from_arrays([pa.array([1, 2]), pa.array(["x", "y"])], names=["a", "a"])
    fields = ET.fromstring(write("votable", tab)).iter(f"{NS}FIELD")
    assert [f.get("name") for f in fields] == ["a", "a"]
    assert write("csv", tab).startswith(b"a,a\n")
    assert Table.read(io.BytesIO(write("fits", tab))).colnames == ["a", "a_2"]
    back = pq.read_table(io.BytesIO(write("parquet", tab)))
    assert back.column_names == ["a", "a_2"] and back.column("a_2").to_pylist() == ["x", "y"]


def test_a_reader_sees_the_same_rows_in_every_format(table: pa.Table) -> None:
    """One column through every format: independent readers agree on every value."""
    tab = table.select(["i64", "f64", "s"])
    got: dict[str, list[Any]] = {}
    got["csv"] = canon(read_delimited_simple(write("csv", tab)))
    got["votable-binary2"] = column_values(
        parse_votable(write("votable-binary2", tab)).get_first_table().to_table()["i64"]
    )
    got["parquet"] = pq.read_table(io.BytesIO(write("parquet", tab))).column("i64").to_pylist()
    got["arrow"] = pa.ipc.open_stream(write("arrow", tab)).read_all().column("i64").to_pylist()
    got["json"] = [row[0] for row in json.loads(write("json", tab))["data"]]
    got["fits"] = column_values(Table.read(io.BytesIO(write("fits", tab)))["i64"])
    for fmt, values in got.items():
        assert values == DATA["i64"][1], fmt


def read_delimited_simple(data: bytes) -> list[Any]:
    back = pacsv.read_csv(io.BytesIO(data), convert_options=pacsv.ConvertOptions(
        column_types={"i64": pa.int64()}))  # fmt: skip
    return back.column("i64").to_pylist()


# --- streaming ------------------------------------------------------------------------------


class CountingSink(io.RawIOBase):
    """Discards bytes, counting them and the Arrow memory in use at each write."""

    def __init__(self) -> None:
        self.bytes = 0
        self.arrow_peak = 0

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        n = memoryview(b).nbytes
        self.bytes += n
        self.arrow_peak = max(self.arrow_peak, pa.total_allocated_bytes())
        return n


STREAM_BATCHES, STREAM_ROWS = 50, 100_000


def stream_batches(seed: int) -> Iterator[pa.RecordBatch]:
    """Fresh arrays for every batch, so a writer that kept them would grow."""
    rng = np.random.default_rng(seed)
    kinds = pa.array(["STAR", "GALAXY", "QSO"])
    for i in range(STREAM_BATCHES):
        start = i * STREAM_ROWS
        codes = pa.array(rng.integers(0, 3, STREAM_ROWS, dtype=np.int8))
        yield pa.RecordBatch.from_pydict({
            "id": np.arange(start, start + STREAM_ROWS, dtype=np.int64),
            "ra": rng.uniform(0, 360, STREAM_ROWS),
            "dec": rng.uniform(-90, 90, STREAM_ROWS),
            "mag": rng.uniform(14, 24, STREAM_ROWS).astype(np.float32),
            "kind": pa.DictionaryArray.from_arrays(codes, kinds).cast(pa.string()),
            "flag": rng.integers(0, 2, STREAM_ROWS).astype(bool),
        })  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(
    "fmt", ["csv", "votable", "votable-binary2", "fits", "parquet", "arrow", "json"]
)
def test_writers_stream_in_bounded_memory(fmt: str) -> None:
    first = next(stream_batches(0))
    total = first.nbytes * STREAM_BATCHES  # ~170 MB as Arrow, more as text
    sink = CountingSink()
    baseline = pa.total_allocated_bytes()
    tracemalloc.start()
    try:
        rows = write_result(fmt, first.schema, stream_batches(0), sink)
        _, python_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows == STREAM_BATCHES * STREAM_ROWS
    assert sink.bytes > total / 2  # the data really went through
    arrow_peak = sink.arrow_peak - baseline
    mb = 1e6
    print(f"{fmt}: {total / mb:.0f} MB, peaks {python_peak / mb:.1f} / {arrow_peak / mb:.1f} MB")
    assert python_peak < total / 5, (python_peak, total)
    assert arrow_peak < total / 5, (arrow_peak, total)


def test_binary2_of_fixed_width_rows_in_batches_not_a_multiple_of_three():
    # Every cell fixed width: each batch reaches the base64 stream as a 2-D block of rows.
    # Carrying leftover rows instead of leftover bytes once padded the stream mid-way,
    # and readers stopped there.
    schema = pa.schema([("a", pa.int64()), ("b", pa.float64())])
    batches = [
        pa.record_batch([pa.array(range(i, i + n)), pa.array([0.5] * n)], schema=schema)
        for i, n in ((0, 4), (4, 5), (9, 7), (16, 1))
    ]
    out = io.BytesIO()
    write_result("votable-binary2", schema, iter(batches), out)
    table = astropy_votable.parse_single_table(io.BytesIO(out.getvalue())).to_table()
    assert list(table["a"]) == list(range(17))
    stream = out.getvalue().split(b'base64">')[1].split(b"</STREAM>")[0].strip()
    assert b"=" not in stream[:-2]
