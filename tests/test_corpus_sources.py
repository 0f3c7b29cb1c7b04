import gzip
import json
import shutil
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from textbooks.sources import (
    HF_ALIASES, default_source_dir, default_sources, parse_hf_spec, plan_units, python_files, read_unit, record_id,
)
from textbooks.records import write_shard

STDLIB = default_source_dir()
REAL_MODULES = ("textwrap.py", "colorsys.py", "json/encoder.py", "json/decoder.py", "fnmatch.py")
COLUMNS = {"id": str, "text": str, "source": str, "path": str, "row": int, "meta": str, "bytes": int}


def _read_all(units, max_bytes=1_000_000):
    return [record for unit in units for record in read_unit(unit, max_bytes)]


def _check_columns(record):
    assert {k: type(v) for k, v in record.items() if k != "reason"} == COLUMNS


def _write_jsonl(path, rows):
    text = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _stdlib_rows():
    """Rows as The Stack has them: real code in `content`, the repository's facts beside it."""
    return [{"content": (STDLIB / name).read_text(encoding="utf-8"), "max_stars_repo_name": "python/cpython",
             "max_stars_repo_path": f"Lib/{name}", "license": "PSF-2.0", "max_stars_count": 50000 + n}
            for n, name in enumerate(REAL_MODULES)]


@pytest.fixture
def code_dir(tmp_path):
    """Real stdlib modules, plus what a walk must skip: caches, hidden and installed-package dirs."""
    root = tmp_path / "code"
    for name in REAL_MODULES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(STDLIB / name, root / name)
    for skipped in ("__pycache__/cached.py", ".hidden/secret.py", "site-packages/installed.py", "json/notes.txt"):
        (root / skipped).parent.mkdir(parents=True, exist_ok=True)
        (root / skipped).write_text("x = 1\n")
    return root


def test_a_directory_is_its_py_files_in_order(code_dir):
    units = plan_units([str(code_dir)], shard_size=2)  # a directory's files, then its subdirectories'
    assert [u["kind"] for u in units] == ["files"] * 3
    records = _read_all(units)
    names = ("colorsys.py", "fnmatch.py", "textwrap.py", "json/decoder.py", "json/encoder.py")
    expected = [code_dir / n for n in names]
    assert [r["path"] for r in records] == [str(p) for p in expected]
    for record, path in zip(records, expected):
        _check_columns(record)
        assert "reason" not in record
        assert record["id"] == record_id(str(path)) and record["source"] == "local"
        assert record["text"] == path.read_text(encoding="utf-8") and record["bytes"] == path.stat().st_size
        assert record["row"] == 0 and record["meta"] == "{}"


def test_jsonl_rows_keep_their_provenance(tmp_path):
    data = _write_jsonl(tmp_path / "stack.jsonl", _stdlib_rows())
    records = _read_all(plan_units([str(data)], shard_size=2))
    assert [r["row"] for r in records] == [1, 2, 3, 4, 5]
    first = records[0]
    _check_columns(first)
    assert first["source"] == "jsonl" and first["path"] == str(data) and first["id"] == record_id(f"{data}:1")
    assert first["text"] == (STDLIB / "textwrap.py").read_text(encoding="utf-8")
    assert first["bytes"] == len(first["text"].encode("utf-8"))
    assert json.loads(first["meta"]) == {"max_stars_repo_name": "python/cpython",
                                         "max_stars_repo_path": "Lib/textwrap.py",
                                         "license": "PSF-2.0", "max_stars_count": 50000}


@pytest.mark.parametrize("name", ["rows.jsonl.gz", "rows.json"])
def test_gzipped_and_json_files_are_json_lines(tmp_path, name):
    data = _write_jsonl(tmp_path / name, [{"text": f"x = {n}\n", "repo": "r"} for n in range(7)] + ["{broken"])
    units = plan_units([str(data)], shard_size=3)
    assert [(u["start"], u["stop"]) for u in units] == [(0, 3), (3, 6), (6, 8)]
    records = _read_all(units)
    assert [r["text"] for r in records[:7]] == [f"x = {n}\n" for n in range(7)]
    assert records[7]["reason"].startswith(f"malformed ({data}:8: invalid JSON")


