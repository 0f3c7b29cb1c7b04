"""Sample completions of prompts from a model: KV-cache decoding of a batch of prompts of different
lengths (left-padded). A completion ends at <|endoftext|>, before the first stop sequence (in the
completion text), after `max_new_tokens` tokens, or when the model's context (block_size) is full.

`textbooks generate` (textbooks.model.generate_cli) is this module's command; evaluation, the local
LLM clients and the server call `complete` directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch

from textbooks.codetext import cut_at_stop
from textbooks.model.onednn import inference_model
from textbooks.tokens import EOT


@dataclass(frozen=True)
class SamplingParams:
    max_new_tokens: int = 128
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0  # nucleus sampling: sample from the smallest set of tokens holding top_p of the mass
    stop: tuple[str, ...] = ()  # text stop sequences; the completion is cut before the first one
    seed: int | None = None  # prompt i of a call is sampled from seed + i; None: fresh random seeds

    def __post_init__(self) -> None:
        if self.max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be >= 0, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if any(not s for s in self.stop):
            raise ValueError("stop sequences must not be empty")


@dataclass(frozen=True)
class Completion:
    text: str  # decoded new text, cut at a stop sequence (stop not included)
    token_ids: list[int]  # generated ids (up to the cut)
    finish_reason: str  # "stop" (stop sequence or <|endoftext|>) or "length"
    prompt_tokens: int


@dataclass
class Generation:
    """One prompt's generation in progress."""
    prompt_ids: list[int]
    budget: int  # new tokens it may take: max_new_tokens, or fewer where the model's context ends
    ids: list[int] = field(default_factory=list)
    finish_reason: str | None = None
    generator: torch.Generator | None = None  # this row's own random stream (sampling only)


def complete(model, tokenizer, prompts: list[str], params: SamplingParams, batch_size: int = 16,
             seeds: Sequence[int | None] | None = None) -> list[Completion]:
    """Completions of `prompts` (same order), generated `batch_size` prompts at a time with a KV cache.

    Prompts of similar token lengths share a batch, so little is padded. Each prompt samples from
    its own random stream, seeded by `seeds[i]` when given (else params.seed + i), so a completion
    does not depend on which other prompts share its batch. A prompt longer than the model's
    block_size gets an empty completion with finish_reason "length".
    """
    eot_id = tokenizer.token_to_id(EOT)
    prompt_ids = _encode_prompts(tokenizer, prompts, eot_id)
    rows = generate_ids(model, prompt_ids, params, eot_id, StopScanner(tokenizer, params.stop), batch_size, seeds)
    return [_completion(row, tokenizer, params.stop) for row in rows]


def generate_ids(model, prompts: list[list[int]], params: SamplingParams, eot_id: int | None = None,
                 stops: StopScanner | None = None, batch_size: int = 16,
                 seeds: Sequence[int | None] | None = None) -> list[Generation]:
    """The token-level generation behind `complete`: each prompt's ids extended until `eot_id`, a stop
    sequence found by `stops`, or its budget of new tokens; same order as `prompts`."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if seeds is not None and len(seeds) != len(prompts):
        raise ValueError(f"{len(seeds)} seeds for {len(prompts)} prompts")
    if seeds is None:
        seeds = [None if params.seed is None else params.seed + i for i in range(len(prompts))]
    device = model.wte.weight.device
    rows = [Generation(ids, _budget(ids, params.max_new_tokens, model.config.block_size),
                       generator=_row_generator(seed, device) if params.temperature > 0 else None)
            for ids, seed in zip(prompts, seeds)]
    pending = sorted((row for row in rows if row.budget > 0), key=lambda row: -len(row.prompt_ids))
    if not pending:
        return rows
    was_training = model.training
    fast = inference_model(model).eval()  # no dropout while generating
    try:
        for start in range(0, len(pending), batch_size):
            generate_batch(fast, pending[start:start + batch_size], params, stops or StopScanner(None, ()), eot_id)
    finally:
        model.train(was_training)
    return rows


def _row_generator(seed: int | None, device: torch.device) -> torch.Generator:
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    return generator


def _encode_prompts(tokenizer, prompts: list[str], eot_id: int | None) -> list[list[int]]:
    encoded = [e.ids for e in tokenizer.encode_batch(list(prompts))]
    if any(not ids for ids in encoded) and eot_id is None:
        raise ValueError("an empty prompt needs a start token, and the tokenizer has no <|endoftext|>")
    # an empty prompt starts a new document, as <|endoftext|> does in the training data (§2.3)
    return [ids or [eot_id] for ids in encoded]


def _budget(prompt_ids: list[int], max_new_tokens: int, block_size: int) -> int:
    # the n-th new token is predicted from prompt + n - 1 tokens, which must fit the block
    return max(0, min(max_new_tokens, block_size - len(prompt_ids) + 1))


@torch.inference_mode()
def generate_batch(model, rows: list[Generation], params: SamplingParams, stops: StopScanner,
                   eot_id: int | None) -> None:
    """Extend every row until it finishes: <|endoftext|>, a stop sequence, or its budget.

    One forward over the left-padded prompts fills the cache, then one token per step. Rows that
    finished are dropped from the batch once they are half of it (dropping costs a cache copy).
    """
    device = model.wte.weight.device
    prompts, pad = left_padded([row.prompt_ids for row in rows], device)
    cache = model.new_cache(pad, prompts.size(1) + max(row.budget for row in rows) - 1)
    logits = model(prompts, cache=cache)[0][:, -1]  # (B, vocab_size)
    live = rows  # the rows in the cache, in its order
    while True:
        next_ids = sample(logits, params, [row.generator for row in live])  # (B,)
        _take(live, next_ids.tolist(), eot_id, stops)
        unfinished = [i for i, row in enumerate(live) if row.finish_reason is None]
        if not unfinished:
            return
        if len(unfinished) <= len(live) // 2:
            keep = torch.tensor(unfinished, device=device)
            cache.keep_rows(keep)
            next_ids, live = next_ids.index_select(0, keep), [live[i] for i in unfinished]
        logits = model(next_ids[:, None], cache=cache)[0][:, -1]


def left_padded(prompts: list[list[int]], device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids (B, T) with each prompt at the right end, and the padding count of each row (B,)."""
    T = max(len(ids) for ids in prompts)
    # the padding's value is never attended to; use each row's own first token
    rows = [[ids[0]] * (T - len(ids)) + ids for ids in prompts]
    pad = [T - len(ids) for ids in prompts]
    return torch.tensor(rows, device=device), torch.tensor(pad, device=device)


