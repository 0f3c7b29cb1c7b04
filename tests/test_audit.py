"""`textbooks audit` on small real datasets (stdlib functions) with planted duplicates and constraints."""

import argparse
import ast
import calendar
import difflib
import inspect
import json
import random
import shutil
import statistics
import textwrap
from collections import Counter
from pathlib import Path

import matplotlib.image
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from textbooks import cli
from textbooks.audit.measures import BottomKSample, sample_key
from textbooks.records import write_manifest, write_shard

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
BASE = 30  # distinct functions: neither exact nor near duplicates of each other
EXACT_COPIES = (0, 1, 2)  # base records copied verbatim
NEAR_COPIES = (3, 4)  # base records copied with a comment appended (MinHash Jaccard ~0.98)
TOPICS = ("strings", "files", "numbers")


def stdlib_functions(count: int = BASE) -> list[str]:
    """Distinct real functions of 800-1600 characters from a few stdlib modules, in a fixed order."""
    texts = []
    for module in (textwrap, difflib, argparse, shutil, calendar, statistics):
        source = inspect.getsource(module)
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef):
                text = textwrap.dedent(ast.get_source_segment(source, node, padded=True))
                if 800 <= len(text) <= 1600 and text not in texts:
                    texts.append(text)
    return texts[:count]


def base_records() -> list[dict]:
    return [{"id": f"f{i}", "text": text, "source": "stdlib"} for i, text in enumerate(stdlib_functions())]


def write_dataset(directory: Path, records: list[dict], jsonl_tail: int = 0) -> Path:
    """A finished dataset: a Parquet shard, and the last `jsonl_tail` records as a JSONL shard."""
    head, tail = records[:len(records) - jsonl_tail], records[len(records) - jsonl_tail:]
    write_shard(head, directory / "00000.parquet")
    if tail:
        (directory / "00001.jsonl").write_text("".join(json.dumps(r) + "\n" for r in tail), encoding="utf-8")
    write_manifest(directory, "corpus", {"test": directory.name}, {"records": len(records)})
    return directory


def audit(data: Path, *options: str) -> dict:
    cli.main(["audit", "--data", str(data), *options])
    out = Path(options[options.index("--out") + 1]) if "--out" in options else data.with_name(data.name + ".audit")
    return json.loads((out / "audit.json").read_text(encoding="utf-8"))


def planted_records() -> list[dict]:
    """The base functions, exact and near copies of some, and a constraints column (absent on the copies)."""
    records = [{**r, "constraints": json.dumps({"topic": TOPICS[i % 3], "difficulty": ("easy", "hard")[i % 2]})}
               for i, r in enumerate(base_records())]
    records += [{"id": f"exact{i}", "text": records[i]["text"], "source": "copy", "constraints": None}
                for i in EXACT_COPIES]
    records += [{"id": f"near{i}", "text": records[i]["text"] + "# reviewed\n", "source": "copy", "constraints": None}
                for i in NEAR_COPIES]
    return records


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """The planted dataset (Parquet + JSONL shards) audited once with a trained tokenizer."""
    from textbooks.prepare.tokenizer import train_tokenizer

    root = tmp_path_factory.mktemp("planted")
    records = planted_records()
    data = write_dataset(root / "data", records, jsonl_tail=4)
    tokenizer = train_tokenizer([r["text"] for r in records], 400, root / "tok" / "tokenizer.json")
    out = root / "report"
    options = ("--out", str(out), "--tokenizer", str(root / "tok"))
    return {"data": data, "records": records, "tokenizer": tokenizer, "out": out, "options": options,
            "report": audit(data, *options)}


