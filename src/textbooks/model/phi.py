"""The phi-1 model (paper §2.3), read top-down: rotary helpers, the KV cache, attention,
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


def apply_rotary_(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> None:
    """`apply_rotary` in place, with the same rounding: for generation, where x is a view into a
    fresh projection and a decoding step's time goes to per-op overhead (no split, cat or copy of x)."""
    half = cos.size(-1)
    x1, x2 = x[..., :half], x[..., half:2 * half]
    rotated_x1 = x1 * cos - x2 * sin
    x2.mul_(cos).add_(x1 * sin)
    x1.copy_(rotated_x1)


def add_projection(residual: torch.Tensor, linear: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """residual + linear(x), as one op when the layer offers `add_to` (generation's oneDNN layers);
    both give the same floats, as the sum is the same whichever side is added first."""
    add_to = getattr(linear, "add_to", None)
    return add_to(x, residual) if add_to is not None else residual + linear(x)


class KVCache:
    """The keys and values of the positions seen so far, for generation: one preallocated
    (2, B, nh, max_len, hs) tensor of keys and values per layer, written in place (both with one
    copy), so that a decoding step allocates no cache.

    Prompts of different lengths share a batch left-padded to a common length, so that every row
    writes the same slot at each step. Row b's first `pad[b]` slots are padding: attention never
    looks at them and rotary positions skip them (the row's first real token is at position 0),
    so each row computes what it would alone.
    """

    def __init__(self, config: ModelConfig, pad: torch.Tensor, max_len: int, rope_cos: torch.Tensor,
                 rope_sin: torch.Tensor, dtype: torch.dtype = torch.float32):
        B, device = pad.size(0), pad.device
        shape = (2, B, config.n_head, max_len, config.head_dim)
        # uninitialized: a slot is always written (padding included) before it is read
        self.keys_values = [torch.empty(shape, dtype=dtype, device=device) for _ in range(config.n_layer)]
        self.max_len = max_len
        self.length = 0  # slots filled, the same in every row
        slots = torch.arange(max_len, device=device)
        self.is_token = slots >= pad[:, None]  # (B, max_len): False on padding
        self._set_padding_mask(dtype)
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

    def _set_padding_mask(self, dtype: torch.dtype) -> None:
        self.padded = not bool(self.is_token.all())
        # a decoding step's mask, as the additive one attention would convert a boolean mask to at every step
        self.padding_bias = torch.zeros(self.is_token.shape, dtype=dtype, device=self.is_token.device)
        self.padding_bias.masked_fill_(~self.is_token, float("-inf"))
        self.padding_bias = self.padding_bias[:, None, None, :]  # (B, 1, 1, max_len)

    def _attention_mask(self, start: int, end: int) -> torch.Tensor | None:
        T = end - start
        if T == 1:
            # one new token (never padding) sees every earlier slot except padding
            return self.padding_bias[..., :end] if self.padded else None
        if not self.padded and start == 0:
            return None
        query_slots = torch.arange(start, end, device=self.is_token.device)[:, None]  # (T, 1)
        key_slots = torch.arange(end, device=self.is_token.device)  # (S,)
        # a padding query sees only itself: a query that sees nothing would make softmax NaN
        visible = self.is_token[:, None, :end] | (key_slots == query_slots)  # (B, T, S)
        return (visible & (key_slots <= query_slots)).unsqueeze(1)  # (B, 1, T, S)

    def update(self, layer: int, keys_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store `layer`'s keys and values (2, B, nh, T, hs) of the new positions; return the keys and
        the values of all positions so far, (B, nh, S, hs) each."""
        start, T = self.length, keys_values.size(3)
        self.keys_values[layer].narrow(3, start, T).copy_(keys_values)
        return self.keys_values[layer].narrow(3, 0, start + T).unbind(0)

    def advance(self, T: int) -> None:
        """Mark T more slots as filled (after every layer stored them)."""
        self.length += T

    def keep_rows(self, rows: torch.Tensor) -> None:
        """Drop every batch row not in `rows` (indices), e.g. the ones that finished generating."""
        self.keys_values = [kv.index_select(1, rows) for kv in self.keys_values]
        self.is_token = self.is_token.index_select(0, rows)
        self.cos, self.sin = self.cos.index_select(0, rows), self.sin.index_select(0, rows)
        self._set_padding_mask(self.padding_bias.dtype)


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
                mask: torch.Tensor | None = None) -> torch.Tensor:
        B, T, C = x.size()
        # views into the one matmul's output; unbind's backward stacks the grads straight into its layout
        q, k, v = self.qkv(x).view(B, T, 3, self.n_head, self.head_dim).unbind(2)  # (B, T, nh, hs) each
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # (B, nh, T, hs)
        # rotary position embedding on the first rotary_dim dims of q and k only (§2.3)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        return self.dense(self._attend(q, k, v, mask))

    def generate(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor | None,
                 cache: KVCache, residual: torch.Tensor) -> torch.Tensor:
        """`residual` + forward(x, ...) for generation (no autograd): x's keys and values go into the
        cache and its queries attend to the cached positions too, with the same floats as forward."""
        B, T, _ = x.size()
        qkv = self.qkv(x).view(B, T, 3, self.n_head, self.head_dim).permute(2, 0, 3, 1, 4)  # (3, B, nh, T, hs)
        # rotated in place: a decoding step's time goes to per-op overhead, so no copies of q and k
        apply_rotary_(qkv[:2], cos, sin)
        k, v = cache.update(self.layer, qkv[1:])  # (B, nh, S, hs), S = cached + T
        return add_projection(residual, self.dense, self._attend(qkv[0], k, v, mask))

    def _attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        B, nh, T, hs = q.size()
        # FlashAttention on GPU (§2.3); the plain causal mask unless the cache gave an explicit one
        dropout_p = self.attn_dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p,
                                           is_causal=mask is None and T > 1)  # (B, nh, T, hs)
        return y.transpose(1, 2).reshape(B, T, nh * hs)  # (B, T, nh * hs)


class MLP(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.fc1 = nn.Linear(config.n_embd, config.mlp_hidden)
        # the tanh approximation of GELU: phi-1's `gelu_new`, as one fused kernel (a module, so that
        # generation's oneDNN copy can fold it into fc1)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(config.mlp_hidden, config.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))

    def generate(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        """`residual` + forward(x), for generation."""
        return add_projection(residual, self.fc2, self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, config: ModelConfig, layer: int):
        super().__init__()
        self.ln = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps)
        self.attn = CausalSelfAttention(config, layer)
        self.mlp = MLP(config)
        self.resid_dropout = nn.Dropout(config.resid_dropout)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        # attention and MLP in parallel from one LayerNorm (§2.3): x + attn(ln(x)) + mlp(ln(x))
        h = self.ln(x)
        return x + self.resid_dropout(self.attn(h, cos, sin, mask)) + self.resid_dropout(self.mlp(h))

    def generate(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor | None,
                 cache: KVCache) -> torch.Tensor:
        """forward for generation, which runs in eval mode (so no residual dropout), its keys and values
        into `cache`; each residual add is folded into the projection before it, in forward's order:
        (x + attn(h)) + mlp(h)."""
        h = self.ln(x)
        return self.mlp.generate(h, self.attn.generate(h, cos, sin, mask, cache, residual=x))


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
            x = block(x, cos, sin, mask) if cache is None else block.generate(x, cos, sin, mask, cache)
        if cache is not None:
            cache.advance(T)
            x = x[:, -1:]  # generation samples from the last position only
        logits = self.lm_head(self.ln_f(x))  # (B, T, vocab_size)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-100)
        return logits, loss
