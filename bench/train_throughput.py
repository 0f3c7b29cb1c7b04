"""Training throughput of our Phi against transformers' PhiForCausalLM, and against the matmul peak.

Anchor: transformers' `PhiForCausalLM` built from microsoft/phi-1's own HF config (gelu_new, no
dropout, partial rotary 0.5), resized to a CPU preset, trained with the same AdamW step on the
same batches in the same process, alternating, under the same allocator. The fp32 matmul peak
is measured in the same run. Targets on a 2-core CPU at sequence 512: ours >= 1.2x transformers,
and >= 80% of the matmul peak on the larger CPU preset (cpu-base).

    python bench/train_throughput.py [--preset cpu-base] [--quick]

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

from textbooks.allocator import jemalloc_loaded, preload_jemalloc
from textbooks.model.config import get_config
from textbooks.model.hf import config_to_hf
from textbooks.model.phi import Phi

# microsoft/phi-1's config.json (the fields that shape the model and its training step).
PHI_1_HF_CONFIG = {
    "model_type": "phi", "architectures": ["PhiForCausalLM"], "hidden_act": "gelu_new",
    "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 24, "num_attention_heads": 32,
    "num_key_value_heads": 32, "partial_rotary_factor": 0.5, "rope_theta": 10000.0,
    "layer_norm_eps": 1e-05, "vocab_size": 51200, "max_position_embeddings": 2048,
    "attention_dropout": 0.0, "embd_pdrop": 0.0, "resid_pdrop": 0.0, "qk_layernorm": False,
    "tie_word_embeddings": False, "torch_dtype": "float32",
}


def matmul_peak(size: int = 2048, seconds: float = 3.0) -> float:
    """Best fp32 FLOP/s of a square matmul over `seconds`."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    best, end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2 * size**3 / (time.perf_counter() - t0))
    return best


def build_hf(config):
    from transformers import PhiConfig, PhiForCausalLM

    ours = config_to_hf(config)
    keys = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
            "num_key_value_heads", "vocab_size", "max_position_embeddings")
    hf_config = PhiConfig(**{**PHI_1_HF_CONFIG, **{k: ours[k] for k in keys}})
    return PhiForCausalLM(hf_config)


def training_flops_per_token(config, seq_len: int) -> float:
    """6 FLOPs per matmul weight (forward + backward), plus causal attention (half the T x T scores)."""
    d, L = config.n_embd, config.n_layer
    per_layer = 3 * d * d + d * d + 2 * d * config.mlp_hidden
    matmul_params = L * per_layer + d * config.vocab_size  # the LM head; the embedding is a lookup
    attention = 6 * L * seq_len * d  # QK^T and AV, forward 2*T*d/2 each, backward twice that
    return 6 * matmul_params + attention


def make_step(model, forward):
    # the optimizer `textbooks train` uses, for both models
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.1, fused=True)

    def step(x, y):
        loss = forward(model, x, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss

    return step


def ours_forward(model, x, y):
    return model(x, targets=y)[1]


def hf_forward(model, x, y):
    logits = model(input_ids=x).logits
    return F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1))


def tokens_per_second(step, batches) -> float:
    t0 = time.perf_counter()
    for x, y in batches:
        step(x, y)
    return sum(x.numel() for x, _ in batches) / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="cpu-base")
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=2, help="timed steps per model per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="cpu-small, fewer steps: about a minute")
    args = parser.parse_args()
    if args.quick:
        args.preset, args.batch, args.steps, args.rounds = "cpu-small", 4, 2, 2
    preload_jemalloc()  # both models run in this one process, so both get its allocator
    torch.manual_seed(0)
    config = get_config(args.preset, attn_dropout=0.0, resid_dropout=0.0, embd_dropout=0.0,
                        block_size=max(args.seq_len, 512))
    ours, hf = Phi(config).train(), build_hf(config).train()
    steps = {"ours": make_step(ours, ours_forward), "transformers": make_step(hf, hf_forward)}
    rows = torch.randint(0, config.vocab_size, (args.steps, args.batch, args.seq_len + 1))
    batches = [(r[:, :-1].contiguous(), r[:, 1:].contiguous()) for r in rows]
    for step in steps.values():  # warm-up: allocator pools, kernel selection, optimizer state
        step(*batches[0])
    peak = matmul_peak()
    rates = {name: [] for name in steps}
    for round_ in range(args.rounds):
        for name, step in steps.items():
            rates[name].append(tokens_per_second(step, batches))
        print(f"round {round_ + 1}/{args.rounds}: " + ", ".join(f"{n} {r[-1]:.0f} tok/s" for n, r in rates.items()),
              flush=True)
    ours_tps, hf_tps = (statistics.median(rates[n]) for n in ("ours", "transformers"))
    flops = training_flops_per_token(config, args.seq_len)
    result = {
        "bench": "train_throughput", "preset": args.preset, "seq_len": args.seq_len, "batch": args.batch,
        "threads": torch.get_num_threads(), "allocator": "jemalloc" if jemalloc_loaded() else "system",
        "ours_tokens_per_s": round(ours_tps, 1), "transformers_tokens_per_s": round(hf_tps, 1),
        "ratio_vs_transformers": round(ours_tps / hf_tps, 3),
        "matmul_peak_gflops": round(peak / 1e9, 1), "ours_gflops": round(ours_tps * flops / 1e9, 1),
        "ours_fraction_of_peak": round(ours_tps * flops / peak, 3),
        "transformers_fraction_of_peak": round(hf_tps * flops / peak, 3),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