def test_sizes_and_duplicate_rates_match_what_was_planted(planted):
    report, records = planted["report"], planted["records"]
    assert report["records"] == len(records) == BASE + len(EXACT_COPIES) + len(NEAR_COPIES)
    assert report["sample"] == {"records": len(records), "seed": 0, "whole_dataset": True}
    assert report["duplicates"]["exact"]["records"] == len(EXACT_COPIES)
    assert report["duplicates"]["exact"]["rate"] == pytest.approx(len(EXACT_COPIES) / len(records), abs=1e-6)
    assert report["duplicates"]["near"]["records"] == len(NEAR_COPIES)
    assert report["duplicates"]["near"]["rate"] == pytest.approx(len(NEAR_COPIES) / len(records), abs=1e-6)
    # the tokenizer's tokens, not the regex's
    assert report["tokens"]["counter"].startswith("tokenizer ")
    assert report["tokens"]["total"] == sum(len(planted["tokenizer"].encode(r["text"]).ids) for r in records)
    assert report["characters"] == sum(len(r["text"]) for r in records)


def test_constraint_histogram_counts_each_keys_values(planted):
    constraints = planted["report"]["constraints"]
    expected = {"topic": Counter(TOPICS[i % 3] for i in range(BASE)),
                "difficulty": Counter(("easy", "hard")[i % 2] for i in range(BASE))}
    assert set(constraints) == set(expected)
    for key, counts in expected.items():
        assert constraints[key]["records"] == BASE  # the copies have no constraints
        assert constraints[key]["distinct"] == len(counts)
        assert {value: count for value, count in constraints[key]["top"]} == dict(counts)


def test_most_similar_pair_is_a_planted_near_duplicate(planted):
    pairs = planted["report"]["similar_pairs"]
    assert len(pairs) == 10
    assert [p["cosine"] for p in pairs] == sorted((p["cosine"] for p in pairs), reverse=True)
    top = {pairs[0]["a"]["id"], pairs[0]["b"]["id"]}
    assert top in [{f"f{i}", f"near{i}"} for i in NEAR_COPIES]
    # an exact copy is one distinct text with its original (which names it): never a pair of its own
    assert not [p for p in pairs if p["a"]["id"].startswith("exact") or p["b"]["id"].startswith("exact")]
    texts = {r["id"]: r["text"] for r in planted["records"]}
    assert pairs[0]["a"]["text"] == texts[pairs[0]["a"]["id"]][:200]


def test_clusters_cover_every_record(planted):
    clusters = planted["report"]["clusters"]
    assert clusters["k"] == round((BASE + len(NEAR_COPIES)) ** 0.5)  # sqrt of the distinct texts
    assert sum(clusters["sizes"]) == len(planted["records"])  # exact copies weigh in
    assert clusters["sizes"] == sorted(clusters["sizes"], reverse=True)
    assert 1 <= clusters["effective_clusters"] <= clusters["k"]


def test_plots_are_valid_pngs(planted):
    names = planted["report"]["plots"]
    assert names == ["clusters.png", "constraints.png", "lengths.png", "ngrams.png"]
    for name in names:
        path = planted["out"] / name
        assert path.read_bytes()[:8] == PNG_MAGIC
        height, width, channels = matplotlib.image.imread(path).shape
        assert height > 100 and width > 100 and channels in (3, 4)


def test_rerun_with_the_same_settings_is_up_to_date(planted, capsys):
    report_path = planted["out"] / "audit.json"
    before = report_path.stat().st_mtime_ns
    capsys.readouterr()
    cli.main(["audit", "--data", str(planted["data"]), *planted["options"]])
    printed = capsys.readouterr().out
    assert "up to date" in printed
    assert f"records       {len(planted['records'])}" in printed  # the headline, also when skipped
    assert report_path.stat().st_mtime_ns == before
    manifest = json.loads((planted["out"] / "manifest.json").read_text())
    assert manifest["stage"] == "audit" and str(planted["data"]) in manifest["inputs"]


