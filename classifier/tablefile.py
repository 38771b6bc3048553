"""Tables → files: CSV, JSON, JSON Lines and Parquet, written the same way by every command.

- CSV: the cells as ``csvtext`` writes them (formula cells defused); Parquet keeps the exact values.
- JSON: a list of objects; JSON Lines: one object per line; NA → null.
- Bulky internal columns (raw payload prefixes) are never written: see ``schema.for_export``.
- Chain of custody: with ``custody`` (kubewire's version, every input's path, size and
  SHA-256, the filters), a sidecar ``<file>.custody.json`` is written next to the table.
- Streaming: ``TableWriter`` appends a table batch by batch (CSV, JSON Lines, Parquet) in
  bounded memory; ``write_table`` is one batch through it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Final, Self

import pyarrow as pa

from classifier import schema
from classifier.csvtext import FORMULA_START as FORMULA_START
from classifier.csvtext import csv_header, write_csv_rows
from classifier.csvtext import jsonable as jsonable
from classifier.csvtext import write_csv as write_csv
from classifier.errors import OutputError

if TYPE_CHECKING:  # frames load pandas; CSV from Arrow tables runs without it
    import pandas as pd

SUFFIXES: Final = (".csv", ".json", ".jsonl", ".parquet")
STREAMED: Final = (".csv", ".jsonl", ".parquet")
"""Suffixes ``TableWriter`` appends to batch by batch (a JSON array only ends with the table)."""
PARQUET_ROWS: Final = 65_536
"""Rows buffered into one Parquet row group when streaming: small batches are merged, and a
flow table of this many rows is some tens of MB in memory."""


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Frame → a list of JSON-ready dicts, one per row."""
    return [{str(k): jsonable(v) for k, v in r.items()} for r in frame.to_dict("records")]


def write_json(obj: Any, path: Path) -> None:
    """Any JSON-able object (frames become a list of objects) → an indented JSON file."""
    pd = sys.modules.get("pandas")  # not loaded: obj cannot be a frame
    data = records(obj) if pd is not None and isinstance(obj, pd.DataFrame) else jsonable(obj)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n",
                    encoding="utf-8")


def write_jsonl(frame: pd.DataFrame, path: Path) -> None:
    """Frame → JSON Lines, one object per row."""
    with path.open("w", encoding="utf-8") as fh:
        _write_jsonl_rows(frame, fh)


def _write_jsonl_rows(frame: pd.DataFrame, fh: IO[str]) -> None:
    """Frame → one JSON object per row appended to ``fh``."""
    for rec in records(frame):
        fh.write(json.dumps(rec, ensure_ascii=False, allow_nan=False) + "\n")


def custody_path(out: Path) -> Path:
    """Output file → the path of its chain-of-custody sidecar."""
    return out.with_name(out.name + ".custody.json")