def test_text_field_choice(tmp_path):
    data = _write_jsonl(tmp_path / "rows.jsonl", [{"text": "a = 1\n", "content": "b = 2\n"}, {"content": "c = 3\n"},
                                                  {"body": "d = 4\n", "content": "e = 5\n"}])
    assert [r["text"] for r in _read_all(plan_units([str(data)], 10))] == ["a = 1\n", "c = 3\n", "e = 5\n"]
    chosen = _read_all(plan_units([str(data)], 10, text_field="body"))
    assert chosen[2]["text"] == "d = 4\n" and json.loads(chosen[2]["meta"]) == {"content": "e = 5\n"}
    assert [r["reason"] for r in chosen[:2]] == [f"malformed ({data}:1: no 'body' field)",
                                                 f"malformed ({data}:2: no 'body' field)"]


def test_malformed_lines_are_reported_with_file_and_line_never_dropped(tmp_path):
    data = tmp_path / "bad.jsonl"
    lines = [json.dumps({"content": "x = 1\n", "repo": "ok"}), "{not json", "[1, 2]", json.dumps({"repo": "no text"}),
             json.dumps({"content": None, "repo": "null text"}), json.dumps({"content": 7}), "",
             json.dumps({"content": "y = 2\n"})]
    data.write_bytes(("\n".join(lines) + "\n").encode() + b"\xff\xfe\n")
    records = _read_all(plan_units([str(data)], shard_size=3))
    reasons = {r["row"]: r.get("reason") for r in records}
    assert reasons == {
        1: None,
        2: f"malformed ({data}:2: invalid JSON: Expecting property name enclosed in double quotes at column 2)",
        3: f"malformed ({data}:3: a list, not an object)",
        4: f"malformed ({data}:4: no 'content' field)",
        5: f"malformed ({data}:5: 'content' is NoneType, not a string)",
        6: f"malformed ({data}:6: 'content' is int, not a string)",
        8: None,  # line 7 is blank: no row
        9: f"malformed ({data}:9: not UTF-8)",
    }
    rejected = [r for r in records if r.get("reason")]
    for record in rejected:
        _check_columns(record)
        assert record["path"] == str(data) and record["id"] == record_id(f"{data}:{record['row']}")
    assert json.loads(records[3]["meta"]) == {"repo": "no text"}  # a reject keeps its provenance


def test_parquet_row_ranges_across_row_groups(tmp_path):
    rows = _stdlib_rows() * 2
    data = tmp_path / "stack.parquet"
    pq.write_table(pa.Table.from_pylist(rows), data, row_group_size=3)
    units = plan_units([str(data)], shard_size=4)
    assert [(u["kind"], u["start"], u["stop"]) for u in units] == [("parquet", 0, 4), ("parquet", 4, 8),
                                                                    ("parquet", 8, 10)]
    records = _read_all(units)
    assert [r["row"] for r in records] == list(range(1, 11))
    assert [r["text"] for r in records] == [r["content"] for r in rows]
    assert records[6]["source"] == "parquet" and records[6]["id"] == record_id(f"{data}:7")
    assert json.loads(records[6]["meta"])["max_stars_repo_path"] == "Lib/colorsys.py"


def test_jsonl_units_start_at_their_line(tmp_path):
    """An uncompressed file's unit seeks to its first line; a gzipped one reads up to it."""
    rows = [{"text": f"value = {'é' * n}\n"} for n in range(10)]
    for name in ("rows.jsonl", "rows.jsonl.gz"):
        data = _write_jsonl(tmp_path / name, rows)
        units = plan_units([str(data)], shard_size=4)
        assert [r["text"] for r in read_unit(units[1], 1000)] == [r["text"] for r in rows[4:8]]
        assert [r["row"] for r in read_unit(units[2], 1000)] == [9, 10]


def test_plan_respects_shard_size_and_limit_and_is_deterministic(code_dir, tmp_path):
    data = _write_jsonl(tmp_path / "rows.jsonl", [{"text": f"x = {n}\n"} for n in range(5)])
    table = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist([{"text": f"y = {n}\n"} for n in range(6)]), table)
    sources = [str(code_dir), str(data), str(table)]
    for shard_size in (1, 2, 3, 100):
        units = plan_units(sources, shard_size)
        assert json.loads(json.dumps(units)) == units == plan_units(sources, shard_size)
        sizes = [len(list(read_unit(u, 1_000_000))) for u in units]
        assert max(sizes) <= shard_size and sum(sizes) == 5 + 5 + 6
    for limit in (1, 4, 5, 9, 12, 16, 100):
        records = _read_all(plan_units(sources, 3, limit=limit))
        assert len(records) == min(limit, 16)
    assert [r["text"] for r in _read_all(plan_units(sources, 3, limit=8))][5:] == ["x = 0\n", "x = 1\n", "x = 2\n"]