def test_redundant_data_has_fewer_distinct_ngrams_and_clusters(tmp_path):
    base = base_records()
    redundant = base + [{**base[0], "id": f"copy{i}"} for i in range(BASE)]
    plain = audit(write_dataset(tmp_path / "plain", base))  # --out defaults to DIR.audit beside DIR
    heavy = audit(write_dataset(tmp_path / "heavy", redundant), "--out", str(tmp_path / "heavy-report"))
    assert plain["duplicates"]["exact"]["records"] == plain["duplicates"]["near"]["records"] == 0
    assert heavy["duplicates"]["exact"]["rate"] == pytest.approx(0.5)
    assert plain["tokens"]["counter"].startswith("regex ")
    for n in ("1", "2", "4"):
        assert heavy["distinct_ngrams"][n]["ratio"] < plain["distinct_ngrams"][n]["ratio"]
        assert heavy["distinct_ngrams"][n]["total"] > plain["distinct_ngrams"][n]["total"]
    # the 31 copies of one text fill one cluster
    assert heavy["clusters"]["largest_share"] > 0.5 > plain["clusters"]["largest_share"]
    assert heavy["clusters"]["effective_clusters"] < plain["clusters"]["effective_clusters"]
    assert plain["constraints"] is None and "constraints.png" not in plain["plots"]


def test_sample_is_capped_and_reproducible(tmp_path):
    report = audit(write_dataset(tmp_path / "data", base_records()), "--sample", "10", "--clusters", "3")
    assert report["records"] == BASE
    assert report["sample"] == {"records": 10, "seed": 0, "whole_dataset": False}
    assert report["clusters"]["k"] == 3 and sum(report["clusters"]["sizes"]) == 10
    assert report["distinct_ngrams"]["1"]["total"] < report["tokens"]["total"]


def draw(ids: list[str], size: int, seed: int) -> list[str]:
    sample = BottomKSample(size)
    for position, record_id in enumerate(ids):
        sample.offer(sample_key(record_id, seed), position, {"id": record_id})
    return [r["id"] for r in sample.records()]


def test_sample_depends_on_ids_and_seed_not_on_order():
    ids = [f"r{i}" for i in range(200)]
    shuffled = random.Random(1).sample(ids, len(ids))
    picked = draw(ids, 20, seed=0)
    assert len(picked) == 20 and picked == sorted(picked, key=ids.index)  # in dataset order
    assert set(draw(shuffled, 20, seed=0)) == set(picked)
    assert set(draw(ids, 20, seed=1)) != set(picked)


def test_an_unfinished_stage_is_refused_not_audited(tmp_path):
    """A stage rerun and killed part way has some of its shards and no manifest: auditing it would
    measure a part as if it were the whole."""
    from textbooks.stage import StageSpec, start_over

    data = write_dataset(tmp_path / "decontam", base_records())
    start_over(data, StageSpec("decontam"), {"tau": 0.9})  # what a rerun does first; then it is killed
    write_shard(base_records()[:10], data / "00000.parquet")
    with pytest.raises(ValueError, match="is an unfinished decontam run: rerun that stage"):
        cli.main(["audit", "--data", str(data)])
    assert not (tmp_path / "decontam.audit").exists()


def test_bad_input_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        cli.main(["audit", "--data", str(tmp_path / "missing")])
    (tmp_path / "bare").mkdir()
    with pytest.raises(ValueError, match="holds no record shards"):
        cli.main(["audit", "--data", str(tmp_path / "bare")])
    (tmp_path / "notext").mkdir()  # written by pyarrow: write_shard itself requires a text column
    pq.write_table(pa.Table.from_pylist([{"id": "a", "content": "x = 1"}]), tmp_path / "notext" / "00000.parquet")
    with pytest.raises(ValueError, match="has no `text` column"):
        cli.main(["audit", "--data", str(tmp_path / "notext")])
    write_shard([], tmp_path / "empty" / "00000.parquet")
    with pytest.raises(ValueError, match="no records to audit"):
        cli.main(["audit", "--data", str(tmp_path / "empty")])
    data = write_dataset(tmp_path / "data", base_records()[:3])
    with pytest.raises(ValueError, match="inside --data"):
        cli.main(["audit", "--data", str(data), "--out", str(data / "audit")])
    assert not (data / "audit").exists()
