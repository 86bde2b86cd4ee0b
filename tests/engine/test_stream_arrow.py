"""The streamed Arrow answer: rows in pieces, then a trailer with the count and overflow,
or the error that struck after the first piece went out."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pytest

from skydock.client.convert import read_arrow_stream
from skydock.engine.formats import stream_result_arrow
from skydock.errors import QueryTimeoutError

SCHEMA = pa.schema([("x", pa.int64())])


def batches(n: int, fail_after: int | None = None) -> Iterator[pa.RecordBatch]:
    for i in range(n):
        if fail_after is not None and i == fail_after:
            raise QueryTimeoutError("the query ran longer than 1 s and was stopped")
        yield pa.record_batch([pa.array(range(i * 100_000, (i + 1) * 100_000))], schema=SCHEMA)


def test_rows_then_trailer() -> None:
    pieces = list(stream_result_arrow(SCHEMA, batches(30), overflow=True))
    assert len(pieces) > 1  # sent in pieces, not at the end
    table, trailer = read_arrow_stream(pa.py_buffer(b"".join(pieces)))
    assert table.num_rows == 3_000_000
    assert table["x"].to_pylist()[-1] == 2_999_999
    assert trailer == {"skydock.rows": "3000000", "skydock.overflow": "true"}


def test_late_error_goes_in_the_trailer() -> None:
    body = b"".join(
        stream_result_arrow(SCHEMA, batches(30, fail_after=20), describe=lambda e: str(e))
    )
    table, trailer = read_arrow_stream(pa.py_buffer(body))
    assert table.num_rows == 2_000_000
    assert trailer == {
        "skydock.rows": "2000000",
        "skydock.error": "the query ran longer than 1 s and was stopped",
    }


def test_client_raises_on_a_cut_stream() -> None:
    from skydock.client.core import _check_trailer
    from skydock.client.errors import QueryError, ServiceConnectionError

    with pytest.raises(QueryError, match="longer than 1 s"):
        _check_trailer({"skydock.rows": "5", "skydock.error": "longer than 1 s"})
    with pytest.raises(ServiceConnectionError):
        _check_trailer({})
    assert _check_trailer({"skydock.rows": "5", "skydock.overflow": "false"}) is False