def sample(logits: torch.Tensor, params: SamplingParams, generators: list[torch.Generator | None]) -> torch.Tensor:
    """The next token of each row (B,) from its logits (B, vocab_size), on the logits' device;
    row i draws its randomness from generators[i] alone."""
    if params.temperature == 0:
        return greedy(logits)
    probs = torch.softmax(logits.float() / params.temperature, dim=-1)
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    if params.top_p < 1:
        # nucleus: keep a token while the more likely ones hold less than top_p (the first is always kept)
        sorted_probs.masked_fill_(sorted_probs.cumsum(dim=-1) - sorted_probs >= params.top_p, 0.0)
    # inverse-CDF sampling with one uniform per row from the row's own stream
    cdf = sorted_probs.cumsum(dim=-1)  # (B, V)
    u = torch.cat([torch.rand(1, generator=g, device=logits.device) for g in generators]) * cdf[:, -1]
    choice = torch.searchsorted(cdf, u[:, None], right=True).clamp_(max=cdf.size(-1) - 1)  # (B, 1)
    return order.gather(-1, choice).squeeze(-1)


def greedy(logits: torch.Tensor, chunk: int = 128) -> torch.Tensor:
    """logits.argmax(dim=-1) of (B, V) logits, the first index of each row's maximum, in two passes.

    argmax over a row runs as a scalar loop on CPU (~8 us per 8192 logits), while max is vectorized:
    the max of each chunk of `chunk` logits finds the first chunk holding the row's maximum (a NaN
    counts as the maximum, as in argmax), and argmax runs over that chunk alone.
    """
    B, V = logits.shape
    if V % chunk:
        return logits.argmax(dim=-1)
    chunks = logits.view(B, V // chunk, chunk)
    best_chunk = chunks.amax(dim=-1).argmax(dim=-1)  # (B,)
    within = chunks[torch.arange(B, device=logits.device), best_chunk].argmax(dim=-1)
    return best_chunk * chunk + within


def _take(rows: list[Generation], tokens: list[int], eot_id: int | None, stops: StopScanner) -> None:
    """Give each unfinished row its sampled token, and mark the rows this finishes."""
    extended = []
    for row, token in zip(rows, tokens):
        if row.finish_reason is not None:
            continue  # its tokens are computed until the batch is compacted, and dropped
        if token == eot_id:
            row.finish_reason = "stop"
        else:
            row.ids.append(token)
            extended.append(row)
    for row, stopped in zip(extended, stops.scan([row.ids for row in extended])):
        if stopped:
            row.finish_reason = "stop"
        elif len(row.ids) >= row.budget:
            row.finish_reason = "length"


class StopScanner:
    """Finds stop sequences as tokens arrive, decoding only the tail of each completion.

    A stop sequence that was not in the text before the newest token ends inside that token, so
    it lies within the last (its length in bytes) tokens: every token is at least one byte.
    """

    def __init__(self, tokenizer, stops: tuple[str, ...]):
        self.tokenizer = tokenizer
        self.stops = stops
        self.window = 1 + max((len(s.encode("utf-8")) for s in stops), default=0)

    def scan(self, completions: list[list[int]]) -> list[bool]:
        """For each completion's ids, whether its text now holds a stop sequence."""
        if not self.stops or not completions:
            return [False] * len(completions)
        tails = self.tokenizer.decode_batch([ids[-self.window:] for ids in completions])
        return [any(stop in tail for stop in self.stops) for tail in tails]


def _completion(row: Generation, tokenizer, stops: tuple[str, ...]) -> Completion:
    text, stopped = cut_at_stop(tokenizer.decode(row.ids), stops)
    if not stopped:
        return Completion(text, list(row.ids), row.finish_reason or "length", len(row.prompt_ids))
    # keep the fewest tokens whose text reaches the cut (the last may hold the stop's start)
    kept = len(row.ids)
    while kept > 0 and len(tokenizer.decode(row.ids[:kept - 1])) >= len(text):
        kept -= 1
    return Completion(text, row.ids[:kept], "stop", len(row.prompt_ids))
