"""The phi-1 model (PAPER.md §3, paper §2.3), read top-down: rotary helpers, the KV cache, attention,
MLP, block, model.

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


class KVCache:
    """The keys and values of the positions seen so far, for generation: one preallocated
    (B, nh, max_len, hs) pair per layer, written in place, so that a decoding step allocates no cache.

    Prompts of different lengths share a batch left-padded to a common length, so that every row
    writes the same slot at each step. Row b's first `pad[b]` slots are padding: attention never
    looks at them and rotary positions skip them (the row's first real token is at position 0),
    so each row computes what it would alone.
    """

    def __init__(self, config: ModelConfig, pad: torch.Tensor, max_len: int, rope_cos: torch.Tensor,
                 rope_sin: torch.Tensor, dtype: torch.dtype = torch.float32):
        B, device = pad.size(0), pad.device
        shape = (B, config.n_head, max_len, config.head_dim)
        # uninitialized: a slot is always written (padding included) before it is read
        self.keys = [torch.empty(shape, dtype=dtype, device=device) for _ in range(config.n_layer)]
        self.values = [torch.empty(shape, dtype=dtype, device=device) for _ in range(config.n_layer)]
        self.max_len = max_len
        self.length = 0  # slots filled, the same in every row
        slots = torch.arange(max_len, device=device)
        self.is_token = slots >= pad[:, None]  # (B, max_len): False on padding
        self.padded = bool(pad.any())
        # A row whose tokens are no longer used may run past the block (it is computed until the batch
        # is compacted); clamping keeps its positions inside the rotary table.
        positions = (slots - pad[:, None]).clamp(0, config.block_size - 1)  # (B, max_len)
        # each slot's rotation, looked up once rather than at every step
        self.cos, self.sin = rope_cos[positions].unsqueeze(1), rope_sin[positions].unsqueeze(1)  # (B, 1, max_len, rd/2)

    def prepare(self, T: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """For the next T tokens: the cos and sin of their rotary positions, each (B, 1, T, rotary_dim / 2),
        and the keys they may see, (B, 1, T, length + T), or None when the causal mask is enough."""
        start, end = self.length, self.length + T
        if end > self.max_len:
            raise ValueError(f"the KV cache holds {self.max_len} positions; {start} + {T} do not fit")
        return self.cos[:, :, start:end], self.sin[:, :, start:end], self._attention_mask(start, end)

    def _attention_mask(self, start: int, end: int) -> torch.Tensor | None:
        T = end - start
        if T == 1:
            # one new token (never padding) sees every earlier slot except padding
            return self.is_token[:, None, None, :end] if self.padded else None
        if not self.padded and start == 0:
            return None
        query_slots = torch.arange(start, end, device=self.is_token.device)[:, None]  # (T, 1)
        key_slots = torch.arange(end, device=self.is_token.device)  # (S,)
        # a padding query sees only itself: a query that sees nothing would make softmax NaN
        visible = self.is_token[:, None, :end] | (key_slots == query_slots)  # (B, T, S)
        return (visible & (key_slots <= query_slots)).unsqueeze(1)  # (B, 1, T, S)

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store `layer`'s keys and values (B, nh, T, hs) of the new positions; return all so far, (B, nh, S, hs)."""
        start, T = self.length, k.size(2)
        self.keys[layer].narrow(2, start, T).copy_(k)
        self.values[layer].narrow(2, start, T).copy_(v)
        return self.keys[layer].narrow(2, 0, start + T), self.values[layer].narrow(2, 0, start + T)

    def advance(self, T: int) -> None:
        """Mark T more slots as filled (after every layer stored them)."""
        self.length += T

    def keep_rows(self, rows: torch.Tensor) -> None:
        """Drop every batch row not in `rows` (indices), e.g. the ones that finished generating."""
        self.keys = [k.index_select(0, rows) for k in self.keys]
        self.values = [v.index_select(0, rows) for v in self.values]
        self.is_token = self.is_token.index_select(0, rows)
        self.cos, self.sin = self.cos.index_select(0, rows), self.sin.index_select(0, rows)
        self.padded = not bool(self.is_token[:, :self.length].all())


class CausalSelfAttention(nn.Module):
    def __init__(self, config: ModelConfig, layer: int):
        super().__init__()
        self.layer = layer  # which of the KV cache's layers is ours
        self.n_head = config.n_head
        self.head_dim = config.head_dim
        self.attn_dropout = config.attn_dropout
        # q, k and v of all heads in one matmul; HF's q_proj/k_proj/v_proj stacked in that order
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd)
        self.dense = nn.Linear(config.n_embd, config.n_embd)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                mask: torch.Tensor | None = None, cache: KVCache | None = None) -> torch.Tensor:
        B, T, C = x.size()
        # views into the one matmul's output; unbind's backward stacks the grads straight into its layout
        q, k, v = self.qkv(x).view(B, T, 3, self.n_head, self.head_dim).unbind(2)  # (B, T, nh, hs) each
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # (B, nh, T, hs)
        # rotary position embedding on the first rotary_dim dims of q and k only (§2.3)
        if cache is None:
            q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        else:  # generation: one rotation of both, as a decoding step's time goes to per-op overhead
            q, k = apply_rotary(torch.stack((q, k)), cos, sin).unbind(0)
            k, v = cache.update(self.layer, k, v)  # (B, nh, S, hs), S = cached + T: attend to the cache too
        # FlashAttention on GPU (§2.3); the plain causal mask unless the cache gave an explicit one
        dropout_p = self.attn_dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p,
                                           is_causal=mask is None and T > 1)  # (B, nh, T, hs)
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
    def __init__(self, config: ModelConfig, layer: int):
        super().__init__()
        self.ln = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps)
        self.attn = CausalSelfAttention(config, layer)
        self.mlp = MLP(config)
        self.resid_dropout = nn.Dropout(config.resid_dropout)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                mask: torch.Tensor | None = None, cache: KVCache | None = None) -> torch.Tensor:
        # attention and MLP in parallel from one LayerNorm (§2.3): x + attn(ln(x)) + mlp(ln(x))
        h = self.ln(x)
        return x + self.resid_dropout(self.attn(h, cos, sin, mask, cache)) + self.resid_dropout(self.mlp(h))


