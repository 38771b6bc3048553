"""Schemas are declared once and every table is complete, even empty."""

from __future__ import annotations

import pandas as pd
import pytest

from classifier import schema


@pytest.mark.parametrize("table", list(schema.ALL_TABLES.values()), ids=lambda t: t.name)
def test_empty_has_every_column_and_dtype(table: schema.Table) -> None:
    df = schema.empty(table)
    assert list(df.columns) == table.names
    for c in table.columns:
        assert str(df[c.name].dtype) == c.dtype, c.name


@pytest.mark.parametrize("table", list(schema.ALL_TABLES.values()), ids=lambda t: t.name)
def test_conform_fills_missing_columns_with_their_dtype(table: schema.Table) -> None:
    first = table.columns[0]
    value = "x" if first.dtype in ("string", "category", "object") else None
    rows = [{first.name: value}] if value is not None else [{}]
    df = schema.conform(rows, table)
    assert len(df) == 1 and list(df.columns) == table.names
    for c in table.columns:
        assert str(df[c.name].dtype) == c.dtype, c.name


DTYPES = sorted({c.dtype for t in schema.ALL_TABLES.values() for c in t.columns})
MARKERS = {schema.UTC_TS: pd.NaT, "object": None, "float64": float("nan")}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [0, 1, 5000])
def test_filled_columns_hold_only_their_missing_marker(dtype: str, n: int) -> None:
    got = schema.na_column(dtype, n)
    assert str(got.dtype) == dtype and len(got) == n and got.isna().all()
    assert isinstance(got.index, pd.RangeIndex) and got.index.start == 0
    marker = MARKERS.get(dtype, pd.NA)
    if dtype == "float64":
        assert all(v != v for v in got)
    elif dtype == "category":  # no categories, like an empty table's column
        assert list(got.cat.categories) == [] and (got.cat.codes == -1).all()
        assert got.cat.categories.dtype == schema.empty(schema.STATS)["outcome"].cat.categories.dtype
    else:
        assert all(v is marker for v in got)


def test_conform_rejects_unknown_columns() -> None:
    with pytest.raises(ValueError, match="not in the schema"):
        schema.conform([{"uid": "C1", "bogus": 1}], schema.FLOWS)


def test_names_are_unique_and_export_drops_payload() -> None:
    for table in schema.ALL_TABLES.values():
        assert len(set(table.names)) == len(table.names), table.name
    exported = schema.for_export(schema.empty(schema.FLOWS), schema.FLOWS)
    assert "orig_payload" not in exported.columns and "uid" in exported.columns
    assert isinstance(exported, pd.DataFrame)


@pytest.mark.parametrize(("value", "missing"), [
    (None, True), (pd.NA, True), (pd.NaT, True), (float("nan"), True),
    (0, False), (0.0, False), ("", False), ("NaN", False), (pd.Timestamp(0, tz="UTC"), False),
])
def test_is_missing_knows_every_missing_value_marker(value: object, missing: bool) -> None:
    assert schema.is_missing(value) is missing


def test_empty_frames_are_new_each_time() -> None:
    first = schema.empty(schema.TLS)
    first["sni"] = pd.Series(["changed"], dtype="string").iloc[:0]
    first.attrs["x"] = 1
    first.insert(0, "extra", pd.Series([], dtype=object))
    again = schema.empty(schema.TLS)
    assert list(again.columns) == schema.TLS.names and not again.attrs and again is not first


def test_empty_tables_of_one_name_keep_their_own_dtypes() -> None:
    as_text = schema.Table("adhoc", (schema.Column("x", "string", ""),))
    as_time = schema.Table("adhoc", (schema.Column("x", schema.UTC_TS, ""),))
    assert str(schema.empty(as_text)["x"].dtype) == "string"
    assert str(schema.empty(as_time)["x"].dtype) == schema.UTC_TS


def test_frame_of_places_columns_by_position_and_keeps_object_columns() -> None:
    columns = {
        "text": pd.Series(["a", None], dtype="string", index=[7, 3]),
        "obj": pd.Series(["x", ["y"]], dtype=object, index=[5, 6]),
        "objtext": pd.Series(["p", "q"], dtype=object),
        "n": pd.Series([1, None], dtype="UInt32"),
        "ts": pd.Series(pd.to_datetime([0, None], utc=True), index=[1, 0]),
    }
    got = schema.frame_of(columns, 2)
    want = pd.DataFrame({k: s.reset_index(drop=True) for k, s in columns.items()})
    pd.testing.assert_frame_equal(got, want)
    assert got["objtext"].dtype == object and isinstance(got.index, pd.RangeIndex)


def test_conform_of_a_frame_with_another_index_resets_it_and_fills_the_rest() -> None:
    frame = pd.DataFrame({"capture": ["a.pcap", "b.pcap"], "packets": [3, 4]}, index=[10, 4])
    got = schema.conform(frame, schema.INPUTS)
    assert schema.conforms(got, schema.INPUTS) and not schema.conforms(frame, schema.INPUTS)
    assert got["capture"].tolist() == ["a.pcap", "b.pcap"] and got["packets"].tolist() == [3, 4]
    assert got["sha256"].isna().all() and got["first_ts"].isna().all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_arrow_columns_of_every_dtype_hold_nulls_where_frames_hold_na(dtype: str) -> None:
    import pyarrow as pa

    kind = schema.arrow_type(dtype)
    nulls = schema.arrow_column(None, dtype, 3)
    assert nulls.type == kind and nulls.null_count == 3
    samples = {"string": ["a", None], "category": ["tcp", None], "boolean": [True, None],
               "float64": [1.5, float("nan")], "UInt16": [443, None], "UInt32": [7, None],
               "UInt64": [2**40, None], schema.UTC_TS: [1_700_000_000_123_456_789, None],
               "object": [b"\x16\x03", None]}
    got = schema.arrow_column(samples[dtype], dtype)
    assert got.type == kind and got.null_count == 1 and got[1].as_py() is None
    chunked = pa.chunked_array([got.slice(0, 1), got.slice(1)])
    assert schema.arrow_column(chunked, dtype).equals(got)


def test_arrow_text_columns_take_str_of_other_values_as_astype_string_does() -> None:
    import numpy as np

    values = np.array(["a", 5, None, float("nan"), 2.5], dtype=object)
    got = schema.arrow_column(values, "string").to_pylist()
    assert got == ["a", "5", None, None, "2.5"]
    assert got == [None if pd.isna(v) else v for v in pd.Series(values).astype("string")]


def test_arrow_columns_refuse_values_that_do_not_fit() -> None:
    with pytest.raises(ValueError, match="UInt16"):
        schema.arrow_column([70000], "UInt16")
    with pytest.raises(ValueError, match="boolean"):
        schema.arrow_column(["yes"], "boolean")


def test_arrow_table_has_every_column_in_order_and_rejects_unknown_ones() -> None:
    table = schema.arrow_table({"packets": [3, 4], "capture": ["a", "b"]}, 2, schema.STATS)
    assert table.column_names == schema.STATS.names and table.num_rows == 2
    assert table["outcome"].null_count == 2 and table["packets"].to_pylist() == [3, 4]
    with pytest.raises(ValueError, match="not in the schema"):
        schema.arrow_table({"bogus": [1]}, 1, schema.STATS)
