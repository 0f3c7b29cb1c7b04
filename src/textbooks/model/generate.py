"""Sample completions of prompts from one of our model directories or training runs.

MODEL is a model directory (model.safetensors + model_config.json), a training checkpoint, or a
training run directory (its latest checkpoint is used). The tokenizer is found beside the model or
in the run's packed data, unless --tokenizer names one.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import yaml

DEFAULT_PROMPTS = ('def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n',)


@torch.no_grad()
def generate(model, idx: torch.Tensor, max_new_tokens: int, temperature: float = 0.8,
             top_p: float = 0.95, eot_id: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Extend one prompt `idx` (1, T) by up to `max_new_tokens`, stopping at `eot_id`."""
    model.eval()
    for _ in range(max_new_tokens):
        logits, _ = model(idx[:, -model.config.block_size:])
        next_id = _sample(logits[:, -1, :], temperature, top_p, generator)
        idx = torch.cat([idx, next_id], dim=1)
        if eot_id is not None and next_id.item() == eot_id:
            break
    return idx


def _sample(logits: torch.Tensor, temperature: float, top_p: float, generator) -> torch.Tensor:
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    # nucleus sampling: keep the smallest set of tokens whose probability reaches top_p
    outside = sorted_probs.cumsum(dim=-1) - sorted_probs > top_p
    sorted_probs[outside] = 0.0
    choice = torch.multinomial(sorted_probs, 1, generator=generator)
    return order.gather(-1, choice)


def find_tokenizer(model_dir: Path) -> Path:
    for directory in (model_dir, model_dir.parent, model_dir.parent.parent):
        if (directory / "tokenizer.json").exists():
            return directory / "tokenizer.json"
        recipe = directory / "recipe.yaml"
        if recipe.exists():
            data_path = (yaml.safe_load(recipe.read_text()) or {}).get("data", {}).get("path")
            if data_path and (Path(data_path) / "tokenizer.json").exists():
                return Path(data_path) / "tokenizer.json"
    raise FileNotFoundError(f"no tokenizer.json found for {model_dir}; pass --tokenizer")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="model directory, checkpoint or training run directory")
    parser.add_argument("--prompt", action="append", help="a prompt (repeatable); default: a docstring'd function header")
    parser.add_argument("--tokenizer", type=Path, help="tokenizer.json (default: found beside the model)")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--temperature", type=float, default=0.8, help="0 for greedy decoding")
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--seed", type=int, default=0)


def setup(args: argparse.Namespace):
    from textbooks.model.weights import load_model, resolve_model_dir
    from textbooks.tokenizer import EOT, load_tokenizer

    if not args.model.exists():
        raise SystemExit(f"error: {args.model} does not exist")
    model_dir = resolve_model_dir(args.model)
    tokenizer = load_tokenizer(args.tokenizer or find_tokenizer(model_dir))
    return load_model(model_dir), tokenizer, tokenizer.token_to_id(EOT)


def main(model, tokenizer, eot_id, prompts, max_new_tokens, temperature, top_p, seed) -> list[str]:
    generator = torch.Generator().manual_seed(seed)
    completions = []
    for prompt in prompts:
        idx = torch.tensor([tokenizer.encode(prompt).ids], dtype=torch.long)
        out = generate(model, idx, max_new_tokens, temperature, top_p, eot_id, generator)
        completion = tokenizer.decode(out[0, idx.shape[1]:].tolist(), skip_special_tokens=True)
        completions.append(completion)
        print(f"--- prompt\n{prompt}--- completion\n{completion}\n", flush=True)
    return completions


def run(args: argparse.Namespace) -> None:
    model, tokenizer, eot_id = setup(args)
    main(model, tokenizer, eot_id, args.prompt or list(DEFAULT_PROMPTS), args.max_new_tokens,
         args.temperature, args.top_p, args.seed)
