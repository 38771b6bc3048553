"""Table files: one writer for every command, streamed batch by batch, with a custody sidecar
(the CSV cells themselves: test_csvtext)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pandas as pd
import pytest

from classifier import csvtext, schema, tablefile
from classifier.errors import OutputError
from classifier.tablefile import jsonable, write_table
from tests.test_csvtext import formula_hosts


def test_parquet_keeps_exact_values(tmp_path: Path) -> None:
    out = tmp_path / "hosts.parquet"
    write_table(formula_hosts(), schema.HOSTS, out)
    assert pd.read_parquet(out).loc[1, "name"] == "@SUM(A1)"


def test_json_and_jsonl_are_objects_with_nulls(tmp_path: Path) -> None:
    write_table(formula_hosts(), schema.HOSTS, tmp_path / "h.json")
    rows = json.loads((tmp_path / "h.json").read_text())
    assert rows[0]["ip"] == "10.0.0.1" and rows[1]["flows"] is None
    write_table(formula_hosts(), schema.HOSTS, tmp_path / "h.jsonl")
    lines = (tmp_path / "h.jsonl").read_text().splitlines()
    assert [json.loads(x)["ip"] for x in lines] == ["10.0.0.1", "10.0.0.2"]


def test_payload_columns_are_never_written(tmp_path: Path) -> None:
    flows = schema.conform([{"uid": "C1", "orig_payload": b"Authorization: Bearer s3cr3t"}],
                           schema.FLOWS)
    write_table(flows, schema.FLOWS, tmp_path / "f.csv")
    assert b"s3cr3t" not in (tmp_path / "f.csv").read_bytes()


def test_unknown_suffix_and_unwritable_path(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="unknown output format"):
        write_table(formula_hosts(), schema.HOSTS, tmp_path / "h.xlsx")
    with pytest.raises(OutputError, match="cannot write"):
        write_table(formula_hosts(), schema.HOSTS, tmp_path / "missing" / "h.csv")


def test_jsonable_values() -> None:
    assert jsonable(pd.NA) is None and jsonable(float("nan")) is None
    assert jsonable(pd.Timestamp("2024-01-01", tz="UTC")) == "2024-01-01T00:00:00+00:00"
    assert jsonable(b"\x01\x02") == "0102" and jsonable({"a": [1, pd.NA]}) == {"a": [1, None]}


def test_custody_sidecar_names_inputs_and_hashes_the_table(tmp_path: Path) -> None:
    import hashlib

    out = tmp_path / "hosts.csv"
    facts = {"kubewire_version": "0.1.0",
             "inputs": [{"capture": "a.pcap", "size": 24, "sha256": "ab" * 32}], "filters": {}}
    write_table(formula_hosts(), schema.HOSTS, out, custody=facts)
    side = json.loads((tmp_path / "hosts.csv.custody.json").read_text())
    assert side["inputs"] == facts["inputs"] and side["kubewire_version"] == "0.1.0"
    assert side["output"]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()


def _flow_records(n: int, start: int = 0) -> list[dict[str, object]]:
    """n realistic flow rows: every dtype, NA cells, text to quote and defuse, unicode, and a
    tunnel column NA for the first 3000 rows (a category all-NA in early batches)."""
    rows: list[dict[str, object]] = []
    for i in range(start, start + n):
        tls = i % 3 != 2
        rows.append({
            "uid": f"C{i:017d}",
            "ts": pd.Timestamp(1_793_534_405_000_000_000 + i * 250_001_000 + (i % 7), tz="UTC"),
            "duration": float("nan") if i % 11 == 0 else i / 7,
            "orig_h": f"10.0.{i % 256}.{i % 7 + 1}", "orig_p": 32768 + i % 28000,
            "resp_h": "fd00::1" if i % 5 == 0 else "10.96.0.1",
            "resp_p": (6443, 10250, 2379, 53)[i % 4], "proto": "udp" if i % 4 == 3 else "tcp",
            "orig_pkts": i % 90, "resp_pkts": None if i % 13 == 0 else i % 50,
            "orig_bytes": i * 1021, "resp_bytes": 2**40 + i,
            "conn_state": ("SF", "S0", "REJ", "RSTO")[i % 4], "history": "ShADadFf"[: i % 8 + 1],
            "orig_guessed": None if i % 17 == 0 else i % 2 == 0,
            "vlan": "100.200" if i % 29 == 0 else None,
            "tunnel": "vxlan" if i >= 3000 and i % 2 else None,
            "tunnel_id": 4096 if i >= 3000 and i % 2 else None,
            "capture": "lab/node a,b.pcap", "first_frame": i + 1, "last_frame": i + 40,
            "app_proto": "tls" if tls else "http",
            "tls_sni": "kübelet.example" if tls else None,
            "http_path": None if tls else ("=cmd|'/C calc'!A0", '/api/v1/"pods"', "/logs\nx")[i % 3],
            "http_user_agent": None if tls else "kubelet/v1.30.2 (linux/amd64) kubernetes/abc,def",
            "http_status": None if tls else 200 + i % 300, "plaintext": not tls,
            "path": "apiserver-to-kubelet", "client_role": "apiserver", "server_role": "node",
            "auth": "mtls" if tls else "none", "path_confidence": (i % 10) / 10,
            "path_evidence": "port 10250; SNI", "orig_payload": b"Authorization: Bearer s3cr3t",
        })
    return rows


def _flows(n: int) -> pd.DataFrame:
    frame = schema.conform(_flow_records(n), schema.FLOWS)
    frame.loc[1, "orig_bytes"] = 2**64 - 1  # beyond float64's exact integers
    return frame


def _stream(out: Path, batches: list[pd.DataFrame], spec: schema.Table = schema.FLOWS) -> None:
    with tablefile.TableWriter(out, spec) as writer:
        for batch in batches:
            writer.write(batch)
    assert writer.rows == sum(len(b) for b in batches)


def _split(frame: pd.DataFrame, sizes: tuple[int, ...]) -> list[pd.DataFrame]:
    assert sum(sizes) == len(frame)
    bounds = [sum(sizes[:k]) for k in range(len(sizes) + 1)]
    return [frame.iloc[a:b] for a, b in itertools.pairwise(bounds)]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_streamed_text_is_byte_identical_to_write_table(tmp_path: Path, suffix: str) -> None:
    """Batch boundaries on, off and across the CSV_ROWS=4096 steps; empty and 1-row batches."""
    flows = _flows(4500)
    write_table(flows, schema.FLOWS, tmp_path / f"whole{suffix}")
    whole = (tmp_path / f"whole{suffix}").read_bytes()
    assert whole.count(b"\n") >= 4500 and b"s3cr3t" not in whole
    for sizes in [(4500,), (0, 1, 1, 0, 4095, 1, 0, 402), (1000, 1000, 1000, 1000, 500), (4097, 403)]:
        _stream(tmp_path / f"parts{suffix}", _split(flows, sizes))
        assert (tmp_path / f"parts{suffix}").read_bytes() == whole, sizes


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_streamed_text_in_one_row_batches_across_small_steps(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str) -> None:
    monkeypatch.setattr(csvtext, "CSV_ROWS", 7)
    flows = _flows(200)
    write_table(flows, schema.FLOWS, tmp_path / f"whole{suffix}")
    _stream(tmp_path / f"parts{suffix}", _split(flows, (1,) * 30 + (0, 13, 0, 157)))
    assert (tmp_path / f"parts{suffix}").read_bytes() == (tmp_path / f"whole{suffix}").read_bytes()


def _sorted_categories(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.apply(lambda s: s.cat.reorder_categories(sorted(s.cat.categories))
                       if isinstance(s.dtype, pd.CategoricalDtype) else s)


def test_parquet_streamed_reads_back_like_write_table(tmp_path: Path) -> None:
    flows = _flows(4500)
    write_table(flows, schema.FLOWS, tmp_path / "whole.parquet")
    _stream(tmp_path / "parts.parquet", _split(flows, (0, 1, 2999, 0, 1500)))
    whole = pd.read_parquet(tmp_path / "whole.parquet")
    assert list(whole.columns) == schema.FLOWS.export_names
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "parts.parquet"), whole)


def test_parquet_column_all_na_in_first_row_group_then_values(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches conformed one by one (as the CLI makes them): in the first, the category column
    ``tunnel`` and the integer ``tunnel_id`` hold only NA; the row group is written before the
    next batch, whose values must still fit the file's schema."""
    monkeypatch.setattr(tablefile, "PARQUET_ROWS", 1)
    records = _flow_records(3100, start=0)
    batches = [schema.conform(records[:2000], schema.FLOWS),
               schema.conform(records[2000:3000], schema.FLOWS),
               schema.conform(records[3000:], schema.FLOWS)]
    assert batches[0]["tunnel"].isna().all() and batches[2]["tunnel"].notna().any()
    _stream(tmp_path / "parts.parquet", batches)
    write_table(schema.conform(records, schema.FLOWS), schema.FLOWS, tmp_path / "whole.parquet")
    parts = pd.read_parquet(tmp_path / "parts.parquet")
    whole = pd.read_parquet(tmp_path / "whole.parquet")
    assert parts.dtypes.equals(whole.dtypes) and isinstance(parts["tunnel"].dtype, pd.CategoricalDtype)
    assert parts["tunnel"].iloc[-1] == "vxlan" and parts["tunnel_id"].iloc[-1] == 4096
    # categories come back in first-seen order; whole-frame ones are sorted
    pd.testing.assert_frame_equal(_sorted_categories(parts), _sorted_categories(whole))


