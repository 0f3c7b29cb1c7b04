"""Training throughput of our Phi against transformers' PhiForCausalLM, and against the matmul peak.

Anchors: transformers' `PhiForCausalLM` built from microsoft/phi-1's own HF config (no dropout,
partial rotary 0.5), resized to a CPU preset, as it is trained: `use_cache=False` in its config
and in its call, so no KV cache is built. Two of them: with phi-1's `gelu_new` (unfused) and with
the fused `gelu_pytorch_tanh` (the same function). All three models start from our weights and
take the same fused-AdamW steps on the same batches, in one process under the same allocator.
Each round times every model once, ours first in even rounds and last in odd ones; the ratio
ours/anchor is taken per round, and its median and spread (min, max over rounds) reported.

Parity: the three loss trajectories (the warm-up step, then every timed step) must agree within
`LOSS_TOLERANCE`; the script exits nonzero, after its JSON line, when they do not.

The fp32 matmul peak (and, for reference, the bf16 one with the CPU's bf16 flags) is measured in
the same run; training stays fp32. Targets on a 2-core CPU at sequence 512: ours >= 1.2x
transformers, and >= 80% of the matmul peak on the larger CPU preset (cpu-base).

    python bench/train_throughput.py [--preset cpu-base] [--quick]

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from importlib.metadata import version

import torch
import torch.nn.functional as F

from textbooks.allocator import jemalloc_loaded, preload_jemalloc
from textbooks.model.config import get_config
from textbooks.model.hf import config_to_hf, state_dict_to_hf
from textbooks.model.phi import Phi
from textbooks.hardware import cpu_bf16_flags

# microsoft/phi-1's config.json (the fields that shape the model and its training step).
PHI_1_HF_CONFIG = {
    "model_type": "phi", "architectures": ["PhiForCausalLM"], "hidden_act": "gelu_new",
    "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 24, "num_attention_heads": 32,
    "num_key_value_heads": 32, "partial_rotary_factor": 0.5, "rope_theta": 10000.0,
    "layer_norm_eps": 1e-05, "vocab_size": 51200, "max_position_embeddings": 2048,
    "attention_dropout": 0.0, "embd_pdrop": 0.0, "resid_pdrop": 0.0, "qk_layernorm": False,
    "tie_word_embeddings": False, "torch_dtype": "float32",
}
# anchor name: its hidden_act
ANCHORS = {"transformers_gelu_new": "gelu_new", "transformers_gelu_pytorch_tanh": "gelu_pytorch_tanh"}
# Same weights, same fp32 steps: the losses differ by summation order only, ~1e-6 (an ulp at 10)
# over 8 steps; the exact-erf GELU in place of the tanh one differs by 4e-5 in 3 steps, 9e-5 in 8.
LOSS_TOLERANCE = 2e-5


def matmul_peak(dtype: torch.dtype, seconds: float, size: int = 2048) -> float:
    """Best FLOP/s of a square `dtype` matmul over `seconds`."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    torch.mm(a, b)  # kernel selection
    best, end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2 * size**3 / (time.perf_counter() - t0))
    return best


def build_hf(ours: Phi, hidden_act: str):
    """transformers' PhiForCausalLM with phi-1's config at our size, holding our weights."""
    from transformers import PhiConfig, PhiForCausalLM

    sizes = config_to_hf(ours.config)
    keys = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
            "num_key_value_heads", "vocab_size", "max_position_embeddings")
    # a model being trained builds no KV cache
    hf_config = PhiConfig(**{**PHI_1_HF_CONFIG, **{k: sizes[k] for k in keys},
                             "hidden_act": hidden_act, "use_cache": False})
    hf = PhiForCausalLM(hf_config)
    hf.load_state_dict(state_dict_to_hf(ours.state_dict(), ours.config))
    return hf.train()


def training_flops_per_token(config, seq_len: int) -> float:
    """6 FLOPs per matmul weight (forward + backward), plus causal attention (half the T x T scores)."""
    d, L = config.n_embd, config.n_layer
    per_layer = 3 * d * d + d * d + 2 * d * config.mlp_hidden
    matmul_params = L * per_layer + d * config.vocab_size  # the LM head; the embedding is a lookup
    attention = 6 * L * seq_len * d  # QK^T and AV, forward 2*T*d/2 each, backward twice that
    return 6 * matmul_params + attention


def make_step(model, forward):
    # the optimizer `textbooks train` uses, for every model
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.1, fused=True)

    def step(x, y) -> float:
        loss = forward(model, x, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.item()

    return step


def ours_forward(model, x, y):
    return model(x, targets=y)[1]


def hf_forward(model, x, y):
    logits = model(input_ids=x, use_cache=False).logits
    return F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1))


def timed_steps(step, batches, losses: list[float]) -> float:
    """Tokens per second over `batches`; each step's loss is appended to `losses`."""
    t0 = time.perf_counter()
    for x, y in batches:
        losses.append(step(x, y))
    return sum(x.numel() for x, _ in batches) / (time.perf_counter() - t0)


