"""Deduplication steps on real code: files of this interpreter's standard library."""

import os
import re
import subprocess
import sys
import textwrap

import pytest

from textbooks.similarity.dedup import (
    DedupKeys, ExactDedup, NearDedup, code_shingles, content_hash, minhash_signature, normalize_code,
)
from textbooks.sources import default_source_dir, python_files, read_local_file, record_id

STDLIB = default_source_dir()
# Packages with ordinary, distinct modules (the encodings/ codec tables are real near copies of each
# other, so they are left out of the no-false-positive sample and used as true positives instead).
PACKAGES = ("json", "email", "http", "urllib", "logging", "concurrent", "importlib")
NEAR = re.compile(r"near duplicate \(estimated Jaccard (\d\.\d\d)\)")


def _records(paths):
    return [read_local_file(path, 1_000_000) for path in paths]


@pytest.fixture(scope="module")
def distinct_modules():
    """200 real standard-library modules: the top-level ones, then a few packages'."""
    paths = sorted(STDLIB.glob("*.py")) + [p for pkg in PACKAGES for p in python_files(STDLIB / pkg)]
    records = [r for r in _records(paths) if not r.get("reason")][:200]
    assert len(records) == 200
    return records


def _copy(record, text, key):
    return {**record, "id": record_id(f"{record['path']}#{key}"), "text": text}


def _flagged(records):
    return {r["id"]: r for r in records if r.get("duplicate_of")}


def test_normalize_code_is_conservative():
    text = "def f():\n    return 1\n"
    variants = ["\ufeff" + text, text.replace("\n", "\r\n"), text.replace("\n", "\r"),
                "def f():   \n    return 1\t\n", text + "\n  \n\n"]
    assert {normalize_code(v) for v in variants} == {text}
    assert content_hash(text.replace("    ", "  ")) != content_hash(text)  # indentation is syntax
    assert content_hash("x = 1\n\ny = 2\n") != content_hash("x = 1\ny = 2\n")
    assert normalize_code(" \n\n") == ""


def test_exact_catches_crlf_and_trailing_space_copies(distinct_modules):
    originals = distinct_modules[:30]
    copies = [_copy(r, "\n".join(line + "  " for line in r["text"].split("\n")).replace("\n", "\r\n") + "\r\n\r\n",
                    "crlf") for r in originals]
    step = ExactDedup()
    out = list(step(originals + copies))
    assert out[:30] == originals  # the first of each pair is yielded unchanged
    for copy, original, marked in zip(copies, originals, out[30:]):
        assert marked == {**copy, "reason": "exact duplicate", "duplicate_of": original["id"]}
    assert step.counts() == {"seen": 60, "exact_duplicates": 30}


def test_exact_keeps_a_reindented_copy(distinct_modules):
    record = distinct_modules[5]
    reindented = _copy(record, record["text"].replace("    ", "\t"), "tabs")
    assert reindented["text"] != record["text"]
    assert _flagged(ExactDedup()([record, reindented])) == {}


def _rename_function(text):
    name = re.search(r"^def ([a-z_]\w*)\(", text, re.M).group(1)
    renamed = re.sub(rf"\b{name}\b", name + "_renamed", text)
    assert renamed != text
    return renamed


