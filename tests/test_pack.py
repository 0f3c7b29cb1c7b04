import json
import pickle
import shutil

import numpy as np
import pytest

from textbooks import cli
from textbooks.sources import default_source_dir, python_files
from textbooks.prepare import pack as pack_stage
from textbooks.prepare.pack import split_of
from textbooks.prepare.tokenizer import train_tokenizer
from textbooks.records import read_manifest, write_manifest, write_shard
from textbooks.tokens import EOT, TokenDataset, load_tokenizer

S = 32
VAL_FRACTION = 0.2
ROWS_PER_SHARD = 40
LITERAL_EOT_DOC = f"marker = '{EOT}'  # a literal in the text, not a document boundary\n"


def pack(data, tokenizer, out, **options):
    """The pack stage as a library caller runs it: one dataset or several."""
    data = data if isinstance(data, list) else [data]
    return pack_stage.run(pack_stage.Options(data=data, tokenizer=tokenizer, out=out, **options))


def _stdlib_texts(n: int) -> list[str]:
    texts = []
    for path in python_files(default_source_dir()):
        if 200 < path.stat().st_size < 3000:
            try:
                text = path.read_bytes().decode("utf-8")
            except UnicodeDecodeError:
                continue
            if text not in texts:
                texts.append(text)
        if len(texts) == n:
            return texts
    raise AssertionError("the standard library has too few small files")


def _make_corpus(directory, texts):
    records = [{"id": f"doc-{i}", "text": text, "source": "local"} for i, text in enumerate(texts)]
    write_shard(records[:100], directory / "00000.parquet")
    write_shard(records[100:], directory / "00001.parquet")
    write_manifest(directory, "corpus", {"documents": len(records)}, {"records": len(records)})
    return records


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    directory = tmp_path_factory.mktemp("corpus")
    return directory, _make_corpus(directory, [LITERAL_EOT_DOC] + _stdlib_texts(150))


@pytest.fixture(scope="module")
def tokenizer_path(tmp_path_factory, corpus):
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    train_tokenizer([r["text"] for r in corpus[1]], 600, path)
    return path


@pytest.fixture(scope="module")
def packed(tmp_path_factory, corpus, tokenizer_path):
    out = tmp_path_factory.mktemp("pack")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("textbooks.prepare.pack.ENCODE_BATCH_CHARS", 5000)  # many batches: rows span batch boundaries
        manifest = pack(corpus[0], tokenizer_path, out, seq_len=S, val_fraction=VAL_FRACTION,
                        shard_tokens=ROWS_PER_SHARD * (S + 1))
    return out, manifest


def _stitch(ds: TokenDataset) -> np.ndarray:
    # The split's token stream: the rows with their one-token overlaps dropped.
    rows = np.stack([ds[i] for i in range(len(ds))])
    return np.concatenate([rows[0], rows[1:, 1:].ravel()])


def _documents(ds: TokenDataset, tokenizer) -> list[str]:
    # The split's complete documents (not the last, cut one), cut at EOT ids.
    stream = _stitch(ds)
    pieces = np.split(stream, np.flatnonzero(stream == ds.eot_id) + 1)[:-1]
    return [tokenizer.decode(piece[:-1].tolist(), skip_special_tokens=False) for piece in pieces]


def test_manifest_and_files_follow_the_pack_format(packed, tokenizer_path):
    out, manifest = packed
    tokenizer = load_tokenizer(tokenizer_path)
    assert manifest["stage"] == "pack" and manifest["seq_len"] == S and manifest["dtype"] == "uint16"
    assert manifest["vocab_size"] == 600 and manifest["eot_id"] == tokenizer.token_to_id(EOT)
    train = manifest["splits"]["train"]
    assert len(train["shards"]) > 2 and train["shards"][0] == "train-00000.bin"
    for info in manifest["splits"].values():
        assert info["tokens"] == info["rows"] * S
        sizes = [(out / name).stat().st_size for name in info["shards"]]
        assert sum(sizes) == info["rows"] * (S + 1) * 2
        assert all(size == ROWS_PER_SHARD * (S + 1) * 2 for size in sizes[:-1])
    assert load_tokenizer(out / "tokenizer.json").to_str() == tokenizer.to_str()


