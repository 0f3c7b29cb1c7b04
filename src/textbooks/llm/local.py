"""Backends that run a model in this process: one of our checkpoints, or an HF transformers directory.

Requests are grouped by their sampling parameters and each group is generated in batches; each
request keeps its own seed (a greedy request's seed is irrelevant and ignored). Chat requests are
rendered with the model's own chat template when an HF tokenizer has one, and with our plain
template (`render_chat`) otherwise.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from tqdm import tqdm

from textbooks.codetext import cut_at_stop
from textbooks.llm.base import CHAT_STOP, Backend, OnResponse, OnSend, Request, Response, render_chat
from textbooks.records import files_fingerprint


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


@dataclass(frozen=True)
class Sampling:
    """What requests generated in one batch share."""
    max_tokens: int
    temperature: float
    top_p: float
    stop: tuple[str, ...]


def sampling_groups(requests: Sequence[Request], chat_stop: tuple[str, ...]) -> dict[Sampling, list[int]]:
    """Request indices grouped by their sampling; chat requests also stop at `chat_stop`."""
    groups: dict[Sampling, list[int]] = defaultdict(list)
    for i, r in enumerate(requests):
        stop = r.stop + chat_stop if r.is_chat else r.stop
        groups[Sampling(r.max_tokens, r.temperature, r.top_p, stop)].append(i)
    return groups


class LocalBackend(Backend):
    """Shared loop of the in-process backends: group, generate each group, report responses in order."""

    chat_stop: tuple[str, ...] = (CHAT_STOP,)

    def complete(self, requests: Sequence[Request], progress: bool = False,
                 on_response: OnResponse | None = None, on_send: OnSend | None = None) -> list[Response]:
        """Generate every request; responses in the order of `requests` (nothing is paid for a request
        a killed process was generating, so none is reported as sent)."""
        responses: list[Response | None] = [None] * len(requests)
        with tqdm(total=len(requests), desc="generating", unit="request", disable=not progress) as bar:
            for sampling, indices in sampling_groups(requests, self.chat_stop).items():
                answers = self.generate([self.prompt_text(requests[i]) for i in indices],
                                        [requests[i].seed for i in indices], sampling)
                for i, response in zip(indices, answers):
                    responses[i] = response
                    if on_response is not None:
                        on_response(i, response)
                bar.update(len(indices))
        return responses

    def prompt_text(self, request: Request) -> str:
        """The text the model continues: the prompt, or the chat rendered by the template."""
        return render_chat(request.messages) if request.is_chat else request.prompt

    def generate(self, prompts: list[str], seeds: list[int | None], sampling: Sampling) -> list[Response]:
        """One response per prompt, all generated with `sampling`, prompt i sampled with seeds[i]."""
        raise NotImplementedError


class CheckpointClient(LocalBackend):
    """One of our model directories, checkpoints or training runs, generated with `textbooks.model.generate`."""

    def __init__(self, path: str | Path, tokenizer: str | Path | None = None, batch_size: int = 16,
                 device: str | None = None):
        from textbooks.layout import CONFIG, WEIGHTS
        from textbooks.model.pretrained import load_pretrained
        from textbooks.model.spec import our_model_dir

        pretrained = load_pretrained(our_model_dir(path), tokenizer, device or default_device())
        self.model, self.tokenizer = pretrained.model, pretrained.tokenizer
        self.batch_size = batch_size
        self.model_dir = model_dir = pretrained.model_dir
        fingerprint = files_fingerprint([model_dir / WEIGHTS, model_dir / CONFIG, pretrained.tokenizer_path])
        self.name = f"{model_dir.resolve()}@{fingerprint}"

    @property
    def context_length(self) -> int:
        return self.model.config.block_size

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text).ids)

    def generate(self, prompts: list[str], seeds: list[int | None], sampling: Sampling) -> list[Response]:
        from textbooks.model.generate import SamplingParams, complete

        params = SamplingParams(max_new_tokens=sampling.max_tokens, temperature=sampling.temperature,
                                top_p=sampling.top_p, stop=sampling.stop)
        completions = complete(self.model, self.tokenizer, prompts, params, batch_size=self.batch_size, seeds=seeds)
        return [Response(c.text, c.finish_reason, c.prompt_tokens, len(c.token_ids)) for c in completions]


class HFClient(LocalBackend):
    """A transformers model directory (config.json + weights + tokenizer), generated with `model.generate`."""

    def __init__(self, path: str | Path, batch_size: int = 16, device: str | None = None):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(path)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.device = device or default_device()
        self.model = AutoModelForCausalLM.from_pretrained(path).to(self.device).eval()
        self.batch_size = batch_size
        self.eos_id = self.tokenizer.eos_token_id
        self.pad_id = next((i for i in (self.tokenizer.pad_token_id, self.eos_id) if i is not None), 0)
        has_template = bool(getattr(self.tokenizer, "chat_template", None))
        self.chat_stop = () if has_template else (CHAT_STOP,)
        weights = sorted(p for p in path.iterdir() if p.suffix in (".safetensors", ".bin", ".json"))
        self.name = f"{path.resolve()}@{files_fingerprint(weights)}"

    def prompt_text(self, request: Request) -> str:
        if request.is_chat and not self.chat_stop:
            turns = [{"role": role, "content": text} for role, text in request.messages]
            return self.tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
        return super().prompt_text(request)

    def generate(self, prompts: list[str], seeds: list[int | None], sampling: Sampling) -> list[Response]:
        # transformers samples a batch from one global stream: prompts share a batch only with
        # prompts of the same seed
        by_seed: dict[int | None, list[int]] = defaultdict(list)
        for i, seed in enumerate(seeds):
            by_seed[seed if sampling.temperature > 0 else None].append(i)
        responses: list[Response | None] = [None] * len(prompts)
        for seed, indices in by_seed.items():
            if seed is not None:
                torch.manual_seed(seed)
            for start in range(0, len(indices), self.batch_size):
                batch = indices[start:start + self.batch_size]
                for i, response in zip(batch, self._generate_batch([prompts[i] for i in batch], sampling)):
                    responses[i] = response
        return responses

    def _generate_batch(self, prompts: list[str], sampling: Sampling) -> list[Response]:
        encoded = [self.tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
        width = max(len(ids) for ids in encoded)
        # left padding: every row's last prompt token sits at the same position, where generation starts
        input_ids = torch.tensor([[self.pad_id] * (width - len(ids)) + ids for ids in encoded], device=self.device)
        mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in encoded], device=self.device)
        if sampling.temperature > 0:
            how = {"do_sample": True, "temperature": sampling.temperature, "top_p": sampling.top_p}
        else:
            how = {"do_sample": False}
        with torch.no_grad():
            out = self.model.generate(input_ids=input_ids, attention_mask=mask, max_new_tokens=sampling.max_tokens,
                                      pad_token_id=self.pad_id, eos_token_id=self.eos_id,
                                      stop_strings=list(sampling.stop) or None,
                                      tokenizer=self.tokenizer if sampling.stop else None, **how)
        return [self._response(row[width:].tolist(), len(ids), sampling) for row, ids in zip(out, encoded)]

    def _response(self, new_ids: list[int], prompt_tokens: int, sampling: Sampling) -> Response:
        # a row that ended early (end of text, or a stop string) is filled with padding after its end
        ended = {self.eos_id, self.pad_id} - {None}
        length = next((i for i, t in enumerate(new_ids) if t in ended), len(new_ids))
        text, stopped = cut_at_stop(self.tokenizer.decode(new_ids[:length], skip_special_tokens=True), sampling.stop)
        finished = stopped or length < sampling.max_tokens
        return Response(text, "stop" if finished else "length", prompt_tokens, min(length + 1, len(new_ids)))
