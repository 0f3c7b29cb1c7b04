"""Model sizes: the paper's two models (paper §2.3) and CPU-sized ones of the same shape."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int = 51200  # codegen-350M-mono's tokenizer, padded (phi-1's HF config)
    n_layer: int = 24
    n_embd: int = 2048
    n_head: int = 32
    mlp_hidden: int = 8192
    rotary_dim: int = 32  # phi-1 rotates 32 of the 64 dims of each head (§2.3)
    block_size: int = 2048
    attn_dropout: float = 0.1  # attention and residual dropout 0.1 (§2.3)
    resid_dropout: float = 0.1
    embd_dropout: float = 0.0
    layer_norm_eps: float = 1e-5
    rope_base: float = 10000.0
    init_std: float = 0.02

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd {self.n_embd} is not a multiple of n_head {self.n_head}")
        if not 0 < self.rotary_dim <= self.head_dim or self.rotary_dim % 2:
            raise ValueError(f"rotary_dim {self.rotary_dim} must be even and in (0, head_dim={self.head_dim}]")

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "ModelConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown model config keys: {', '.join(unknown)}")
        return cls(**values)


PRESETS: dict[str, ModelConfig] = {
    "phi-1": ModelConfig(n_layer=24, n_embd=2048, n_head=32, mlp_hidden=8192),
    "phi-1-small": ModelConfig(n_layer=20, n_embd=1024, n_head=16, mlp_hidden=4096),
    # CPU-sized: the same 64-dim heads with 32 rotary dims, a vocabulary sized for a tokenizer
    # trained on a local corpus, and a context that a CPU step can afford.
    "cpu-tiny": ModelConfig(vocab_size=8192, n_layer=4, n_embd=256, n_head=4, mlp_hidden=1024, block_size=512),
    "cpu-small": ModelConfig(vocab_size=16384, n_layer=6, n_embd=512, n_head=8, mlp_hidden=2048, block_size=512),
    "cpu-base": ModelConfig(vocab_size=16384, n_layer=12, n_embd=768, n_head=12, mlp_hidden=3072, block_size=512),
}


def get_config(preset: str, **overrides) -> ModelConfig:
    """A preset by name, with fields replaced by `overrides` (e.g. vocab_size from a tokenizer)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown model preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return ModelConfig.from_dict({**PRESETS[preset].to_dict(), **overrides})