class Phi(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.drop = nn.Dropout(config.embd_dropout)
        self.blocks = nn.ModuleList(Block(config, layer) for layer in range(config.n_layer))
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

    def new_cache(self, pad: torch.Tensor, max_len: int) -> KVCache:
        """An empty KV cache for len(pad) rows of up to `max_len` slots, row b left-padded by pad[b]."""
        return KVCache(self.config, pad.to(self.rope_cos.device), max_len, self.rope_cos, self.rope_sin,
                       self.wte.weight.dtype)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, cache: KVCache | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Next-token logits (B, T, vocab_size) of idx (B, T), and the mean loss against `targets` if given.

        With a `cache` (generation), idx holds the tokens after the cached ones; they attend to those
        too, the cache stores them, and only the last position's logits are computed: (B, 1, vocab_size).
        """
        B, T = idx.size()
        if cache is None:
            if T > self.config.block_size:
                raise ValueError(f"sequence of length {T} is longer than the model's block_size "
                                 f"{self.config.block_size}")
            cos, sin, mask = self.rope_cos[:T], self.rope_sin[:T], None  # (T, rotary_dim / 2)
        else:  # each row's own positions, and a mask when some rows are padded
            cos, sin, mask = cache.prepare(T)  # (B, 1, T, rotary_dim / 2) twice, (B, 1, T, S) or None
        x = self.drop(self.wte(idx))  # (B, T, C)
        for block in self.blocks:
            x = block(x, cos, sin, mask, cache)
        if cache is not None:
            cache.advance(T)
            x = x[:, -1:]  # generation samples from the last position only
        logits = self.lm_head(self.ln_f(x))  # (B, T, vocab_size)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-100)
        return logits, loss
