import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from textbooks import cli
from textbooks.sources import default_source_dir, default_sources, python_files, record_id
from textbooks.records import read_manifest, read_records

GOOD = "def add(a, b):\n    return a + b\n"


def _write(path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def source(tmp_path):
    root = tmp_path / "src"
    _write(root / "a_good.py", GOOD.encode())
    _write(root / "b_crlf.py", b"x = 1\r\ny = 'caf\xc3\xa9'\r\n")
    _write(root / "c_empty.py", b"")
    _write(root / "d_blank.py", b"  \n\n")
    _write(root / "e_latin1.py", b"s = 'caf\xe9'\n")
    _write(root / "f_binary.py", b"x = 1\0\0\0")
    _write(root / "g_big.py", b"x = 1\n" * 100)
    _write(root / "pkg" / "h_copy.py", GOOD.encode())
    _write(root / "pkg" / "notes.txt", b"not python")
    _write(root / "__pycache__" / "cached.py", b"x = 1\n")
    _write(root / "site-packages" / "installed.py", b"x = 1\n")
    _write(root / ".venv" / "hidden.py", b"x = 1\n")
    return root


def _corpus(source, out, *extra):
    return cli.main(["corpus", "--source", str(source), "--out", str(out), "--max-bytes", "500", *extra])


def _rejects(out):
    return {r["path"].rsplit("/", 1)[-1]: r for r in read_records(out / "rejects")}


def test_keeps_good_files_and_rejects_the_rest_with_reasons(source, tmp_path):
    out = tmp_path / "corpus"
    assert _corpus(source, out) == 0
    kept = list(read_records(out))
    assert [r["path"] for r in kept] == [str(source / "a_good.py"), str(source / "b_crlf.py")]
    assert kept[0] == {"id": record_id(str(source / "a_good.py")), "text": GOOD, "source": "local",
                       "path": str(source / "a_good.py"), "row": 0, "meta": "{}", "bytes": len(GOOD)}
    assert kept[1]["text"] == "x = 1\r\ny = 'café'\r\n"  # text is never rewritten
    rejects = _rejects(out)
    assert {name: r["reason"] for name, r in rejects.items()} == {
        "c_empty.py": "empty", "d_blank.py": "empty", "e_latin1.py": "not utf-8",
        "f_binary.py": "binary", "g_big.py": "oversized (600 bytes > 500)", "h_copy.py": "exact duplicate",
    }
    assert rejects["h_copy.py"]["duplicate_of"] == kept[0]["id"]
    assert rejects["e_latin1.py"]["duplicate_of"] is None
    counts = read_manifest(out)["counts"]
    assert counts["dedup"] == {"seen": 8, "exact_duplicates": 1, "near_duplicates": 0}
    assert {k: counts[k] for k in ("records", "rejected", "bytes", "by_reason", "records_in")} == {
        "records": 2, "rejected": 6, "bytes": sum(r["bytes"] for r in kept), "records_in": 8,
        "by_reason": {"binary": 1, "exact duplicate": 1, "empty": 2, "not utf-8": 1, "oversized": 1}}
    assert counts["records_per_s"] > 0 and counts["mb_per_s"] > 0  # every stage records its throughput
    assert not (out / ".work").exists() and not (out / ".in-progress.json").exists()


def test_near_copies_of_real_code_are_rejected_and_point_to_the_original(tmp_path):
    original = (default_source_dir() / "textwrap.py").read_text()
    root = tmp_path / "src"
    _write(root / "a_textwrap.py", original.encode())
    _write(root / "b_renamed.py", original.replace("wrap(", "wrap_text(").encode())
    _write(root / "c_json.py", (default_source_dir() / "json" / "encoder.py").read_bytes())
    out = tmp_path / "out"
    assert cli.main(["corpus", "--source", str(root), "--out", str(out)]) == 0
    kept = {Path(r["path"]).name: r for r in read_records(out)}
    assert sorted(kept) == ["a_textwrap.py", "c_json.py"]
    rejects = _rejects(out)
    assert rejects["b_renamed.py"]["reason"].startswith("near duplicate (estimated Jaccard")
    assert rejects["b_renamed.py"]["duplicate_of"] == kept["a_textwrap.py"]["id"]
    # a threshold above the copy's similarity keeps it
    assert cli.main(["corpus", "--source", str(root), "--out", str(tmp_path / "strict"),
                     "--near-threshold", "0.99"]) == 0
    assert len(list(read_records(tmp_path / "strict"))) == 3


def test_output_is_deterministic_and_sharded(source, tmp_path):
    _corpus(source, tmp_path / "one", "--shard-size", "3")
    _corpus(source, tmp_path / "two", "--shard-size", "3", "--workers", "1")
    shards = sorted(p.name for p in (tmp_path / "one").glob("*.parquet"))
    assert shards == ["00000.parquet", "00001.parquet", "00002.parquet"]  # 8 files read 3 at a time
    assert _files(tmp_path / "one") == _files(tmp_path / "two")
    # the shards share one schema, so the directory opens as one table
    assert pq.read_table(sorted((tmp_path / "one").glob("*.parquet"))).column("path").to_pylist() == [
        str(source / "a_good.py"), str(source / "b_crlf.py")]


def test_rerun_with_same_config_does_nothing(source, tmp_path, capsys):
    out = tmp_path / "corpus"
    _corpus(source, out)
    shard_mtime = (out / "00000.parquet").stat().st_mtime_ns
    capsys.readouterr()
    _corpus(source, out)
    assert "nothing to do" in capsys.readouterr().out
    assert (out / "00000.parquet").stat().st_mtime_ns == shard_mtime


def test_rerun_with_new_config_replaces_all_shards(source, tmp_path):
    out = tmp_path / "corpus"
    _corpus(source, out, "--shard-size", "1")
    assert len(list(out.glob("*.parquet"))) == 8
    _corpus(source, out, "--shard-size", "10")
    assert [p.name for p in out.glob("*.parquet")] == ["00000.parquet"]
    assert len(list(read_records(out))) == 2
    assert read_manifest(out)["config"]["shard_size"] == 10


def test_limit_counts_files_read(source, tmp_path):
    out = tmp_path / "corpus"
    _corpus(source, out, "--limit", "3")
    counts = read_manifest(out)["counts"]
    assert counts["records"] + counts["rejected"] == 3


def test_default_sources_are_the_standard_library_then_installed_packages(tmp_path):
    out = tmp_path / "corpus"
    assert cli.main(["corpus", "--out", str(out), "--limit", "40"]) == 0
    manifest = read_manifest(out)
    stdlib = default_source_dir()
    assert manifest["config"]["sources"] == default_sources()
    assert default_sources()[0] == str(stdlib) and any("site-packages" in s for s in default_sources())
    records = list(read_records(out))
    assert len(records) + manifest["counts"]["rejected"] == 40
    assert len(records) > 30
    for record in records:
        assert record["path"].startswith(str(stdlib)) and "site-packages" not in record["path"]
        assert record["path"].endswith(".py") and record["text"].strip()
    assert "def " in "".join(r["text"] for r in records)


def test_named_sources_are_this_interpreters_directories(tmp_path):
    out = tmp_path / "corpus"
    assert cli.main(["corpus", "--source", "stdlib", "--out", str(out), "--limit", "5"]) == 0
    assert read_manifest(out)["config"]["sources"] == [str(default_source_dir())]
    out = tmp_path / "both"
    assert cli.main(["corpus", "--source", "stdlib", "--source", "packages", "--out", str(out), "--limit", "5"]) == 0
    assert read_manifest(out)["config"]["sources"] == default_sources()


def test_bad_arguments_are_named(source, tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        cli.main(["corpus", "--source", str(tmp_path / "nowhere"), "--out", str(tmp_path / "c")])
    with pytest.raises(SystemExit) as usage_error:
        cli.main(["corpus", "--source", str(source), "--out", str(tmp_path / "c"), "--max-bytes", "0"])
    assert usage_error.value.code == 2 and "--max-bytes: expected a positive integer, got 0" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="file"):
        cli.main(["corpus", "--source", str(source), "--out", str(tmp_path / "file")])


def test_refuses_to_overwrite_another_stage(source, tmp_path):
    out = tmp_path / "corpus"
    _corpus(source, out)
    manifest = (out / "manifest.json").read_text().replace('"stage": "corpus"', '"stage": "pack"')
    (out / "manifest.json").write_text(manifest)
    with pytest.raises(FileExistsError, match="pack"):
        _corpus(source, out, "--shard-size", "5")


def test_unreadable_file_is_rejected_not_fatal(tmp_path):
    root = tmp_path / "src"
    _write(root / "good.py", GOOD.encode())
    (root / "broken.py").symlink_to(root / "missing-target.py")
    out = tmp_path / "corpus"
    _corpus(root, out)
    assert len(list(read_records(out))) == 1
    assert _rejects(out)["broken.py"]["reason"].startswith("unreadable")


def _files(directory: Path) -> dict[str, bytes]:
    """Every output file's bytes, the manifest without its timings."""
    files = {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}
    manifest = read_manifest(directory)
    files["manifest.json"] = {k: manifest[k] for k in ("stage", "config", "config_hash")}
    files["counts"] = {k: v for k, v in manifest["counts"].items() if k not in ("records_per_s", "mb_per_s", "steps")}
    return files


@pytest.fixture(scope="module")
def stdlib_sample(tmp_path_factory):
    """240 real stdlib files, 4 of them copied again (exact and edited) so that dedup has work."""
    root = tmp_path_factory.mktemp("stdlib-sample")
    files = list(python_files(default_source_dir()))[:240]
    for n, path in enumerate(files):
        _write(root / f"{n:03d}_{path.name}", path.read_bytes())
    for n, path in enumerate(files[10:14]):
        text = path.read_text(encoding="utf-8")
        _write(root / f"copy_{n}.py", (text if n % 2 else text.replace("self", "this")).encode())
    return root


@pytest.mark.parametrize("kill_when", ["read", "written"])
def test_a_killed_run_resumes_to_the_same_output(stdlib_sample, tmp_path, kill_when):
    """SIGKILL while the sources are being read, or while the shards are being written out; the rerun
    ends with the same files as an uninterrupted run: no record lost or duplicated."""
    args = ["corpus", "--source", str(stdlib_sample), "--shard-size", "12", "--workers", "1"]
    reference = tmp_path / "reference"
    assert cli.main([*args, "--out", str(reference)]) == 0
    out = tmp_path / "killed"
    marker = out / ".work" / "read" / "00002.parquet" if kill_when == "read" else out / "00002.parquet"
    child = subprocess.Popen([sys.executable, "-c", "import sys; from textbooks import cli; "
                              "sys.exit(cli.main(sys.argv[1:]))", *args, "--out", str(out)],
                             start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not marker.exists() and child.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    assert not (out / "manifest.json").exists(), "the run finished before it could be killed"
    assert marker.exists()
    assert cli.main([*args, "--out", str(out)]) == 0
    assert _files(out) == _files(reference)
    ids = [r["id"] for r in read_records(out)] + [r["id"] for r in read_records(out / "rejects")]
    assert len(ids) == len(set(ids)) == 244


def test_jsonl_and_local_sources_make_one_corpus_with_provenance(source, tmp_path):
    import json
    data = tmp_path / "rows.jsonl"
    rows = [{"content": "def double(x):\n    return 2 * x\n", "repo": "someone/maths", "license": "MIT"},
            {"content": GOOD, "repo": "someone/copy"}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows) + "{not json\n")
    out = tmp_path / "corpus"
    assert cli.main(["corpus", "--source", str(source), "--source", str(data), "--out", str(out),
                     "--max-bytes", "500"]) == 0
    kept = {r["path"] + ":" + str(r["row"]): r for r in read_records(out)}
    row = kept[f"{data}:1"]
    assert row["source"] == "jsonl" and json.loads(row["meta"]) == {"license": "MIT", "repo": "someone/maths"}
    rejects = {r["path"] + ":" + str(r["row"]): r for r in read_records(out / "rejects")}
    assert rejects[f"{data}:2"]["reason"] == "exact duplicate"  # of a_good.py, across sources
    assert rejects[f"{data}:2"]["duplicate_of"] == record_id(str(source / "a_good.py"))
    assert rejects[f"{data}:3"]["reason"].startswith(f"malformed ({data}:3")


@pytest.mark.slow
def test_ray_executor_writes_the_same_corpus(stdlib_sample, tmp_path):
    ray = pytest.importorskip("ray")
    args = ["corpus", "--source", str(stdlib_sample), "--shard-size", "40"]
    assert cli.main([*args, "--out", str(tmp_path / "local")]) == 0
    try:
        assert cli.main([*args, "--out", str(tmp_path / "ray"), "--executor", "ray", "--workers", "2"]) == 0
    finally:
        ray.shutdown()
    assert _files(tmp_path / "ray") == _files(tmp_path / "local")
