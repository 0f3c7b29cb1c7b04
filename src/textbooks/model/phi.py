"""The phi-1 model (PAPER.md §3, paper §2.3), read top-down: rotary helpers, attention, MLP, block, model.

A decoder-only transformer whose blocks run attention and the MLP in parallel from one LayerNorm
(as in CodeGen and GPT-J), with rotary position embedding on the first 32 of each head's 64 dims.
Parameter names follow transformers' `PhiForCausalLM` closely, so `hf.py` only renames and splits
the fused QKV projection.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
from torch.nn import functional as F

from textbooks.model.config import ModelConfig


def rotary_cos_sin(config: ModelConfig, device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of every position's rotation angles, each (block_size, rotary_dim // 2), in fp32."""
    exponents = torch.arange(0, config.rotary_dim, 2, device=device).float() / config.rotary_dim
    inv_freq = 1.0 / (config.rope_base ** exponents)
    angles = torch.outer(torch.arange(config.block_size, device=device).float(), inv_freq)
    return angles.cos(), angles.sin()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate the first 2 * cos.size(-1) dims of each head of x (..., T, hs); the rest pass unchanged.

    This is GPT-NeoX's "rotate half" pairing (dim i with dim i + rotary_dim/2), the one HF Phi uses,
    written on the halves directly so that no rotated copy of x is built before the final cat.
    """
    half = cos.size(-1)
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    # split, not slicing: its backward is one cat instead of a zero-filled tensor per slice
    x1, x2, x_pass = x.split((half, half, x.size(-1) - 2 * half), dim=-1)
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin, x_pass), dim=-1)


class CausalSelfAttention(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.n_head = config.n_head
        self.head_dim = config.head_dim
        self.attn_dropout = config.attn_dropout
        # q, k and v of all heads in one matmul; HF's q_proj/k_proj/v_proj stacked in that order
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd)
        self.dense = nn.Linear(config.n_embd, config.n_embd)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        B, T, C = x.size()
        # views into the one matmul's output; unbind's backward stacks the grads straight into its layout
        q, k, v = self.qkv(x).view(B, T, 3, self.n_head, self.head_dim).unbind(2)  # (B, T, nh, hs) each
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # (B, nh, T, hs)
        # rotary position embedding on the first rotary_dim dims of q and k only (§2.3)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        # FlashAttention on GPU (§2.3); a KV cache for generation would extend k and v here
        dropout_p = self.attn_dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True)  # (B, nh, T, hs)
        y = y.transpose(1, 2).reshape(B, T, C)  # (B, T, nh * hs)
        return self.dense(y)


class MLP(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.fc1 = nn.Linear(config.n_embd, config.mlp_hidden)
        self.fc2 = nn.Linear(config.mlp_hidden, config.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the tanh approximation of GELU: phi-1's `gelu_new`, as one fused kernel
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.ln = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps)
        self.attn = CausalSelfAttention(config)
        self.mlp = MLP(config)
        self.resid_dropout = nn.Dropout(config.resid_dropout)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        # attention and MLP in parallel from one LayerNorm (§2.3): x + attn(ln(x)) + mlp(ln(x))
        h = self.ln(x)
        return x + self.resid_dropout(self.attn(h, cos, sin)) + self.resid_dropout(self.mlp(h))


class Phi(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.drop = nn.Dropout(config.embd_dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size)  # untied from wte, with a bias
        self.init_rotary()
        self.apply(self._init_weights)
        # GPT-2's scaled init of the projections into the residual stream: 2 per block
        for name, p in self.named_parameters():
            if name.endswith(("dense.weight", "fc2.weight")):
                nn.init.normal_(p, mean=0.0, std=config.init_std / math.sqrt(2 * config.n_layer))

    def init_rotary(self, device: torch.device | str | None = None) -> None:
        """(Re)compute the rotary cos/sin buffers, e.g. after the model was built on the meta device."""
        cos, sin = rotary_cos_sin(self.config, device)
        # derived from the config, so not saved with the weights
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=self.config.init_std)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def num_params(self) -> int:
        """All parameters, embeddings and LM head included (as HF counts them)."""
        return sum(p.numel() for p in self.parameters())

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        B, T = idx.size()
        if T > self.config.block_size:
            raise ValueError(f"sequence of length {T} is longer than the model's block_size {self.config.block_size}")
        # the rotations of positions 0..T-1; generation with a KV cache would pass those of the new positions
        cos, sin = self.rope_cos[:T], self.rope_sin[:T]  # (T, rotary_dim / 2)
        x = self.drop(self.wte(idx))  # (B, T, C)
        for block in self.blocks:
            x = block(x, cos, sin)
        logits = self.lm_head(self.ln_f(x))  # (B, T, vocab_size)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-100)
        return logits, loss