def write_custody(out: Path, custody: dict[str, Any]) -> Path:
    """Output file + custody facts → the sidecar ``<file>.custody.json`` (also for the table's
    own hash, so a later reader can tell the table was not edited)."""
    import hashlib

    facts = dict(custody)
    with out.open("rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    facts["output"] = {"path": str(out), "size": out.stat().st_size, "sha256": digest}
    target = custody_path(out)
    try:
        write_json(facts, target)
    except OSError as exc:
        raise OutputError(f"{target}: cannot write: {exc.strerror or exc}") from None
    return target


class TableWriter:
    """Batches of a schema table → one file in the format of its suffix (.csv, .jsonl, .parquet),
    appended batch by batch so a table of any length is written in bounded memory.

    Each batch is conformed to ``spec`` and only its exported columns are written. CSV and JSON
    Lines come out byte-identical to ``write_table`` on the whole frame, however it is split.
    Parquet column types are fixed by the declared dtypes (categories hold strings); object
    columns take the type of the first row group, and a later batch that needs another type
    raises OutputError. Categories read back in first-seen order, not sorted.

    As a context manager, an exception inside the block deletes the partial file. Raises
    OutputError for an unknown or non-streamable suffix and for a file that cannot be written.
    """

    rows: int
    """Rows written so far (Parquet: including the rows buffered for the next row group)."""

    def __init__(self, out: Path, spec: schema.Table, suffixes: tuple[str, ...] = SUFFIXES) -> None:
        suffix = out.suffix.lower()
        if suffix not in suffixes or suffix not in (*STREAMED, ".json"):
            raise _unknown_format(out, suffixes)
        if suffix == ".json":
            raise OutputError(f"{out}: a JSON array cannot be streamed (use .jsonl)")
        self.out = out
        self.spec = spec
        self.suffix = suffix
        self.rows = 0
        self._closed = False
        self._pending: list[Any] = []
        self._pending_rows = 0
        self._parquet: Any = None
        self._schema: Any = None
        self._types: dict[str, Any] = {}
        self._arrow_schema: Any = None  # what Arrow batches must be: made at the first one
        if suffix == ".parquet":
            self._types = _declared_arrow_types(spec)
        with _output_errors(out):
            self._fh = _open(out, suffix)
        if suffix == ".csv":
            with self._discarding(), _output_errors(out):
                self._fh.write(csv_header(spec.export_names))

    def write(self, frame: pd.DataFrame | pa.Table) -> None:
        """A batch of rows → appended to the file after the earlier batches.

        A batch may also be a ``pyarrow.Table`` with exactly the table's columns as
        ``schema.arrow_table`` types them (CSV only: the same text as the frame it stands
        for, and pandas is never loaded)."""
        if self._closed:
            raise ValueError(f"{self.out}: write to a closed TableWriter")
        if isinstance(frame, pa.Table):
            self._write_arrow(frame)
            return
        if not schema.conforms(frame, self.spec):
            # a 0-based index lets a slice of a conformed frame skip conform's column-by-column path
            frame = schema.conform(frame.reset_index(drop=True), self.spec)
        with _output_errors(self.out):
            if self.suffix == ".csv":  # the exported columns read in place: no new frame
                write_csv_rows(frame, self._fh, self.spec.export_names)
            elif self.suffix == ".jsonl":
                _write_jsonl_rows(schema.for_export(frame, self.spec), self._fh)
            else:
                self._pending.append(self._arrow(schema.for_export(frame, self.spec)))
                self._pending_rows += len(frame)
                if self._pending_rows >= PARQUET_ROWS:
                    self._flush()
        self.rows += len(frame)

    def _write_arrow(self, table: pa.Table) -> None:
        if self.suffix != ".csv":
            raise TypeError(f"{self.out}: Arrow batches are written to CSV only (pass a frame)")
        if self._arrow_schema is None:
            self._arrow_schema = schema.arrow_table({}, 0, self.spec).schema
        if table.schema != self._arrow_schema:
            raise ValueError(f"{self.spec.name}: an Arrow batch must have the table's columns "
                             "as schema.arrow_table types them")
        with _output_errors(self.out):
            write_csv_rows(table, self._fh, self.spec.export_names)
        self.rows += table.num_rows

    def close(self) -> None:
        """Finish the file (Parquet: the buffered rows and the footer); closing again does nothing.

        A file that cannot be finished is deleted (OutputError).
        """
        if self._closed:
            return
        with self._discarding(), _output_errors(self.out):
            if self.suffix == ".parquet":
                self._flush()
                self._parquet.close()
            self._fh.close()
        self._closed = True

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self._discard()

    def _discard(self) -> None:
        """Close without finishing and delete the partial file."""
        self._closed = True
        with suppress(OSError, ValueError, pa.ArrowException):
            if self._parquet is not None:
                self._parquet.close()
        with suppress(OSError):
            self._fh.close()
        self.out.unlink(missing_ok=True)

    @contextmanager
    def _discarding(self) -> Iterator[None]:
        """Any exception in the block → the partial file deleted, then the exception re-raised."""
        try:
            yield
        except BaseException:
            self._discard()
            raise

    def _arrow(self, batch: pd.DataFrame) -> Any:
        """Exported batch → an Arrow table with the file's column types (before the file has them:
        the declared types, and the inferred type of object columns)."""
        table = pa.Table.from_pandas(batch, preserve_index=False)
        if batch.attrs:  # as pandas' to_parquet stores them (findings carry rule_errors)
            table = table.replace_schema_metadata(
                {**table.schema.metadata, b"PANDAS_ATTRS": json.dumps(batch.attrs)})
        if self._schema is None:
            return table.cast(pa.schema(
                [pa.field(f.name, self._types.get(f.name, f.type)) for f in table.schema],
                metadata=table.schema.metadata))
        try:
            return table.cast(self._schema)
        except pa.ArrowException as exc:
            raise OutputError(f"{self.out}: cannot write: a batch does not fit the column types of "
                              f"the first Parquet row group ({exc})") from None

    def _flush(self) -> None:
        """Buffered batches → one row group; the first one fixes the file's schema."""
        if self._parquet is None:
            if not self._pending:
                self._pending.append(self._arrow(schema.for_export(schema.empty(self.spec),
                                                                   self.spec)))
            # null-typed object columns (all None so far) take the type of any batch with values
            self._schema = pa.unify_schemas([t.schema for t in self._pending])
            import pyarrow.parquet as pq  # ~25 ms and ~5 MB: only when writing Parquet

            self._parquet = pq.ParquetWriter(self._fh, self._schema)
        elif not self._pending_rows:
            return
        table = pa.concat_tables([t.cast(self._schema) for t in self._pending])
        self._pending, self._pending_rows = [], 0
        self._parquet.write_table(table)


def _open(out: Path, suffix: str) -> IO[Any]:
    """Output file → opened as ``write_csv`` / ``write_jsonl`` open it, or binary for Parquet."""
    if suffix == ".parquet":
        return out.open("wb")
    return out.open("w", encoding="utf-8", newline="" if suffix == ".csv" else None)


def _declared_arrow_types(spec: schema.Table) -> dict[str, Any]:
    """Table → the Arrow type of each exported column with a declared dtype (not object ones).

    Category columns become dictionaries of strings with 32-bit indices: from the data, an
    all-NA batch would give a dictionary of nulls, and over 127 categories 16-bit indices.
    """
    empty = schema.for_export(schema.empty(spec), spec)
    types: dict[str, Any] = {}
    for field in pa.Schema.from_pandas(empty, preserve_index=False):
        if spec.dtypes[field.name] == "object":
            continue
        types[field.name] = pa.dictionary(pa.int32(), pa.large_string()) \
            if pa.types.is_dictionary(field.type) else field.type
    return types


def _unknown_format(out: Path, suffixes: tuple[str, ...]) -> OutputError:
    return OutputError(f"{out}: unknown output format (use {', '.join(suffixes)})")


@contextmanager
def _output_errors(out: Path) -> Iterator[None]:
    """OSError or an Arrow conversion error while writing ``out`` → OutputError."""
    try:
        yield
    except OSError as exc:
        raise OutputError(f"{out}: cannot write: {exc.strerror or exc}") from None
    except pa.ArrowException as exc:
        raise OutputError(f"{out}: cannot write: {exc}") from None


def write_table(frame: pd.DataFrame, spec: schema.Table, out: Path,
                suffixes: tuple[str, ...] = SUFFIXES, *,
                custody: dict[str, Any] | None = None) -> None:
    """A schema table + file name → the exported columns written in the format of its suffix,
    plus the custody sidecar when ``custody`` is given.

    Raises OutputError for a suffix not in ``suffixes`` or a file that cannot be written.
    """
    if out.suffix.lower() not in suffixes:
        raise _unknown_format(out, suffixes)
    # conformed before the file is opened: a frame that breaks the schema leaves ``out`` as it was
    conformed = schema.conform(frame, spec)
    if out.suffix.lower() == ".json":
        with _output_errors(out):
            write_json(schema.for_export(conformed, spec), out)
    else:
        with TableWriter(out, spec, suffixes) as writer:
            writer.write(conformed)  # conforms again on the fast path, then exports
    if custody is not None:
        write_custody(out, custody)
