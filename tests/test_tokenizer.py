import json

import pytest

from textbooks import cli
from textbooks.sources import default_source_dir, python_files
from textbooks.records import write_manifest, write_shard
from textbooks.prepare.tokenizer import MIN_VOCAB_SIZE, WHITESPACE_RUNS, train_tokenizer
from textbooks.tokens import EOT, eot_id, load_tokenizer

VOCAB_SIZE = 1024
HARD_TEXTS = [
    "def f():\r\n    return 1\r\n",  # CRLF
    "if x:\n\tif y:\n\t\treturn '\t'\n\t\t\t\t\t\t\t\t\t\t\t\tz\n",  # tabs, including a run longer than 9
    "s = 'héllo wörld — ünïcödé 中文 😀👍🏽'\n",
    "x = 1" + " " * 100 + "# far comment\n" + " " * 33 + "y\n",  # runs longer than 31 spaces
    "trailing   \n \n  \t \t\n",
    "nul \0 and bell \x07 and del \x7f\n",
    "combining e\u0301 and zero-width \u200b joiner\n",
    f"a literal {EOT} inside a document\n",
    "",
]


def _stdlib_texts() -> list[str]:
    texts = []
    for path in python_files(default_source_dir()):
        if path.stat().st_size < 40_000:
            try:
                texts.append(path.read_bytes().decode("utf-8"))  # bytes: keep CRLF as it is
            except UnicodeDecodeError:
                continue
    return texts


@pytest.fixture(scope="module")
def stdlib_texts():
    return _stdlib_texts()


@pytest.fixture(scope="module")
def short_texts(stdlib_texts):
    return [t for t in stdlib_texts if len(t) < 4000][:40] + HARD_TEXTS


@pytest.fixture(scope="module")
def trained(tmp_path_factory, stdlib_texts):
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    return train_tokenizer(stdlib_texts[::5][:300], VOCAB_SIZE, path), path


def test_round_trip_on_stdlib_files(trained, stdlib_texts):
    tokenizer, _ = trained
    held_out = stdlib_texts[1::6]  # files the tokenizer was not trained on
    crlf = (default_source_dir() / "lib2to3/tests/data/crlf.py").read_bytes().decode("utf-8")
    texts = held_out + [t for t in stdlib_texts if not t.isascii()] + [crlf]
    assert "\r\n" in crlf and sum(not t.isascii() for t in texts) > 10
    encodings = tokenizer.encode_batch(texts)
    failures = [i for i, (text, enc) in enumerate(zip(texts, encodings))
                if tokenizer.decode(enc.ids, skip_special_tokens=False) != text]
    assert not failures, f"{len(failures)} of {len(texts)} files do not round-trip"


@pytest.mark.parametrize("text", HARD_TEXTS)
def test_round_trip_on_hard_strings(trained, text):
    tokenizer, _ = trained
    assert tokenizer.decode(tokenizer.encode(text).ids, skip_special_tokens=False) == text


def test_eot_is_one_special_token(trained):
    tokenizer, _ = trained
    eot = eot_id(tokenizer)
    assert tokenizer.encode(EOT).ids == [eot]
    assert tokenizer.encode(f"x = 1\n{EOT}def f(): pass\n").ids.count(eot) == 1
    assert tokenizer.decode([eot], skip_special_tokens=False) == EOT


def test_whitespace_runs_are_single_tokens(trained):
    tokenizer, _ = trained
    for run in WHITESPACE_RUNS:
        assert tokenizer.encode(run).ids == [tokenizer.token_to_id(run)], repr(run)
    code = "class A:\n    def f(self):\n        if self.x:\n            return 1\n"
    tokens = tokenizer.encode(code).tokens
    for indent in (" " * 4, " " * 8, " " * 12):
        assert indent in tokens
    # The word after indentation is learned without its leading-space marker.
    assert "return" in tokens and "def" in tokens


def test_vocabulary_has_exactly_the_requested_ids(trained):
    tokenizer, _ = trained
    assert tokenizer.get_vocab_size() == VOCAB_SIZE
    assert sorted(tokenizer.get_vocab().values()) == list(range(VOCAB_SIZE))


