"""`textbooks label` then `textbooks classify` on a slice of this machine's standard library."""

import json
from pathlib import Path

import pytest

from textbooks import cli
from textbooks.records import read_manifest, read_records, write_manifest


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    assert cli.main(["corpus", "--out", str(out), "--limit", "150"]) == 0
    return out


def test_label_then_classify_keeps_the_better_half_and_reports_held_out_metrics(corpus, tmp_path, capsys):
    labels = tmp_path / "labels"
    assert cli.main(["label", "--data", str(corpus), "--out", str(labels), "--sample", "100"]) == 0
    labeled = list(read_records(labels))
    assert len(labeled) == 100 and {r["labeler"] for r in labeled} == {"heuristic-v1"}
    counts = read_manifest(labels)["counts"]
    assert counts["positive"] > 10 and counts["negative"] > 10
    # the same seed draws the same sample; a rerun does nothing
    assert cli.main(["label", "--data", str(corpus), "--out", str(labels), "--sample", "100"]) == 0
    assert "nothing to do" in capsys.readouterr().out

    out = tmp_path / "filtered"
    assert cli.main(["classify", "--data", str(corpus), "--labels", str(labels), "--out", str(out),
                     "--top-fraction", "0.5", "--show"]) == 0
    printed = capsys.readouterr().out
    assert "10 highest-scored" in printed and "10 lowest-scored" in printed
    manifest = read_manifest(out)
    metrics = manifest["classifier"]
    assert 0 <= metrics["accuracy"] <= 1 and 0 <= metrics["roc_auc"] <= 1
    kept, rejected = list(read_records(out)), list(read_records(out / "rejects"))
    assert len(kept) + len(rejected) == len(list(read_records(corpus)))
    assert min(r["quality"] for r in kept) >= max(r["quality"] for r in rejected)
    assert all(r["reason"].startswith("low educational value") for r in rejected)
    assert manifest["counts"]["records_per_s"] > 0


def test_classify_needs_labels_of_the_corpus(corpus, tmp_path):
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "00000.jsonl").write_text(json.dumps({"id": "elsewhere", "text": "x = 1\n", "source": "x",
                                                   "label": True}) + "\n")
    write_manifest(labels, "label", {}, {})
    with pytest.raises(ValueError, match="no record of the corpus has a label"):
        cli.main(["classify", "--data", str(corpus), "--labels", str(labels), "--out", str(tmp_path / "o")])
