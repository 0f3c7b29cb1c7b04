"""Sample completions of prompts from one of our model directories or training runs, or an HF Phi directory.

MODEL is a model directory (model.safetensors + model_config.json), a training checkpoint, a
training run directory (its latest checkpoint is used), or an HF Phi directory. The tokenizer is
the one the model records (textbooks.model.pretrained), unless --tokenizer names one for a model
that records none. Prompts come from --prompt (repeatable, taken verbatim) or --prompts-file: a
.jsonl file holds one prompt per line (an object with a "prompt" field, as in HumanEval's file, or
a JSON string); any other file is one prompt.

Generation uses a KV cache and batches prompts of different lengths (left-padded). A completion
ends at <|endoftext|>, before the first --stop sequence (in the completion text), or after
--max-new-tokens tokens or when the model's context (block_size) is full.

Example:
  textbooks generate runs/default/train --prompt $'def add(a, b):\\n' --temperature 0 --stop '\\n\\n'
"""

from __future__ import annotations

import argparse
import re
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from textbooks.codetext import HUMANEVAL_STOPS
from textbooks.model.generate import Completion, SamplingParams, complete
from textbooks.model.pretrained import load_pretrained, locate
from textbooks.records import read_jsonl

DEFAULT_PROMPTS = ('def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n',)


def read_prompts_file(path: Path) -> list[str]:
    """The prompts of a .jsonl file (objects with "prompt", or strings), or a whole text file as one prompt."""
    if path.suffix != ".jsonl":
        return [path.read_text(encoding="utf-8")]
    prompts = []
    for number, record in read_jsonl(path):
        prompt = record.get("prompt") if isinstance(record, dict) else record
        if not isinstance(prompt, str):
            raise ValueError(f"{path}:{number}: expected a JSON string or an object with a \"prompt\" string")
        prompts.append(prompt)
    return prompts


def unescape(text: str) -> str:
    r"""`\n`, `\t` and `\\` typed on a command line, as the characters they name."""
    return re.sub(r"\\([nt\\])", lambda m: {"n": "\n", "t": "\t", "\\": "\\"}[m.group(1)], text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="model directory, checkpoint or training run directory")
    parser.add_argument("--prompt", action="append", default=[],
                        help="a prompt, verbatim (repeatable); default: a docstring'd function header")
    parser.add_argument("--prompts-file", type=Path, help="a .jsonl file of prompts, or a text file that is one prompt")
    parser.add_argument("--tokenizer", type=Path, help="tokenizer.json (default: found beside the model)")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--temperature", type=float, default=0.8, help="0 for greedy decoding")
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stop", action="append", default=[],
                        help="end a completion before this text (repeatable; \\n and \\t are unescaped)")
    parser.add_argument("--humaneval-stops", action="store_true", help=f"add HumanEval's stops: {HUMANEVAL_STOPS}")
    parser.add_argument("--batch-size", type=int, default=16, help="prompts generated together")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")


@dataclass(frozen=True)
class GenerateJob:
    model_dir: Path
    tokenizer_path: Path
    prompts: list[str]
    params: SamplingParams
    batch_size: int
    device: str


def setup(args: argparse.Namespace) -> GenerateJob:
    model, tokenizer_path = locate(args.model, args.tokenizer)  # checked before torch loads anything
    prompts = list(args.prompt)
    if args.prompts_file is not None:
        if not args.prompts_file.is_file():
            raise FileNotFoundError(f"--prompts-file {args.prompts_file} does not exist")
        prompts += read_prompts_file(args.prompts_file)
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    stops = tuple(unescape(s) for s in args.stop) + (HUMANEVAL_STOPS if args.humaneval_stops else ())
    params = SamplingParams(max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_p=args.top_p,
                            stop=stops, seed=args.seed)
    return GenerateJob(model.path, tokenizer_path, prompts or list(DEFAULT_PROMPTS),
                       params, args.batch_size, args.device)


def main(job: GenerateJob) -> list[Completion]:
    pretrained = load_pretrained(job.model_dir, job.tokenizer_path, device=job.device)
    started = time.perf_counter()
    completions = complete(pretrained.model, pretrained.tokenizer, job.prompts, job.params, job.batch_size)
    seconds = time.perf_counter() - started
    for prompt, completion in zip(job.prompts, completions):
        print(f"--- prompt\n{prompt}--- completion ({completion.finish_reason}, {len(completion.token_ids)} tokens)\n"
              f"{completion.text}\n", flush=True)
    new_tokens = sum(len(c.token_ids) for c in completions)
    print(f"{len(completions)} completions, {new_tokens} new tokens in {seconds:.2f} s "
          f"({new_tokens / max(seconds, 1e-9):.0f} tokens/s)")
    return completions


def run(args: argparse.Namespace) -> None:
    main(setup(args))
