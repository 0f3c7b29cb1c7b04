"""Generation throughput of our KV-cache sampler against transformers' `generate`, on the same weights.

Anchor: transformers' `PhiForCausalLM` loaded with `from_pretrained` from our model written by
`export_hf` (random weights, fp32, no dropout). Both decode greedily, from the same prompts
(different lengths, left-padded on both sides), for the same number of new tokens (no end-of-text
stop on either side), at batch 1 and batch 16, in one process under the same allocator,
alternating rounds; each side's fastest round counts, the least disturbed by other load on a
shared machine. Ours is measured end to end as `complete` runs it (`generate_ids`: prefill and
decoding; its oneDNN copy of the weights is made in the warm-up call and kept, as between calls
of `complete`). Target: ours >= 2x transformers at both batch sizes (transformers: about 260
tokens/s at batch 1 on this 4-layer, 256-wide model).

Parity: the greedy tokens of the two must be identical in every row at both batch sizes; the
script exits nonzero, after its JSON line, when they are not.

    python bench/generate_throughput.py [--preset cpu-tiny] [--new-tokens 128] [--quick]

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from importlib.metadata import version

import torch

from textbooks.allocator import jemalloc_loaded, preload_jemalloc
from textbooks.model.config import get_config
from textbooks.model.generate import SamplingParams, generate_ids
from textbooks.model.hf import export_hf
from textbooks.model.phi import Phi

BATCH_SIZES = (1, 16)
MAX_DIFFERENCES = 5  # differing rows listed per batch size


def load_hf_copy(model: Phi):
    """transformers' PhiForCausalLM with `model`'s weights, through an exported HF directory."""
    from transformers import PhiForCausalLM

    with tempfile.TemporaryDirectory() as directory:
        export_hf(model, directory)
        return PhiForCausalLM.from_pretrained(directory, dtype=torch.float32).eval()


def make_prompts(batch: int, vocab_size: int, seed: int) -> list[list[int]]:
    """`batch` random prompts of 16 to 48 tokens (one of 32 at batch 1)."""
    generator = torch.Generator().manual_seed(seed)
    lengths = [32] if batch == 1 else torch.randint(16, 49, (batch,), generator=generator).tolist()
    return [torch.randint(0, vocab_size, (n,), generator=generator).tolist() for n in lengths]


def ours_generate(model: Phi, prompts: list[list[int]], new_tokens: int) -> list[list[int]]:
    params = SamplingParams(max_new_tokens=new_tokens, temperature=0.0)
    rows = generate_ids(model, prompts, params, eot_id=None, batch_size=len(prompts))
    return [row.ids for row in rows]


@torch.inference_mode()
def hf_generate(hf, prompts: list[list[int]], new_tokens: int) -> list[list[int]]:
    width = max(len(p) for p in prompts)
    input_ids = torch.tensor([[0] * (width - len(p)) + p for p in prompts])
    attention_mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    out = hf.generate(input_ids=input_ids, attention_mask=attention_mask, do_sample=False,
                      max_new_tokens=new_tokens, min_new_tokens=new_tokens, eos_token_id=None, pad_token_id=0)
    return out[:, width:].tolist()


def timed(generate, *args) -> tuple[float, list[list[int]]]:
    started = time.perf_counter()
    tokens = generate(*args)
    return time.perf_counter() - started, tokens


def agreement(ours: list[list[int]], theirs: list[list[int]]) -> dict:
    """Rows with identical greedy tokens, the fraction of tokens before each row's first difference,
    and where the first differing rows differ (row, position, our token, theirs)."""
    same_prefix, differences = [], []
    for row, (a, b) in enumerate(zip(ours, theirs)):
        first_difference = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        same_prefix.append(first_difference / max(len(a), 1))
        if a != b:
            differences.append({"row": row, "position": first_difference,
                                "ours": a[first_difference] if first_difference < len(a) else None,
                                "transformers": b[first_difference] if first_difference < len(b) else None})
    return {"rows_identical": sum(a == b for a, b in zip(ours, theirs)), "rows": len(ours),
            "prefix_agreement": round(sum(same_prefix) / len(same_prefix), 4),
            "identical": not differences, "differences": differences[:MAX_DIFFERENCES]}


def measure(model: Phi, hf, batch: int, new_tokens: int, rounds: int) -> dict:
    prompts = make_prompts(batch, model.config.vocab_size, seed=batch)
    ours_generate(model, prompts, 4)  # warm-up: allocator pools, kernel selection
    hf_generate(hf, prompts, 4)
    ours_s, hf_s = [], []
    for _ in range(rounds):
        seconds, ours_tokens = timed(ours_generate, model, prompts, new_tokens)
        ours_s.append(seconds)
        seconds, hf_tokens = timed(hf_generate, hf, prompts, new_tokens)
        hf_s.append(seconds)
    assert all(len(t) == new_tokens for t in ours_tokens + hf_tokens), "both sides must make every token"
    tokens = batch * new_tokens
    result = {"batch": batch, "ours_tokens_per_s": round(tokens / min(ours_s), 1),
              "transformers_tokens_per_s": round(tokens / min(hf_s), 1),
              "ours_ms_per_step": round(1000 * min(ours_s) / new_tokens, 3),
              "transformers_ms_per_step": round(1000 * min(hf_s) / new_tokens, 3),
              "greedy_agreement": agreement(ours_tokens, hf_tokens)}
    result["ratio_vs_transformers"] = round(result["ours_tokens_per_s"] / result["transformers_tokens_per_s"], 3)
    return result


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="cpu-tiny", help="model size (cpu-tiny: 4 layers, 256 wide)")
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="32 new tokens, 3 rounds: well under a minute")
    args = parser.parse_args()
    if args.quick:
        args.new_tokens, args.rounds = 32, 3
    return args


def summarize(args: argparse.Namespace, results: dict[int, dict]) -> dict:
    """The JSON figures: both sides at each batch size, and whether the greedy tokens are identical."""
    summary = {"bench": "generate_throughput", "preset": args.preset, "new_tokens": args.new_tokens,
               "rounds": args.rounds, "threads": torch.get_num_threads(),
               "allocator": "jemalloc" if jemalloc_loaded() else "system",
               "anchor": f"transformers {version('transformers')} PhiForCausalLM.generate, greedy, same weights",
               "ratio_definition": "ours tok/s / anchor tok/s, each side's fastest round"}
    for batch, r in results.items():
        summary.update({f"b{batch}_{key}": value for key, value in r.items() if key != "batch"})
    summary["parity"] = all(r["greedy_agreement"]["identical"] for r in results.values())
    return summary


def main() -> int:
    args = parse_args()
    preload_jemalloc()  # both sides run in this one process, so both get its allocator
    torch.manual_seed(0)
    config = get_config(args.preset, attn_dropout=0.0, resid_dropout=0.0, embd_dropout=0.0)
    model = Phi(config).eval()
    hf = load_hf_copy(model)
    results = {}
    for batch in BATCH_SIZES:
        results[batch] = r = measure(model, hf, batch, args.new_tokens, args.rounds)
        agree = r["greedy_agreement"]
        print(f"batch {batch:2d}: ours {r['ours_tokens_per_s']:7.1f} tok/s ({r['ours_ms_per_step']:.2f} ms/step), "
              f"transformers {r['transformers_tokens_per_s']:7.1f} tok/s "
              f"({r['transformers_ms_per_step']:.2f} ms/step), ratio {r['ratio_vs_transformers']:.2f}x; "
              f"greedy tokens identical in {agree['rows_identical']}/{agree['rows']} rows", flush=True)
    summary = summarize(args, results)
    print(f"greedy tokens identical at every batch size: {summary['parity']}")
    print(json.dumps(summary))
    return 0 if summary["parity"] else 1


if __name__ == "__main__":
    sys.exit(main())
