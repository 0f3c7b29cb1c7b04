"""CPU inference through oneDNN: a copy of a model whose linear layers run oneDNN's prepacked kernels.

Only generation uses it (textbooks.model.generate); training and scoring run the model as it is.
"""

from __future__ import annotations

import copy
import itertools
import weakref

import torch
import torch.nn as nn

from textbooks.model.phi import MLP


class OneDNNLinear(nn.Module):
    """A linear layer for CPU inference through oneDNN, its weight reordered once into oneDNN's layout,
    optionally followed by the tanh GELU in the same kernel.

    A decoding step multiplies a few rows by every weight matrix; there oneDNN with a prepacked
    weight ran 1.5-2.5x faster than the MKL matmul behind nn.Linear on the 2-core AMD EPYC we
    measured, and made a decoding step ~1.3x faster. torch.compile uses the same ops on CPU.
    Folding the GELU (or a residual add, `add_to`) into the matmul saves a pass over its output:
    at 16 rows the GELU alone took ~35 us, a third of its layer's matmul.
    """

    ROWS_HINT = 16  # the layout is tuned for this many rows; measured as good as a tuned one from 1 to 16

    def __init__(self, linear: nn.Linear, tanh_gelu: bool = False):
        super().__init__()
        self.weight = torch.ops.mkldnn._reorder_linear_weight(linear.weight.detach(), self.ROWS_HINT)
        self.bias = linear.bias
        self.post_op, self.algorithm = ("gelu", "tanh") if tanh_gelu else ("none", "")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._linear_pointwise(x, self.weight, self.bias, self.post_op, [], self.algorithm)

    def add_to(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        """residual + forward(x), as one op (the same floats as the separate add)."""
        if self.post_op != "none":
            return residual + self(x)
        return torch.ops.mkldnn._linear_pointwise.binary(x, residual, self.weight, self.bias, "add")


# model -> (its parameters' identity and versions, its OneDNNLinear copy); an entry goes with its model
_INFERENCE_COPIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def inference_model(model: nn.Module) -> nn.Module:
    """`model`, or on a CPU with oneDNN a copy of it whose linear layers are OneDNNLinear ones.

    The copy shares every other parameter and buffer with `model`. It is kept for the next call
    (a second copy of the linear weights while `model` lives) and remade when a parameter changed.
    """
    weight = model.wte.weight
    if weight.device.type != "cpu" or weight.dtype != torch.float32 or not _onednn_linear_available():
        return model
    key = _weights_key(model)
    cached = _INFERENCE_COPIES.get(model)
    if cached is None or cached[0] != key:
        try:
            cached = _INFERENCE_COPIES[model] = (key, _onednn_copy(model))
        except (RuntimeError, NotImplementedError):  # weights oneDNN cannot take (e.g. sharded): run as they are
            return model
    return cached[1]


def _weights_key(model: nn.Module) -> tuple:
    try:  # an in-place update (an optimizer step, load_state_dict) bumps a tensor's version
        return tuple((p.data_ptr(), p._version) for p in model.parameters())
    except RuntimeError:  # tensors made under inference_mode have no version; they cannot change outside it
        return tuple(p.data_ptr() for p in model.parameters())


@torch.inference_mode()
def _onednn_copy(model: nn.Module) -> nn.Module:
    shared = {id(t): t for t in itertools.chain(model.parameters(), model.buffers())}
    fast = copy.deepcopy(model, memo=shared)
    for module in list(fast.modules()):
        if isinstance(module, MLP) and isinstance(module.fc1, nn.Linear) and _is_tanh_gelu(module.act):
            # the MLP's GELU runs inside fc1's kernel
            module.fc1, module.act = OneDNNLinear(module.fc1, tanh_gelu=True), nn.Identity()
        for name, child in module.named_children():
            if isinstance(child, nn.Linear):
                setattr(module, name, OneDNNLinear(child))
    return fast


def _is_tanh_gelu(activation: nn.Module) -> bool:
    return isinstance(activation, nn.GELU) and activation.approximate == "tanh"


def _onednn_linear_available() -> bool:
    return (torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")
            and hasattr(torch.ops.mkldnn, "_reorder_linear_weight"))