def test_saved_tokenizer_loads_with_identical_encodings(trained, short_texts):
    tokenizer, path = trained
    expected = [e.ids for e in tokenizer.encode_batch(short_texts)]
    for source in (path, path.parent):  # the file, or the directory holding it
        assert [e.ids for e in load_tokenizer(source).encode_batch(short_texts)] == expected


def test_loads_a_vocab_and_merges_directory_like_codegens(trained, short_texts, tmp_path):
    tokenizer, _ = trained
    tokenizer.model.save(str(tmp_path))  # vocab.json + merges.txt, as in codegen-350M-mono
    added = {run: tokenizer.token_to_id(run) for run in WHITESPACE_RUNS}
    (tmp_path / "added_tokens.json").write_text(json.dumps(added), encoding="utf-8")
    loaded = load_tokenizer(tmp_path)
    expected = [e.ids for e in tokenizer.encode_batch(short_texts)]
    assert [e.ids for e in loaded.encode_batch(short_texts)] == expected
    assert eot_id(loaded) == eot_id(tokenizer)


def test_vocab_merges_directory_with_gapped_added_ids_is_an_error(trained, tmp_path):
    tokenizer, _ = trained
    tokenizer.model.save(str(tmp_path))
    (tmp_path / "added_tokens.json").write_text(json.dumps({"  ": VOCAB_SIZE + 5}), encoding="utf-8")
    with pytest.raises(ValueError, match="added_tokens.json"):
        load_tokenizer(tmp_path)


def test_load_errors_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.json"):
        load_tokenizer(tmp_path / "nope.json")
    with pytest.raises(FileNotFoundError, match="neither tokenizer.json"):
        load_tokenizer(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.json"):
        load_tokenizer(bad)


def test_lone_surrogates_do_not_abort_training(tmp_path):
    texts = ["ok \ud800 text\n", "def f():\n    return '\udfff'\n"] * 5
    tokenizer = train_tokenizer(texts, MIN_VOCAB_SIZE + 20, tmp_path / "t.json")
    assert (tmp_path / "t.json").is_file()
    assert tokenizer.decode(tokenizer.encode("ok text").ids) == "ok text"


def test_training_is_deterministic(tmp_path, stdlib_texts):
    texts = stdlib_texts[:40]
    first = train_tokenizer(texts, 600, tmp_path / "a.json").to_str()
    assert train_tokenizer(texts, 600, tmp_path / "b.json").to_str() == first


def test_too_small_vocab_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="vocab_size 100"):
        train_tokenizer(["x"], 100, tmp_path / "t.json")


def test_command_trains_from_a_corpus_directory(tmp_path, stdlib_texts):
    corpus = tmp_path / "corpus"
    records = [{"id": str(i), "text": text, "source": "local"} for i, text in enumerate(stdlib_texts[:60])]
    write_shard(records, corpus / "00000.parquet")
    write_manifest(corpus, "corpus", {}, {"records": len(records)})
    out = tmp_path / "tok"
    assert cli.main(["tokenizer", "--data", str(corpus), "--vocab-size", "500", "--out", str(out),
                     "--max-docs", "30"]) == 0
    tokenizer = load_tokenizer(out)
    assert tokenizer.get_vocab_size() == 500
    assert tokenizer.decode(tokenizer.encode(stdlib_texts[0]).ids) == stdlib_texts[0]


def test_command_rejects_a_missing_corpus(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing"):
        cli.main(["tokenizer", "--data", str(tmp_path / "missing"), "--vocab-size", "500",
                  "--out", str(tmp_path / "t")])


def test_malformed_vocab_directory_is_named(tmp_path):
    (tmp_path / "vocab.json").write_text("[1, 2]", encoding="utf-8")
    (tmp_path / "merges.txt").write_text("a b\n", encoding="utf-8")
    with pytest.raises(ValueError, match="vocab.json"):
        load_tokenizer(tmp_path)
