"""`textbooks label` then `textbooks classify` on a slice of this machine's standard library."""

import json
import os
from pathlib import Path

import pytest

from test_labelers import ScriptedServer
from textbooks import cli
from textbooks.records import read_manifest, read_records, read_shard, write_manifest, write_shard


def write_stdlib_corpus(out: Path, shards: int, per_shard: int) -> Path:
    """A corpus dataset of real standard-library files (small ones, in path order), `per_shard` a shard."""
    stdlib = Path(os.__file__).parent
    files = [p for p in sorted(stdlib.rglob("*.py"))
             if "site-packages" not in p.parts and 200 < p.stat().st_size < 20_000][:shards * per_shard]
    records = [{"id": f"stdlib/{p.relative_to(stdlib)}", "text": p.read_text(encoding="utf-8", errors="replace"),
                "source": "stdlib", "path": str(p)} for p in files]
    for n in range(shards):
        write_shard(records[n * per_shard:(n + 1) * per_shard], out / f"{n:05d}.parquet")
    write_manifest(out, "corpus", {"test": "stdlib", "records": len(records)}, {"records": len(records)})
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_stdlib_corpus(tmp_path_factory.mktemp("corpus"), shards=3, per_shard=50)


def test_default_corpus_then_label_then_classify_shows_each_stage(tmp_path, capsys):
    """The issue's run, test-sized: the default local sources (the stdlib comes first), labeled by the
    heuristic, filtered by the forest; each manifest has its counts and throughput."""
    corpus, labels, out = tmp_path / "corpus", tmp_path / "labels", tmp_path / "filtered"
    assert cli.main(["corpus", "--out", str(corpus), "--limit", "300", "--shard-size", "100"]) == 0
    counts = read_manifest(corpus)["counts"]
    assert counts["records"] + counts["rejected"] == 300 and counts["dedup"]["seen"] == 300
    assert set(counts["dedup"]) == {"seen", "exact_duplicates", "near_duplicates"}
    records = list(read_records(corpus))
    assert len(records) == counts["records"] > 250

    assert cli.main(["label", "--data", str(corpus), "--out", str(labels), "--sample", "150"]) == 0
    labeled = list(read_records(labels))
    assert len(labeled) == 150 and {r["labeler"] for r in labeled} == {"heuristic-v2"}
    counts = read_manifest(labels)["counts"]
    assert counts["positive"] > 20 and counts["negative"] > 20 and counts["records_per_s"] > 0
    # the same seed draws the same sample; a rerun does nothing
    assert cli.main(["label", "--data", str(corpus), "--out", str(labels), "--sample", "150"]) == 0
    assert "nothing to do" in capsys.readouterr().out

    assert cli.main(["classify", "--data", str(corpus), "--labels", str(labels), "--out", str(out),
                     "--top-fraction", "0.5", "--show"]) == 0
    printed = capsys.readouterr().out
    assert "against the heuristic-v2 labels, held-out accuracy" in printed
    shown = printed.split("--- 10 highest-scored records\n")[1].split("--- 10 lowest-scored records\n")
    assert [len(part.strip().splitlines()) for part in shown] == [10, 10]
    assert all(line.split()[1].endswith(".py") for part in shown for line in part.strip().splitlines())
    manifest = read_manifest(out)
    metrics = manifest["classifier"]
    assert metrics["labeler"] == "heuristic-v2" and manifest["embedder"].startswith("minilm:")
    assert 0 <= metrics["accuracy"] <= 1 and 0 <= metrics["roc_auc"] <= 1
    kept, rejected = list(read_records(out)), list(read_records(out / "rejects"))
    assert len(kept) + len(rejected) == len(records) and abs(len(kept) - len(records) / 2) <= 1
    assert min(r["quality"] for r in kept) >= max(r["quality"] for r in rejected)
    assert all(r["reason"].startswith("low educational value") for r in rejected)
    assert manifest["counts"]["records_per_s"] > 0 and manifest["counts"]["mb_per_s"] > 0


