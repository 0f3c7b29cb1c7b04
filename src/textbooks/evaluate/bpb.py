"""A quality measure that moves before pass@1 does: a model's loss on the canonical solutions.

For each problem the model reads the prompt and is scored on the canonical solution's tokens;
the summed loss is divided by the solution's UTF-8 bytes, in bits, so models with different
tokenizers compare. A small model far from solving HumanEval still shows training progress here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from textbooks.benchmarks import Problem
from textbooks.model.spec import resolve_model


@dataclass
class LocalScorer:
    """A local causal LM as two functions: text -> token ids, and ids -> logits (1, T, V)."""
    encode: Callable[[str], list[int]]
    logits: Callable[[torch.Tensor], torch.Tensor]
    max_len: int


def open_scorer(model: str) -> LocalScorer:
    """Our checkpoint or training run, or a local HF model directory."""
    spec = resolve_model(model)
    if spec.kind == "endpoint":
        raise ValueError(f"bits per byte needs a local model; {model} is an endpoint")
    if spec.kind == "hf":
        return hf_scorer(spec.path)
    from textbooks.model.pretrained import load_pretrained

    pretrained = load_pretrained(spec.path)
    ours, tokenizer = pretrained.model, pretrained.tokenizer
    return LocalScorer(lambda text: tokenizer.encode(text).ids, lambda ids: ours(ids)[0],
                       ours.config.block_size)


def hf_scorer(path: Path) -> LocalScorer:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    hf = AutoModelForCausalLM.from_pretrained(path).eval()
    return LocalScorer(lambda text: tokenizer(text, add_special_tokens=False)["input_ids"],
                       lambda ids: hf(input_ids=ids).logits, hf.config.max_position_embeddings)


@torch.inference_mode()
def solution_nats(scorer: LocalScorer, prompt: str, solution: str) -> float:
    """The summed loss (nats) of `solution`'s tokens given `prompt`, keeping the context's tail
    when both do not fit the model's window."""
    prompt_ids, solution_ids = scorer.encode(prompt), scorer.encode(solution)
    if not solution_ids:
        return 0.0
    ids = (prompt_ids + solution_ids)[-(scorer.max_len + 1):]
    scored = min(len(solution_ids), len(ids) - 1)  # tokens beyond the window are not scored
    x = torch.tensor([ids[:-1]], dtype=torch.long)
    logits = scorer.logits(x)[0, -scored:].float()
    targets = torch.tensor(ids[-scored:], dtype=torch.long)
    return F.cross_entropy(logits, targets, reduction="sum").item()


def canonical_bits_per_byte(model: str, problems: list[Problem]) -> float:
    """Bits per byte of `model` on all the problems' canonical solutions, given their prompts."""
    return bits_per_byte(open_scorer(model), problems)


def bits_per_byte(scorer: LocalScorer, problems: list[Problem]) -> float:
    """The summed loss of every canonical solution given its prompt, in bits, over their UTF-8 bytes."""
    nats = sum(solution_nats(scorer, p.prompt, p.canonical_solution) for p in problems)
    total_bytes = sum(len(p.canonical_solution.encode("utf-8")) for p in problems)
    return nats / math.log(2) / total_bytes