def _change_lines(text, every, new="    result = None  # changed"):
    lines = text.split("\n")
    changed = [new if i % every == every // 2 and line.strip() else line for i, line in enumerate(lines)]
    return "\n".join(changed)


def test_near_catches_edited_copies_and_points_to_the_original(distinct_modules):
    original = next(r for r in distinct_modules if r["path"].endswith("/textwrap.py"))
    renamed = _copy(original, _rename_function(original["text"]), "renamed")
    edited = _copy(original, _change_lines(original["text"], every=60), "edited")
    others = distinct_modules[:20]
    records = others + [original] + [renamed, edited]
    assert _flagged(ExactDedup()(records)) == {}  # not exact copies
    step = NearDedup(threshold=0.85)
    flagged = _flagged(step(records))
    assert set(flagged) == {renamed["id"], edited["id"]}
    for marked in flagged.values():
        assert marked["duplicate_of"] == original["id"]
        assert float(NEAR.fullmatch(marked["reason"]).group(1)) >= 0.85
    assert step.counts() == {"seen": 23, "near_duplicates": 2}


def test_input_order_decides_which_copy_is_kept(distinct_modules):
    original = distinct_modules[40]
    renamed = _copy(original, _rename_function(original["text"]), "renamed")
    assert _flagged(NearDedup()([renamed, original])).keys() == {original["id"]}
    assert _flagged(NearDedup()([original, renamed])).keys() == {renamed["id"]}


def test_no_false_positives_over_200_distinct_modules(distinct_modules):
    exact, near = ExactDedup(), NearDedup()
    out = list(near(exact(distinct_modules)))
    assert out == distinct_modules
    assert exact.counts()["exact_duplicates"] == near.counts()["near_duplicates"] == 0


def test_real_near_copies_in_the_stdlib_are_found():
    paths = [STDLIB / "encodings" / f"{name}.py" for name in ("cp850", "cp037", "cp858")]
    cp850, _, cp858 = records = _records(paths)
    flagged = _flagged(NearDedup()(records))
    assert flagged.keys() == {cp858["id"]}  # cp858 is cp850 with the euro sign
    assert flagged[cp858["id"]]["duplicate_of"] == cp850["id"]


def test_a_lower_threshold_catches_more(distinct_modules):
    original = next(r for r in distinct_modules if r["path"].endswith("/textwrap.py"))
    heavily_edited = _copy(original, _change_lines(original["text"], every=8), "heavy")
    records = distinct_modules + [heavily_edited]
    strict, loose = NearDedup(threshold=0.85), NearDedup(threshold=0.5)
    strict_flagged, loose_flagged = _flagged(strict(records)), _flagged(loose(records))
    assert strict_flagged == {}
    assert heavily_edited["id"] in loose_flagged
    assert loose_flagged[heavily_edited["id"]]["duplicate_of"] == original["id"]
    assert len(loose_flagged) > 1  # real modules that share much (the sre_* compatibility shims)
    with pytest.raises(ValueError, match="threshold"):
        NearDedup(threshold=0)


def test_records_already_rejected_pass_through_and_are_never_originals():
    text = "def add(a, b):\n    return a + b\n"
    rejected = {"id": "r", "text": text, "source": "local", "reason": "oversized"}
    empty = {"id": "e", "text": "  \n", "source": "local"}
    kept = {"id": "k", "text": text, "source": "local"}
    copy = {"id": "c", "text": text + "\n", "source": "local"}
    exact, near = ExactDedup(), NearDedup()
    out = list(near(exact([rejected, empty, kept, copy])))
    assert out[:3] == [rejected, empty, kept]
    assert out[3]["duplicate_of"] == "k" and out[3]["reason"] == "exact duplicate"
    assert near.counts() == {"seen": 4, "near_duplicates": 0}


def test_shingles_are_token_ngrams():
    assert code_shingles("def f(x):  return x+1", ngram=3) == {
        b"def f x", b"f x return", b"x return x", b"return x 1"}
    assert code_shingles("pass", ngram=5) == {b"pass"}
    assert code_shingles("()\n", ngram=5) == set()


DETERMINISM_SCRIPT = textwrap.dedent("""
    import json, sys
    from textbooks.similarity.dedup import NearDedup
    from textbooks.sources import python_files, read_local_file
    records = [read_local_file(p, 1_000_000) for p in python_files(sys.argv[1])]
    print(json.dumps([(r["id"], r.get("reason"), r.get("duplicate_of")) for r in NearDedup(0.7)(records)]))
""")


def test_deterministic_across_processes():
    """Same input, fresh processes with different hash seeds: the same records marked the same way."""
    outputs = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        run = subprocess.run([sys.executable, "-c", DETERMINISM_SCRIPT, str(STDLIB / "encodings")],
                             env=env, capture_output=True, text=True, check=True)
        outputs.add(run.stdout)
    assert len(outputs) == 1
    assert "near duplicate" in outputs.pop()


def test_flagged_exactly_when_the_estimate_reaches_the_threshold():
    """Copies of a real module edited at many densities: LSH proposes candidates, the estimate decides."""
    original = read_local_file(STDLIB / "textwrap.py", 1_000_000)
    candidates_below_threshold = 0
    for every in range(8, 62, 2):
        copy = _copy(original, _change_lines(original["text"], every), f"every{every}")
        step = NearDedup(threshold=0.85)
        marked = list(step([original, copy]))[1]
        similarity = minhash_signature(copy["text"]).jaccard(step.kept[0][1])
        if similarity < 0.85:
            assert "duplicate_of" not in marked
            candidates_below_threshold += bool(step.index.query(minhash_signature(copy["text"])))
        elif similarity >= 0.87:  # near the threshold, LSH may miss a pair; well above it, it must not
            assert marked["duplicate_of"] == original["id"], f"missed a copy at estimated Jaccard {similarity}"
    assert candidates_below_threshold > 0  # the estimate check, not LSH alone, rejected those


def test_keys_computed_ahead_give_the_same_decisions_without_the_text(distinct_modules):
    """The corpus stage hashes records in parallel (DedupKeys) and runs the index over the keys alone."""
    originals = distinct_modules[:40]
    copies = [_copy(originals[3], originals[3]["text"].replace("\n", "\r\n"), "crlf"),
              _copy(originals[7], _change_lines(originals[7]["text"], every=60), "edited")]
    records = originals + copies + [{"id": "empty", "text": "", "source": "local", "reason": "empty"}]
    from_text = [(r["id"], r.get("reason"), r.get("duplicate_of")) for r in NearDedup()(ExactDedup()(records))]
    keyed = [{k: v for k, v in r.items() if k != "text"} for r in DedupKeys()(records)]
    from_keys = [(r["id"], r.get("reason"), r.get("duplicate_of")) for r in NearDedup()(ExactDedup()(keyed))]
    assert from_keys == from_text
    assert sum(1 for _, reason, _ in from_keys if reason and "duplicate" in reason) == 2
    with pytest.raises(ValueError, match="64-permutation MinHash, expected 128"):
        list(NearDedup()([{**keyed[0], "minhash": keyed[0]["minhash"][:256]}]))
