"""The educational-value classifier (paper §2.1): a random forest on code embeddings,
trained on the sample an LLM (or the heuristic labeler) labeled, that predicts the rest of the corpus.

Labels are binary (1 = educational value). Part of the labeled sample is held out, stratified by
label, to measure the classifier against the labeler it learned from; the returned model is the one
those metrics describe (trained on the rest), so the numbers in a manifest are the scoring model's.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass

import numpy as np

SAVED_FORMAT = "textbooks-random-forest/1"
MIN_PER_CLASS = 2  # a stratified split needs each class on both sides


@dataclass(frozen=True)
class ClassifierMetrics:
    """How the classifier did on the held-out part of the labeled sample."""
    accuracy: float            # held-out accuracy
    roc_auc: float             # held-out ROC-AUC of the positive-class probability
    majority_accuracy: float   # held-out accuracy of always predicting the training majority class
    n_train: int
    n_test: int
    positives: int             # labeled samples of each class, train and test together
    negatives: int


def _check_training_data(embeddings: np.ndarray, labels: np.ndarray, test_fraction: float) -> int:
    """Raise ValueError unless the data can be split and scored; return the held-out size."""
    if embeddings.ndim != 2 or labels.ndim != 1 or len(embeddings) != len(labels):
        raise ValueError(f"need embeddings (N, D) and labels (N,); got {embeddings.shape} and {labels.shape}")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError(f"labels must be 0/1 or booleans; got values {sorted(set(labels.tolist()))[:5]}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be strictly between 0 and 1, got {test_fraction}")
    counts = {label: int((labels == label).sum()) for label in (0, 1)}
    if min(counts.values()) == 0:
        only = 1 if counts[1] else 0
        raise ValueError(f"all {len(labels)} labels are {only}: a classifier needs both classes in the "
                         "labeled sample (label more records, or check the labeler)")
    if min(counts.values()) < MIN_PER_CLASS:
        raise ValueError(f"too few samples of one class ({counts[0]} negatives, {counts[1]} positives); "
                         f"need at least {MIN_PER_CLASS} of each for a held-out split")
    n_test = math.ceil(test_fraction * len(labels))  # as scikit-learn rounds a fractional test size
    if n_test < 2 or len(labels) - n_test < 2:
        raise ValueError(f"{len(labels)} labeled samples with test_fraction {test_fraction} leave {n_test} "
                         "to test: need at least 2 on each side of the split")
    return n_test


def train_classifier(embeddings: np.ndarray, labels, seed: int, test_fraction: float = 0.2,
                     n_estimators: int = 200, n_jobs: int | None = None):
    """A random forest trained on a stratified (1 - test_fraction) of the labeled embeddings, and its
    ClassifierMetrics on the rest. The same seed gives the same split and the same forest."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import accuracy_score, roc_auc_score
    from sklearn.model_selection import train_test_split

    embeddings, labels = np.asarray(embeddings), np.asarray(labels).astype(int)
    n_test = _check_training_data(embeddings, labels, test_fraction)
    x_train, x_test, y_train, y_test = train_test_split(embeddings, labels, test_size=n_test,
                                                        stratify=labels, random_state=seed)
    model = RandomForestClassifier(n_estimators=n_estimators, random_state=seed, n_jobs=n_jobs)
    model.fit(x_train, y_train)
    majority = int(y_train.mean() >= 0.5)
    metrics = ClassifierMetrics(
        accuracy=float(accuracy_score(y_test, model.predict(x_test))),
        roc_auc=float(roc_auc_score(y_test, score(model, x_test))),
        majority_accuracy=float((y_test == majority).mean()),
        n_train=len(y_train), n_test=len(y_test),
        positives=int(labels.sum()), negatives=int(len(labels) - labels.sum()))
    return model, metrics


def score(model, embeddings: np.ndarray) -> np.ndarray:
    """Each row's probability (float64, N) of educational value (class 1) under `model`."""
    embeddings = np.asarray(embeddings)
    if len(embeddings) == 0:
        return np.zeros(0)
    positive_column = list(model.classes_).index(1)
    return model.predict_proba(embeddings)[:, positive_column]


def select(scores: np.ndarray, threshold: float | None = None, top_fraction: float | None = None) -> np.ndarray:
    """A boolean keep-mask over `scores`: those >= threshold, or the ceil(top_fraction * N) highest
    (ties broken by position, first kept). Exactly one of threshold and top_fraction must be given."""
    scores = np.asarray(scores, dtype=float)
    if (threshold is None) == (top_fraction is None):
        raise ValueError("give exactly one of threshold and top_fraction")
    if threshold is not None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be a probability in [0, 1], got {threshold}")
        return scores >= threshold
    if not 0.0 < top_fraction <= 1.0:
        raise ValueError(f"top_fraction must be in (0, 1], got {top_fraction}")
    keep = np.zeros(len(scores), dtype=bool)
    # a stable sort of the negated scores puts the earlier of equal scores first
    keep[np.argsort(-scores, kind="stable")[:math.ceil(top_fraction * len(scores))]] = True
    return keep


def save_classifier(model, path: str | os.PathLike, embedder_name: str, metrics: ClassifierMetrics) -> None:
    """Write the model with the embedder it expects and its metrics, atomically (joblib pickle)."""
    import joblib
    import sklearn

    from textbooks.records import atomic_path
    saved = {"format": SAVED_FORMAT, "sklearn": sklearn.__version__, "embedder": embedder_name,
             "metrics": asdict(metrics), "model": model}
    with atomic_path(path) as tmp:
        joblib.dump(saved, tmp)


def load_classifier(path: str | os.PathLike) -> tuple[object, str, ClassifierMetrics]:
    """(model, embedder name, metrics) saved by `save_classifier`.

    The file is a pickle: loading one runs code it names, so load only files you (or this pipeline) wrote.
    """
    import joblib
    if not os.path.isfile(path):
        raise FileNotFoundError(f"classifier file {path} does not exist")
    saved = joblib.load(path)
    if not isinstance(saved, dict) or saved.get("format") != SAVED_FORMAT:
        raise ValueError(f"{path} is not a classifier saved by textbooks ({SAVED_FORMAT})")
    return saved["model"], saved["embedder"], ClassifierMetrics(**saved["metrics"])