def _findings(references: list[object]) -> pd.DataFrame:
    return schema.conform([{"id": f"RULE_{i}", "severity": "high", "references": r}
                           for i, r in enumerate(references)], schema.FINDINGS)


def test_parquet_object_column_takes_its_type_from_the_first_row_group(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An object column all None so far is typed by a later batch buffered into the same row
    group; once a row group fixed it as null, a batch with values is an OutputError, no file."""
    batches = [_findings([None, None]), _findings([["CIS 4.2.1", "KHV052"]])]
    _stream(tmp_path / "parts.parquet", batches, schema.FINDINGS)
    write_table(pd.concat(batches, ignore_index=True), schema.FINDINGS, tmp_path / "whole.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "parts.parquet"),
                                  pd.read_parquet(tmp_path / "whole.parquet"))
    monkeypatch.setattr(tablefile, "PARQUET_ROWS", 1)
    with pytest.raises(OutputError, match="first Parquet row group"):
        _stream(tmp_path / "late.parquet", batches, schema.FINDINGS)
    assert not (tmp_path / "late.parquet").exists()


def test_parquet_keeps_frame_attrs_as_to_parquet_did(tmp_path: Path) -> None:
    findings = _findings([["KHV052"]])
    findings.attrs["rule_errors"] = {"BOOM": "RuntimeError: broken rule"}
    write_table(findings, schema.FINDINGS, tmp_path / "f.parquet")
    assert pd.read_parquet(tmp_path / "f.parquet").attrs == findings.attrs


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_writer_without_batches_writes_the_empty_table(tmp_path: Path, suffix: str) -> None:
    with tablefile.TableWriter(tmp_path / f"none{suffix}", schema.FLOWS) as writer:
        pass
    assert writer.rows == 0
    write_table(schema.empty(schema.FLOWS), schema.FLOWS, tmp_path / f"empty{suffix}")
    none, empty = tmp_path / f"none{suffix}", tmp_path / f"empty{suffix}"
    if suffix == ".parquet":
        back = pd.read_parquet(none)
        assert list(back.columns) == schema.FLOWS.export_names and back.empty
        pd.testing.assert_frame_equal(back, pd.read_parquet(empty))
    else:
        assert none.read_bytes() == empty.read_bytes()
        assert none.read_text() == ("" if suffix == ".jsonl"
                                    else ",".join(schema.FLOWS.export_names) + "\n")


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_exception_in_the_block_deletes_the_partial_file(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"f{suffix}"
    out.write_text("an older table")
    flows = _flows(50)
    with pytest.raises(RuntimeError, match="capture vanished"), \
            tablefile.TableWriter(out, schema.FLOWS) as writer:
        writer.write(flows.iloc[:20])
        raise RuntimeError("capture vanished")
    assert not out.exists()
    writer.close()  # closing again does nothing
    assert not out.exists()


def test_writer_rejects_unknown_and_unstreamable_suffixes_and_unwritable_paths(
        tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="unknown output format"):
        tablefile.TableWriter(tmp_path / "f.xlsx", schema.FLOWS)
    with pytest.raises(OutputError, match="unknown output format"):
        tablefile.TableWriter(tmp_path / "f.parquet", schema.FLOWS, (".csv",))
    with pytest.raises(OutputError, match="cannot be streamed"):
        tablefile.TableWriter(tmp_path / "f.json", schema.FLOWS)
    with pytest.raises(OutputError, match="cannot write"):
        tablefile.TableWriter(tmp_path / "missing" / "f.csv", schema.FLOWS)
    assert list(tmp_path.iterdir()) == []


def test_write_table_leaves_the_old_file_when_the_frame_breaks_the_schema(tmp_path: Path) -> None:
    out = tmp_path / "f.csv"
    out.write_text("an older table")
    with pytest.raises(ValueError, match="not in the schema"):
        write_table(pd.DataFrame({"bogus": [1]}), schema.FLOWS, out)
    assert out.read_text() == "an older table"


def test_arrow_batches_are_written_as_csv_only_and_must_match_the_table(tmp_path: Path) -> None:
    import pyarrow as pa

    good = schema.arrow_table({"capture": ["a.pcap"], "packets": [1]}, 1, schema.STATS)
    with tablefile.TableWriter(tmp_path / "s.csv", schema.STATS) as writer:
        writer.write(good)
    assert (tmp_path / "s.csv").read_text() == "capture,outcome,reason,packets\na.pcap,,,1\n"
    assert writer.rows == 1
    with pytest.raises(TypeError, match="CSV only"), \
            tablefile.TableWriter(tmp_path / "s.jsonl", schema.STATS) as writer:
        writer.write(good)
    assert not (tmp_path / "s.jsonl").exists()  # the partial file goes
    wrong = good.set_column(3, "packets", pa.array([1], pa.int64()))
    with pytest.raises(ValueError, match="arrow_table"), \
            tablefile.TableWriter(tmp_path / "w.csv", schema.STATS) as writer:
        writer.write(wrong)