def test_every_reject_reason(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    files = {"binary.py": b"x = 1\0\0", "latin1.py": b"s = 'caf\xe9'\n", "empty.py": b"", "blank.py": b" \n\n",
             "big.py": b"x = 1\n" * 100, "generated.py": b"# DO NOT EDIT: written by a tool\nx = 1\n",
             "good.py": b"def f():\n    return 1\n"}
    for name, data in files.items():
        (root / name).write_bytes(data)
    (root / "broken.py").symlink_to(root / "missing-target.py")
    local = {r["path"].rsplit("/", 1)[1]: r.get("reason") for r in _read_all(plan_units([str(root)], 10), 500)}
    assert local == {"big.py": "oversized (600 bytes > 500)", "binary.py": "binary", "blank.py": "empty",
                     "broken.py": "unreadable (No such file or directory)", "empty.py": "empty",
                     "generated.py": "generated (marker: 'DO NOT EDIT')", "good.py": None, "latin1.py": "not utf-8"}
    rows = [{"text": "x = 1\0"}, {"text": "   "}, {"text": "x = 1\n" * 100}, {"text": "# Do not edit.\nx = 1\n"},
            {"text": "s = '\ud800'\n"}, {"text": "def f():\n    return 1\n"}]
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))  # json.dumps escapes the lone surrogate
    reasons = [r.get("reason") for r in _read_all(plan_units([str(data)], 10), 500)]
    assert reasons == ["binary", "empty", "oversized (600 bytes > 500)", "generated (marker: 'Do not edit')",
                       "not utf-8", None]


def test_rejects_keep_provenance_and_never_hold_an_oversized_text(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "big.py").write_bytes(b"x = 1\n" * 100)
    data = _write_jsonl(tmp_path / "rows.jsonl", [{"content": "x = 1\n" * 100, "repo": "a/b", "license": "MIT"}])
    local, row = _read_all(plan_units([str(tmp_path / "src"), str(data)], 10), 500)
    assert local["text"] == row["text"] == "" and local["bytes"] == row["bytes"] == 600
    assert json.loads(row["meta"]) == {"license": "MIT", "repo": "a/b"} and row["path"] == str(data)


def test_sources_of_every_kind_make_one_table(code_dir, tmp_path):
    data = _write_jsonl(tmp_path / "rows.jsonl", _stdlib_rows() + ["{broken"])
    table = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist([{**r, "stars": float(n)} for n, r in enumerate(_stdlib_rows())]), table)
    (code_dir / "empty.py").write_bytes(b"")
    kept, rejected = tmp_path / "kept", tmp_path / "rejected"
    sources = [str(code_dir), str(data), str(table)]
    for number, unit in enumerate(plan_units(sources, 4)):
        records = list(read_unit(unit, 1_000_000))
        write_shard([r for r in records if not r.get("reason")], kept / f"{number:05d}.parquet")
        if any(r.get("reason") for r in records):
            write_shard([r for r in records if r.get("reason")], rejected / f"{number:05d}.parquet")
    everything = pq.read_table(kept)
    assert everything.num_rows == 15 and set(everything.column("source").to_pylist()) == {"local", "jsonl", "parquet"}
    assert {f.name: f.type for f in everything.schema} == {
        "id": pa.string(), "text": pa.string(), "source": pa.string(), "path": pa.string(), "row": pa.int64(),
        "meta": pa.string(), "bytes": pa.int64()}
    reasons = pq.read_table(rejected).column("reason").to_pylist()
    assert sorted(reason.split(" (")[0] for reason in reasons) == ["empty", "malformed"]


def test_bad_specs_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        plan_units([str(tmp_path / "nowhere")], 10)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="notes.txt"):
        plan_units([str(tmp_path / "notes.txt")], 10)
    with pytest.raises(ValueError, match="hf:some/data.*'shuffle'"):
        plan_units(["hf:some/data?shuffle=1"], 10)
    with pytest.raises(ValueError, match="shard_size"):
        plan_units([str(tmp_path)], 0)
    with pytest.raises(ValueError, match="'tarball'"):
        list(read_unit({"kind": "tarball"}, 100))