def test_rows_stitch_back_to_the_documents_joined_with_eot(packed, corpus):
    out, _ = packed
    tokenizer = load_tokenizer(out / "tokenizer.json")
    tokenizer.encode_special_tokens = True  # as pack does: a literal EOT in a text is text
    for split in ("train", "val"):
        ds = TokenDataset(out, split)
        texts = [r["text"] for r in corpus[1] if split_of(r["id"], 0, VAL_FRACTION) == split]
        stream = _stitch(ds)
        assert len(stream) == len(ds) * S + 1
        expected = np.concatenate([tokenizer.encode(t).ids + [ds.eot_id] for t in texts])
        assert 0 <= len(expected) - len(stream) < S  # only the trailing partial row is dropped
        assert np.array_equal(stream, expected[:len(stream)])
        decoded = tokenizer.decode(stream.tolist(), skip_special_tokens=False)
        assert "".join(t + EOT for t in texts).startswith(decoded.rstrip("\ufffd"))


def test_consecutive_rows_overlap_by_one_token(packed):
    ds = TokenDataset(packed[0], "train")
    assert len(ds) > 2 * ROWS_PER_SHARD  # the rows cross shard boundaries
    for i in range(len(ds) - 1):
        assert ds[i][-1] == ds[i + 1][0]


def test_each_document_is_wholly_in_one_split(packed, corpus):
    out, _ = packed
    tokenizer = load_tokenizer(out / "tokenizer.json")
    train = _documents(TokenDataset(out, "train"), tokenizer)
    val = _documents(TokenDataset(out, "val"), tokenizer)
    texts = {r["text"] for r in corpus[1]}
    assert set(train) <= texts and set(val) <= texts
    assert not set(train) & set(val)
    assert 0.05 < len(val) / (len(train) + len(val)) < 0.4
    assert LITERAL_EOT_DOC in train + val  # its literal <|endoftext|> did not cut it in two


def test_split_assignment_is_stable_and_seeded():
    ids = [f"doc-{i}" for i in range(1000)]
    val = {i for i in ids if split_of(i, 0, 0.1) == "val"}
    assert val == {i for i in ids if split_of(i, 0, 0.1) == "val"}
    assert 50 < len(val) < 150
    assert val != {i for i in ids if split_of(i, 1, 0.1) == "val"}
    assert all(split_of(i, 0, 0.0) == "train" for i in ids)


def test_token_dataset_rows(packed):
    out, manifest = packed
    ds = TokenDataset(out, "val")
    assert len(ds) == manifest["splits"]["val"]["rows"] > 0
    row = ds[0]
    assert row.dtype == np.int64 and row.shape == (S + 1,)
    assert np.array_equal(ds[-1], ds[len(ds) - 1])
    assert (ds.seq_len, ds.vocab_size, ds.eot_id) == (S, 600, manifest["eot_id"])
    with pytest.raises(IndexError, match="out of range"):
        ds[len(ds)]


def test_token_dataset_pickles_paths_not_data(packed):
    ds = TokenDataset(packed[0], "train")
    ds[0]  # maps the shards
    clone = pickle.loads(pickle.dumps(ds))
    assert len(pickle.dumps(ds)) < sum(path.stat().st_size for path in ds.shard_paths) / 10
    assert np.array_equal(clone[len(ds) - 1], ds[len(ds) - 1])


def test_large_vocabulary_packs_as_uint32(tmp_path, tokenizer_path):
    tokenizer = load_tokenizer(tokenizer_path)
    tokenizer.add_tokens([f"<x{i}>" for i in range(70_000)])
    big = tmp_path / "big.json"
    big.write_text(tokenizer.to_str(), encoding="utf-8")
    corpus = tmp_path / "corpus"
    _make_corpus(corpus, [f"a = '<x{i}>' * {i}\n" for i in range(65_000, 65_300)])
    manifest = pack(corpus, big, tmp_path / "pack", seq_len=S, val_fraction=0.0)
    assert manifest["dtype"] == "uint32" and manifest["vocab_size"] > 1 << 16
    ds = TokenDataset(tmp_path / "pack")
    assert (tmp_path / "pack" / "train-00000.bin").stat().st_size == len(ds) * (S + 1) * 4
    assert max(ds[i].max() for i in range(len(ds))) >= 1 << 16