def test_classify_needs_labels_of_the_corpus(corpus, tmp_path):
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "00000.jsonl").write_text(json.dumps({"id": "elsewhere", "text": "x = 1\n", "source": "x",
                                                   "label": True}) + "\n")
    write_manifest(labels, "label", {}, {})
    with pytest.raises(ValueError, match="no record of the corpus .* has a label"):
        cli.main(["classify", "--data", str(corpus), "--labels", str(labels), "--out", str(tmp_path / "o")])


def _teach_me_corpus(out: Path, shards: int = 3, per_shard: int = 4) -> Path:
    for s in range(shards):
        write_shard([{"id": f"{s}-{i}", "text": f"def f{s}_{i}(a, b):\n    # TEACH_ME\n    return a + b\n",
                      "source": "test"} for i in range(per_shard)], out / f"{s:05d}.parquet")
    write_manifest(out, "corpus", {"test": "teach-me"}, {})
    return out


def test_llm_budget_stops_keeping_its_labels_and_a_bigger_budget_pays_nothing_twice(tmp_path):
    data, labels = _teach_me_corpus(tmp_path / "corpus"), tmp_path / "labels"
    with ScriptedServer(completion_tokens=3000) as server:
        args = ["label", "--data", str(data), "--out", str(labels), "--sample", "12",
                "--labeler", f"{server.url}#judge"]
        # the budget charges a request its prompt + max_tokens beforehand: one or two fit, then 3000 each are spent
        assert cli.main([*args, "--budget-tokens", "4000"]) == 0
        first = read_manifest(labels)["counts"]
        assert "budget" in first["stopped"] and 1 <= first["records"] == server.count < 12
        assert all(r["label"] is True for r in read_records(labels))
        assert sorted(p.name for p in labels.glob("*.parquet")) == ["00000.parquet", "00001.parquet", "00002.parquet"]
        assert not (labels / ".work").exists()

        assert cli.main([*args, "--budget-tokens", "1000000"]) == 0
        assert server.count == 12  # the first run's answers came from the cache
    counts = read_manifest(labels)["counts"]
    assert counts["stopped"] is None and counts["records"] == counts["positive"] == 12
    assert counts["records_per_s"] > 0 and counts["steps"]["label"]["shards"] == 3
    assert sorted(r["id"] for r in read_records(labels)) == sorted(r["id"] for r in read_records(data))


def test_a_run_killed_after_the_budget_stopped_resumes_to_the_same_labels(tmp_path):
    """The stop is recorded before its shard is written: a rerun labels exactly the records the
    stopped run kept (from the cache), and nothing after them."""
    data, labels = _teach_me_corpus(tmp_path / "corpus"), tmp_path / "labels"
    with ScriptedServer(completion_tokens=3000) as server:
        args = ["label", "--data", str(data), "--out", str(labels), "--sample", "12",
                "--labeler", f"{server.url}#judge", "--budget-tokens", "4000"]
        assert cli.main(args) == 0
        finished = {p.name: p.read_bytes() for p in sorted(labels.glob("*.parquet"))}
        stopped_in = next(labels / name for name in finished if list(read_shard(labels / name)))
        kept_ids = [r["id"] for r in read_shard(stopped_in)]
        # as if killed after the stop was recorded, before its shard and the manifest were written
        stopped = {"reason": read_manifest(labels)["counts"]["stopped"], "labeled": kept_ids}
        in_progress = {"stage": "label", "config_hash": read_manifest(labels)["config_hash"]}
        (labels / "manifest.json").unlink()
        stopped_in.unlink()
        (labels / ".in-progress.json").write_text(json.dumps(in_progress))
        (labels / ".work").mkdir()
        (labels / ".work" / "stopped.json").write_text(json.dumps(stopped))
        sent = server.count
        assert cli.main(args) == 0
        assert server.count == sent  # the fresh budget is not used to label past the stop
    assert {p.name: p.read_bytes() for p in sorted(labels.glob("*.parquet"))} == finished
    assert read_manifest(labels)["counts"]["stopped"] == stopped["reason"]