def test_hf_aliases_name_the_documented_datasets():
    stack = parse_hf_spec("hf:the-stack")
    assert (stack.name, stack.data_dir, stack.split, stack.text_field) == (
        "bigcode/the-stack-dedup", "data/python", "train", "content")
    overflow = parse_hf_spec("hf:stackoverflow", text_field="ignored")
    assert (overflow.name, overflow.split, overflow.text_field) == \
        ("koutch/stackoverflow_python", "train", "answer_body")
    custom = parse_hf_spec("hf:bigcode/the-stack-dedup?data_dir=data/python&split=train&text_field=content&config=x")
    assert (custom.name, custom.data_dir, custom.split, custom.text_field, custom.config) == (
        "bigcode/the-stack-dedup", "data/python", "train", "content", "x")
    assert parse_hf_spec("hf:the-stack?split=train[:1%]").split == "train[:1%]"
    assert parse_hf_spec("hf:user/data", text_field="body").text_field == "body"
    assert set(HF_ALIASES) == {"the-stack", "stackoverflow"}


def test_hf_without_datasets_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "datasets", None)  # makes `import datasets` fail
    with pytest.raises(ImportError, match=r"pip install .textbooks\[hub\]."):
        plan_units([f"hf:{tmp_path}"], 10)


@pytest.fixture
def hf_dir(tmp_path):
    """A dataset laid out as on the hub: two JSON-lines data files, which `datasets` reads offline."""
    root = tmp_path / "hub-dataset"
    root.mkdir()
    rows = _stdlib_rows()
    _write_jsonl(root / "part-0.jsonl", rows[:3])
    _write_jsonl(root / "part-1.jsonl", rows[3:] + [{"max_stars_repo_name": "someone/else", "license": "MIT"}])
    return root


def test_hf_stream_shards_offline(hf_dir):
    pytest.importorskip("datasets")
    spec = f"hf:{hf_dir}?split=train"
    units = plan_units([spec], shard_size=2)
    assert [(u["kind"], u["shard_index"], u["num_shards"]) for u in units] == [("hf", 0, 2), ("hf", 1, 2)]
    assert json.loads(json.dumps(units)) == units
    records = _read_all(units)
    assert [r["path"] for r in records] == [f"{spec}#shard=0/2"] * 3 + [f"{spec}#shard=1/2"] * 3
    assert [r["row"] for r in records] == [1, 2, 3, 1, 2, 3]
    assert len({r["id"] for r in records}) == 6 and records[0]["id"] == record_id(f"{spec}#shard=0/2:1")
    assert [r["text"] for r in records[:5]] == [r["content"] for r in _stdlib_rows()]
    for record in records:
        _check_columns(record)
        assert record["source"] == "hf"
    assert json.loads(records[1]["meta"])["max_stars_repo_path"] == "Lib/colorsys.py"
    assert records[5]["reason"] == f"malformed ({spec}#shard=1/2:3: 'content' is NoneType, not a string)"


def test_hf_under_a_limit_reads_row_ranges_of_the_stream(hf_dir):
    pytest.importorskip("datasets")
    spec = f"hf:{hf_dir}"
    units = plan_units([spec], shard_size=2, limit=5)
    assert [(u["start"], u["stop"]) for u in units] == [(0, 2), (2, 4), (4, 5)]
    records = _read_all(units)
    assert [r["row"] for r in records] == [1, 2, 3, 4, 5] and {r["path"] for r in records} == {spec}
    assert [r["text"] for r in records] == [r["content"] for r in _stdlib_rows()]
    assert _read_all(plan_units([spec], shard_size=4, limit=100))[-1]["row"] == 6  # the stream ends first


def test_default_sources_are_the_standard_library_then_installed_packages():
    sources = default_sources()
    assert sources[0] == str(STDLIB) and any(s.endswith("site-packages") for s in sources[1:])
    assert len(sources) == len(set(sources))
    for path in python_files(STDLIB):
        assert "site-packages" not in path.parts and "dist-packages" not in path.parts
    units = plan_units(sources, 500, limit=1200)
    assert sum(len(u["paths"]) for u in units) == 1200 and all(len(u["paths"]) <= 500 for u in units)