def test_rerun_with_same_config_is_a_no_op(packed, corpus, tokenizer_path, capsys):
    out, manifest = packed
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    again = pack(corpus[0], tokenizer_path, out, seq_len=S, val_fraction=VAL_FRACTION,
                 shard_tokens=ROWS_PER_SHARD * (S + 1))
    assert "nothing to do" in capsys.readouterr().out
    assert again == manifest
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == mtimes


def test_new_config_repacks_and_removes_stale_shards(tmp_path, corpus, tokenizer_path):
    out = tmp_path / "pack"
    pack(corpus[0], tokenizer_path, out, seq_len=S, shard_tokens=500 * (S + 1))
    assert len(list(out.glob("train-*.bin"))) > 1
    manifest = pack(corpus[0], tokenizer_path, out, seq_len=2 * S)
    assert sorted(p.name for p in out.glob("*.bin")) == ["train-00000.bin", "val-00000.bin"]
    assert TokenDataset(out).seq_len == 2 * S == manifest["seq_len"]


def test_lone_surrogates_in_jsonl_input_do_not_abort(tmp_path, tokenizer_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    lines = [json.dumps({"id": str(i), "text": f"x = '\ud800{i}'\n" * 20, "source": "synth"}) for i in range(5)]
    (corpus / "00000.jsonl").write_text("\n".join(lines), encoding="utf-8")
    write_manifest(corpus, "synth", {}, {"records": 5})
    manifest = pack(corpus, tokenizer_path, tmp_path / "pack", seq_len=S, val_fraction=0.0)
    assert manifest["counts"]["documents"] == 5 and manifest["splits"]["train"]["rows"] > 0


def test_bad_arguments_are_named(tmp_path, corpus, tokenizer_path):
    data = corpus[0]
    with pytest.raises(ValueError, match="seq_len"):
        pack(data, tokenizer_path, tmp_path / "p", seq_len=0)
    with pytest.raises(ValueError, match="val_fraction"):
        pack(data, tokenizer_path, tmp_path / "p", seq_len=S, val_fraction=1.0)
    with pytest.raises(FileNotFoundError, match="missing.json"):
        pack(data, tmp_path / "missing.json", tmp_path / "p", seq_len=S)
    (tmp_path / "unfinished").mkdir()
    with pytest.raises(FileNotFoundError, match="unfinished"):
        pack(tmp_path / "unfinished", tokenizer_path, tmp_path / "p", seq_len=S)
    with pytest.raises(ValueError, match="also an input"):
        pack(data, tokenizer_path, data, seq_len=S)
    no_id = tmp_path / "no-id"
    write_shard([{"id": "x", "text": "y", "source": "s"}], no_id / "00000.parquet")
    (no_id / "00001.jsonl").write_text(json.dumps({"text": "x = 1"}), encoding="utf-8")
    write_manifest(no_id, "corpus", {}, {})
    with pytest.raises(ValueError, match="no-id"):
        pack(no_id, tokenizer_path, tmp_path / "p", seq_len=S)


def test_damaged_packs_give_clear_errors(tmp_path, packed, corpus):
    out = tmp_path / "pack"
    shutil.copytree(packed[0], out)
    with pytest.raises(KeyError, match="test"):
        TokenDataset(out, "test")
    with pytest.raises(ValueError, match="not a token pack"):
        TokenDataset(corpus[0])
    shard = out / "train-00001.bin"
    shard.write_bytes(shard.read_bytes()[:-2])
    with pytest.raises(ValueError, match="train-00001.bin"):
        TokenDataset(out)
    shard.unlink()
    with pytest.raises(FileNotFoundError, match="train-00001.bin"):
        TokenDataset(out)
    (out / "manifest.json").unlink()
    with pytest.raises(FileNotFoundError, match="manifest.json"):
        TokenDataset(out)


def test_command_packs_several_corpora(tmp_path, corpus, tokenizer_path):
    second = tmp_path / "second"
    _make_corpus(second, ["def g():\n    return 2\n" * 50])
    out = tmp_path / "pack"
    assert cli.main(["pack", "--data", str(corpus[0]), "--data", str(second), "--tokenizer", str(tokenizer_path),
                     "--out", str(out), "--seq-len", "16", "--val-fraction", "0"]) == 0
    manifest = read_manifest(out)
    assert manifest["counts"]["documents"] == len(corpus[1]) + 1
    assert set(manifest["inputs"]) == {str(corpus[0]), str(second)}
    assert len(TokenDataset(out)) == manifest["splits"]["train"]["rows"] > 0