def run_rounds(steps: dict, batches, rounds: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Per model, its tokens/s in each round and its loss trajectory (warm-up step included)."""
    losses = {name: [step(*batches[0])] for name, step in steps.items()}  # warm-up: pools, kernels, AdamW state
    rates = {name: [] for name in steps}
    for round_ in range(rounds):
        order = list(steps) if round_ % 2 == 0 else list(reversed(steps))
        for name in order:
            rates[name].append(timed_steps(steps[name], batches, losses[name]))
        print(f"round {round_ + 1}/{rounds}: " + ", ".join(f"{n} {rates[n][-1]:.0f} tok/s" for n in order), flush=True)
    return rates, losses


def anchor_figures(name: str, rates: dict, losses: dict, flops_per_token: float, peak: float) -> dict:
    """One anchor's median tok/s, ratio ours/anchor (median and spread of per-round ratios), loss parity."""
    ratios = [o / a for o, a in zip(rates["ours"], rates[name])]
    difference = max(abs(o - a) for o, a in zip(losses["ours"], losses[name]))
    tokens_per_s = statistics.median(rates[name])
    return {
        "tokens_per_s": round(tokens_per_s, 1),
        "ratio_ours_over_anchor": round(statistics.median(ratios), 3),
        "ratio_spread": [round(min(ratios), 3), round(max(ratios), 3)],
        "round_ratios": [round(r, 3) for r in ratios],
        "fraction_of_fp32_peak": round(tokens_per_s * flops_per_token / peak, 3),
        "max_loss_difference": float(f"{difference:.3g}"),
        "parity": difference <= LOSS_TOLERANCE,
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="cpu-base")
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=1, help="timed steps per model per round")
    parser.add_argument("--rounds", type=int, default=4, help="even, so ours goes first as often as last")
    parser.add_argument("--quick", action="store_true", help="cpu-small, batch 2, 2 rounds: well under a minute")
    args = parser.parse_args()
    if args.quick:
        args.preset, args.batch, args.steps, args.rounds = "cpu-small", 2, 1, 2
    return args


def summarize(args: argparse.Namespace, config, rates: dict, losses: dict, peaks: dict) -> dict:
    """The JSON figures: ours, each anchor against ours, the matmul peaks, and the loss parity."""
    flops = training_flops_per_token(config, args.seq_len)
    anchors = {name: anchor_figures(name, rates, losses, flops, peaks["fp32"]) for name in ANCHORS}
    ours_tps = statistics.median(rates["ours"])
    return {
        "bench": "train_throughput", "preset": args.preset, "seq_len": args.seq_len, "batch": args.batch,
        "steps_per_round": args.steps, "rounds": args.rounds, "threads": torch.get_num_threads(),
        "allocator": "jemalloc" if jemalloc_loaded() else "system", "dtype": "float32",
        "anchor": f"transformers {version('transformers')} PhiForCausalLM, phi-1 config, use_cache=False",
        "ratio_definition": "ours tok/s / anchor tok/s: median over rounds, spread [min, max]",
        "ours_tokens_per_s": round(ours_tps, 1), "ours_gflops": round(ours_tps * flops / 1e9, 1),
        "ours_fraction_of_fp32_peak": round(ours_tps * flops / peaks["fp32"], 3), "anchors": anchors,
        "fp32_matmul_gflops": round(peaks["fp32"] / 1e9, 1), "bf16_matmul_gflops": round(peaks["bf16"] / 1e9, 1),
        "cpu_bf16_flags": cpu_bf16_flags(), "loss_tolerance": LOSS_TOLERANCE,
        "parity": all(a["parity"] for a in anchors.values()),
    }


def main() -> int:
    args = parse_args()
    preload_jemalloc()  # every model runs in this one process, so all get its allocator
    torch.manual_seed(0)
    config = get_config(args.preset, attn_dropout=0.0, resid_dropout=0.0, embd_dropout=0.0,
                        block_size=max(args.seq_len, 512))
    ours = Phi(config).train()
    steps = {"ours": make_step(ours, ours_forward)}
    steps.update({name: make_step(build_hf(ours, act), hf_forward) for name, act in ANCHORS.items()})
    rows = torch.randint(0, config.vocab_size, (args.steps, args.batch, args.seq_len + 1))
    batches = [(r[:, :-1].contiguous(), r[:, 1:].contiguous()) for r in rows]
    rates, losses = run_rounds(steps, batches, args.rounds)
    seconds = 1.0 if args.quick else 3.0
    peaks = {"fp32": matmul_peak(torch.float32, seconds), "bf16": matmul_peak(torch.bfloat16, seconds)}
    result = summarize(args, config, rates, losses, peaks)
    for name, a in result["anchors"].items():
        print(f"{name}: ours/anchor {a['ratio_ours_over_anchor']:.3f} (rounds {a['ratio_spread'][0]:.3f} to "
              f"{a['ratio_spread'][1]:.3f}); loss parity {'ok' if a['parity'] else 'BROKEN'}, "
              f"max difference {a['max_loss_difference']} (tolerance {LOSS_TOLERANCE})")
    print(json.dumps(result))
    return 0 if result["parity"] else 1


if __name__ == "__main__":
    sys.exit(main())
