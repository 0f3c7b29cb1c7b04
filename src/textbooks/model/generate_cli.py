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

import json
import re
import time
from pathlib import Path

import torch

from textbooks.codetext import HUMANEVAL_STOPS
from textbooks.model.generate import Completion, SamplingParams, complete
from textbooks.model.pretrained import load_pretrained, locate
from textbooks.options import CommandOptions, PositiveInt, opt
from textbooks.records import atomic_write_text, read_jsonl

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


class Options(CommandOptions):
    model: Path = opt(help="model directory, checkpoint or training run directory", positional=True)
    prompt: list[str] = opt([], help="a prompt, verbatim (repeatable); default: a docstring'd function header")
    prompts_file: Path | None = opt(None, help="a .jsonl file of prompts, or a text file that is one prompt")
    tokenizer: Path | None = opt(None, help="tokenizer.json (default: the one the model records)")
    max_new_tokens: int = opt(128, help="the most tokens of a completion")
    temperature: float = opt(0.8, help="0 for greedy decoding")
    top_p: float = opt(0.95, help="nucleus sampling's mass")
    seed: int = opt(0, help="prompt i is sampled from seed + i")
    stop: list[str] = opt([], help="end a completion before this text (repeatable; \\n and \\t are unescaped)")
    humaneval_stops: bool = opt(False, help=f"add HumanEval's stops: {HUMANEVAL_STOPS}")
    batch_size: PositiveInt = opt(16, help="prompts generated together")
    device: str = opt("cuda" if torch.cuda.is_available() else "cpu", help="where the model runs")
    out: Path | None = opt(None, help="write the completions to this .jsonl file, one object a prompt in the "
                                      "prompts' order (prompt, completion, finish_reason, prompt_tokens, "
                                      "completion_tokens), instead of printing them", metavar="FILE.jsonl")


def setup(options: Options) -> tuple[Path, Path, list[str], SamplingParams]:
    """Check the options and read the prompts before torch loads anything: the model's directory, its
    tokenizer, the prompts and how to sample them."""
    model, tokenizer_path = locate(options.model, options.tokenizer)
    prompts = list(options.prompt)
    if options.prompts_file is not None:
        if not options.prompts_file.is_file():
            raise FileNotFoundError(f"--prompts-file {options.prompts_file} does not exist")
        prompts += read_prompts_file(options.prompts_file)
    if options.out is not None and (options.out.suffix != ".jsonl" or options.out.is_dir()):
        raise ValueError(f"--out {options.out} is not a .jsonl file to write")
    stops = tuple(unescape(s) for s in options.stop) + (HUMANEVAL_STOPS if options.humaneval_stops else ())
    params = SamplingParams(max_new_tokens=options.max_new_tokens, temperature=options.temperature, top_p=options.top_p,
                            stop=stops, seed=options.seed)
    return model.path, tokenizer_path, prompts or list(DEFAULT_PROMPTS), params


def run(options: Options) -> list[Completion]:
    """Print each prompt's completion, then the throughput; return the completions."""
    model_dir, tokenizer_path, prompts, params = setup(options)
    pretrained = load_pretrained(model_dir, tokenizer_path, device=options.device)
    started = time.perf_counter()
    completions = complete(pretrained.model, pretrained.tokenizer, prompts, params, options.batch_size)
    seconds = time.perf_counter() - started
    if options.out is not None:
        rows = [{"prompt": prompt, "completion": c.text, "finish_reason": c.finish_reason,
                 "prompt_tokens": c.prompt_tokens, "completion_tokens": len(c.token_ids)}
                for prompt, c in zip(prompts, completions)]
        atomic_write_text(options.out, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    else:
        for prompt, completion in zip(prompts, completions):
            print(f"--- prompt\n{prompt}--- completion ({completion.finish_reason}, "
                  f"{len(completion.token_ids)} tokens)\n{completion.text}\n", flush=True)
    new_tokens = sum(len(c.token_ids) for c in completions)
    print(f"{len(completions)} completions, {new_tokens} new tokens in {seconds:.2f} s "
          f"({new_tokens / max(seconds, 1e-9):.0f} tokens/s)" + (f" -> {options.out}" if options.out else ""))
    return completions
