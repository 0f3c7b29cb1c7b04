"""The learning-rate schedule: linear warmup, then linear decay (paper §2.3).

A pure function of the step, so it has no state to checkpoint, and a resumed run that raises
train.max_steps stretches the decay from where it stands.
"""

from __future__ import annotations

from textbooks.train.recipe import TrainRecipe


def learning_rate(step: int, train: TrainRecipe) -> float:
    """The learning rate of optimizer step `step` (0-based)."""
    if step < train.warmup_steps:
        return train.lr * (step + 1) / train.warmup_steps
    decay_steps = max(1, train.max_steps - 1 - train.warmup_steps)
    progress = min(1.0, (step - train.warmup_steps) / decay_steps)
    return train.lr - (train.lr - train.min_lr) * progress
