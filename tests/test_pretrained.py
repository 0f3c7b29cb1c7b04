"""`load_pretrained`: a model with the tokenizer it was trained with, from whatever names it (one
of our model directories, a training run's latest checkpoint, an HF Phi directory)."""

import shutil

import pytest
import torch

from textbooks.layout import CHECKPOINTS, LATEST, TOKENIZER
from textbooks.model.hf import export_hf
from textbooks.model.pretrained import load_pretrained, locate
from textbooks.prepare.tokenizer import train_tokenizer


@pytest.fixture(scope="module")
def ours(make_tiny_checkpoint):
    return make_tiny_checkpoint(block_size=64)


def logits(pretrained, text="def add(a, b):\n    return a + b\n"):
    ids = torch.tensor([pretrained.tokenizer.encode(text).ids])
    with torch.inference_mode():
        return pretrained.model(ids)[0]


def test_a_model_directory_loads_with_the_tokenizer_beside_it(ours):
    pretrained = load_pretrained(ours)
    assert pretrained.model_dir == ours
    assert pretrained.tokenizer_path == ours / TOKENIZER
    assert pretrained.tokenizer.to_str() == (ours / TOKENIZER).read_text()


def test_a_training_run_loads_its_latest_checkpoint_with_the_run_tokenizer(ours, tmp_path):
    run = tmp_path / "run"
    for step in ("step-00001", "step-00002"):
        shutil.copytree(ours, run / CHECKPOINTS / step, ignore=shutil.ignore_patterns(TOKENIZER))
    (run / CHECKPOINTS / LATEST).write_text("step-00002\n")
    shutil.copy(ours / TOKENIZER, run / TOKENIZER)
    pretrained = load_pretrained(run)
    assert pretrained.model_dir == run / CHECKPOINTS / "step-00002"
    assert pretrained.tokenizer_path == run / TOKENIZER
    assert torch.equal(logits(pretrained), logits(load_pretrained(ours)))


def test_an_hf_directory_loads_as_our_model_with_its_own_tokenizer(ours, tmp_path):
    mine = load_pretrained(ours)
    export_hf(mine.model, tmp_path / "hf")
    shutil.copy(ours / TOKENIZER, tmp_path / "hf" / TOKENIZER)
    theirs = load_pretrained(tmp_path / "hf")
    assert theirs.tokenizer_path == tmp_path / "hf"
    assert torch.allclose(logits(theirs), logits(mine), atol=1e-5)


def test_another_tokenizer_than_the_recorded_one_is_refused(ours, tmp_path):
    train_tokenizer(["x = 1\n" * 50, "def f():\n    pass\n" * 50], 300, tmp_path / TOKENIZER)
    with pytest.raises(ValueError, match="not the tokenizer .* was trained with"):
        load_pretrained(ours, tokenizer=tmp_path / TOKENIZER)


def test_what_holds_no_local_model_is_refused_before_anything_loads(ours, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        locate(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="endpoint"):
        locate("http://127.0.0.1:9/v1#m")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds neither"):
        locate(tmp_path / "empty")
    bare = tmp_path / "bare"
    shutil.copytree(ours, bare, ignore=shutil.ignore_patterns(TOKENIZER))
    with pytest.raises(FileNotFoundError, match="pass --tokenizer"):
        locate(bare)
    assert locate(bare, tokenizer=ours / TOKENIZER)[1] == ours / TOKENIZER
