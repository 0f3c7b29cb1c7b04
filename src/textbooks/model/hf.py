"""Convert between our Phi and transformers' `PhiForCausalLM` layout (paper §2.3: the released
phi-1 weights use it), both ways, by reading and writing config.json and safetensors directly.

The layouts differ only in names and in HF's separate q_proj/k_proj/v_proj, which we fuse into one
`qkv` projection. No transformers import is needed: a user with `microsoft/phi-1` on disk can load it
with `load_hf_dir`, and `export_hf` writes a directory `PhiForCausalLM.from_pretrained` loads.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Callable, Iterator

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from tqdm import tqdm

from textbooks.layout import HF_CONFIG, HF_TOKENIZER_CONFIG, TOKENIZER, WEIGHTS
from textbooks.model.config import ModelConfig
from textbooks.model.phi import Phi
from textbooks.model.weights import model_from_tensors
from textbooks.records import atomic_path, atomic_write_json, atomic_write_text
from textbooks.tokens import EOT

# PhiConfig's defaults: a config.json written by `save_pretrained` leaves out values equal to them.
HF_DEFAULTS = {
    "vocab_size": 51200, "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 24,
    "num_attention_heads": 32, "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attention_dropout": 0.0,
    "hidden_act": "gelu_new", "max_position_embeddings": 2048, "initializer_range": 0.02,
    "layer_norm_eps": 1e-5, "tie_word_embeddings": False, "qk_layernorm": False,
    "partial_rotary_factor": 0.5, "rope_theta": 10000.0,
}
# gelu_new and gelu_pytorch_tanh are the same function: GELU's tanh approximation
TANH_GELUS = ("gelu_new", "gelu_pytorch_tanh")
WEIGHT_FILES = (WEIGHTS, f"{WEIGHTS}.index.json",
                "pytorch_model.bin", "pytorch_model.bin.index.json")


def config_from_hf(hf: dict) -> ModelConfig:
    """Our ModelConfig from an HF Phi config.json dict (transformers 4.x or 5.x style)."""
    hf = {**HF_DEFAULTS, **{k: v for k, v in hf.items() if v is not None}}
    _check_supported(hf)
    n_embd, n_head = hf["hidden_size"], hf["num_attention_heads"]
    rope = _rope_parameters(hf)
    head_dim = n_embd // n_head
    return ModelConfig(
        vocab_size=hf["vocab_size"], n_layer=hf["num_hidden_layers"], n_embd=n_embd, n_head=n_head,
        mlp_hidden=hf["intermediate_size"], rotary_dim=int(head_dim * rope["partial_rotary_factor"]),
        block_size=hf["max_position_embeddings"], attn_dropout=float(hf["attention_dropout"]),
        resid_dropout=float(hf["resid_pdrop"]), embd_dropout=float(hf["embd_pdrop"]),
        layer_norm_eps=hf["layer_norm_eps"], rope_base=float(rope["rope_theta"]), init_std=hf["initializer_range"],
    )


def _rope_parameters(hf: dict) -> dict:
    # transformers 5.x nests them in `rope_parameters`; 4.x configs have them top-level
    rope = {"partial_rotary_factor": hf["partial_rotary_factor"], "rope_theta": hf["rope_theta"],
            **(hf.get("rope_parameters") or {})}
    rope_type = rope.get("rope_type", rope.get("type", "default"))
    if rope_type != "default" or hf.get("rope_scaling"):
        raise ValueError(f"HF config: rope type {rope_type!r} / rope_scaling {hf.get('rope_scaling')!r} "
                         "is not supported; phi-1 uses plain rotary embedding")
    return rope


def _check_supported(hf: dict) -> None:
    unsupported = {
        "model_type": hf.get("model_type", "phi") != "phi",
        "hidden_act": hf["hidden_act"] not in TANH_GELUS,
        "num_key_value_heads": hf.get("num_key_value_heads", hf["num_attention_heads"]) != hf["num_attention_heads"],
        "qk_layernorm": bool(hf["qk_layernorm"]),
        "tie_word_embeddings": bool(hf["tie_word_embeddings"]),
        "head_dim": hf.get("head_dim", hf["hidden_size"] // hf["num_attention_heads"])
        != hf["hidden_size"] // hf["num_attention_heads"],
    }
    bad = [f"{key}={hf.get(key)!r}" for key, is_bad in unsupported.items() if is_bad]
    if bad:
        raise ValueError(f"HF config is not a phi-1-style PhiForCausalLM: unsupported {', '.join(bad)}")


def config_to_hf(config: ModelConfig) -> dict:
    """The config.json dict of a `PhiForCausalLM` with our model's architecture."""
    partial = config.rotary_dim / config.head_dim
    return {
        "architectures": ["PhiForCausalLM"], "model_type": "phi",
        "vocab_size": config.vocab_size, "hidden_size": config.n_embd, "intermediate_size": config.mlp_hidden,
        "num_hidden_layers": config.n_layer, "num_attention_heads": config.n_head,
        "num_key_value_heads": config.n_head, "hidden_act": "gelu_new",
        "max_position_embeddings": config.block_size, "initializer_range": config.init_std,
        "layer_norm_eps": config.layer_norm_eps, "attention_dropout": config.attn_dropout,
        "resid_pdrop": config.resid_dropout, "embd_pdrop": config.embd_dropout,
        "tie_word_embeddings": False, "qk_layernorm": False, "use_cache": True,
        "bos_token_id": None, "eos_token_id": None,
        "rope_parameters": {"rope_type": "default", "rope_theta": config.rope_base, "partial_rotary_factor": partial},
        # the same, where transformers 4.x reads them
        "partial_rotary_factor": partial, "rope_theta": config.rope_base,
    }


def hf_names(config: ModelConfig) -> dict[str, list[str]]:
    """For each of our parameter names, the HF names it is made of (several: concatenated on dim 0)."""
    names = {"wte.weight": ["model.embed_tokens.weight"]}
    for i in range(config.n_layer):
        ours, theirs = f"blocks.{i}.", f"model.layers.{i}."
        for p in ("weight", "bias"):
            names[f"{ours}ln.{p}"] = [f"{theirs}input_layernorm.{p}"]
            names[f"{ours}attn.qkv.{p}"] = [f"{theirs}self_attn.{x}_proj.{p}" for x in "qkv"]
            names[f"{ours}attn.dense.{p}"] = [f"{theirs}self_attn.dense.{p}"]
            names[f"{ours}mlp.fc1.{p}"] = [f"{theirs}mlp.fc1.{p}"]
            names[f"{ours}mlp.fc2.{p}"] = [f"{theirs}mlp.fc2.{p}"]
    for p in ("weight", "bias"):
        names[f"ln_f.{p}"] = [f"model.final_layernorm.{p}"]
        names[f"lm_head.{p}"] = [f"lm_head.{p}"]
    return names


def state_dict_from_hf(sd: dict[str, torch.Tensor], config: ModelConfig) -> dict[str, torch.Tensor]:
    """Our state dict from a `PhiForCausalLM` state dict."""
    return dict(_converted(lambda name: sd[name], config, set(sd), "HF state dict"))


def state_dict_to_hf(sd: dict[str, torch.Tensor], config: ModelConfig) -> dict[str, torch.Tensor]:
    """A `PhiForCausalLM` state dict from ours; every tensor has its own storage, ready for safetensors."""
    out = {}
    for ours, theirs in hf_names(config).items():
        for name, part in zip(theirs, sd[ours].split(sd[ours].size(0) // len(theirs))):
            out[name] = part.detach().cpu().clone()
    return out


def _converted(get: Callable[[str], torch.Tensor], config: ModelConfig, available: set[str],
               source: str) -> Iterator[tuple[str, torch.Tensor]]:
    names = hf_names(config)
    wanted = {name for theirs in names.values() for name in theirs}
    # HF models of some versions saved the rotary inverse frequencies; we recompute them
    extra = sorted(n for n in available - wanted if not n.endswith("rotary_emb.inv_freq"))
    missing = sorted(wanted - available)
    if extra or missing:
        raise ValueError(f"{source} does not match the config: missing {missing[:5]}, unexpected {extra[:5]}")
    for ours, theirs in names.items():
        parts = [get(name) for name in theirs]
        yield ours, parts[0] if len(parts) == 1 else torch.cat(parts)


def load_hf_dir(path: str | os.PathLike, device: torch.device | str = "cpu", dtype: torch.dtype | None = None) -> Phi:
    """Our Phi from an HF `PhiForCausalLM` directory (e.g. microsoft/phi-1), read tensor by tensor.

    The weights may be model.safetensors, sharded safetensors with their index json, or
    pytorch_model.bin (sharded or not). `dtype` None keeps the dtype they were saved in.
    """
    path = Path(path)
    config = config_from_hf(read_hf_config(path))
    with contextlib.ExitStack() as stack:
        tensor_files = _weight_files(path)
        get = _tensor_getter(tensor_files, stack)
        names = _converted(get, config, set(tensor_files), str(path))
        progress = tqdm(names, total=len(hf_names(config)), desc=f"loading {path.name}", unit="tensor", disable=None)
        try:
            return model_from_tensors(config, progress, path, device, dtype)
        except SafetensorError as e:
            raise ValueError(f"{path}: a safetensors file is not readable (corrupt or truncated?): {e}") from None


def read_hf_config(path: Path) -> dict:
    """The config.json dict of an HF model directory."""
    config_path = path / HF_CONFIG
    if not config_path.is_file():
        raise FileNotFoundError(f"{config_path} does not exist; is {path} an HF model directory?")
    try:
        return json.loads(config_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{config_path} is not valid JSON: {e}") from None


def _weight_files(path: Path) -> dict[str, Path]:
    """Each tensor name of an HF directory, mapped to the file that holds it."""
    for name in WEIGHT_FILES:
        if not (path / name).is_file():
            continue
        if not name.endswith(".index.json"):
            return {tensor: path / name for tensor in _file_keys(path / name)}
        try:
            weight_map = json.loads((path / name).read_text(encoding="utf-8"))["weight_map"]
        except (json.JSONDecodeError, KeyError) as e:
            raise ValueError(f"{path / name} is not a valid index (needs a 'weight_map'): {e}") from None
        return {tensor: path / shard for tensor, shard in weight_map.items()}
    raise FileNotFoundError(f"{path} holds no weights: looked for {', '.join(WEIGHT_FILES)}")


def _file_keys(file: Path) -> list[str]:
    if file.suffix == ".bin":
        return list(_load_bin(file))
    try:
        with safe_open(file, framework="pt") as f:
            return list(f.keys())
    except SafetensorError as e:
        raise ValueError(f"{file} is not a readable safetensors file (corrupt or truncated?): {e}") from None


def _load_bin(file: Path) -> dict[str, torch.Tensor]:
    # memory-mapped: tensors are read from disk when used, not all at once
    return torch.load(file, map_location="cpu", mmap=True, weights_only=True)


def _tensor_getter(tensor_files: dict[str, Path], stack: contextlib.ExitStack) -> Callable[[str], torch.Tensor]:
    opened = {}

    def get(name: str) -> torch.Tensor:
        file = tensor_files[name]
        if file not in opened:
            if not file.is_file():
                raise FileNotFoundError(f"{file} (named in the index for {name!r}) does not exist")
            opened[file] = _load_bin(file) if file.suffix == ".bin" else stack.enter_context(safe_open(file, "pt"))
        source = opened[file]
        return source[name] if isinstance(source, dict) else source.get_tensor(name)

    return get


def export_hf(model: Phi, out_dir: str | os.PathLike) -> None:
    """Write config.json + model.safetensors that `PhiForCausalLM.from_pretrained(out_dir)` loads."""
    out_dir = Path(out_dir)
    tensors = state_dict_to_hf(model.state_dict(), model.config)
    with atomic_path(out_dir / WEIGHTS) as tmp:
        save_file(tensors, tmp, metadata={"format": "pt"})
    dtype = str(next(model.parameters()).dtype).removeprefix("torch.")
    atomic_write_json(out_dir / HF_CONFIG, {**config_to_hf(model.config), "dtype": dtype})


def export_hf_tokenizer(tokenizer: Path, config: ModelConfig, out_dir: str | os.PathLike) -> None:
    """The model's tokenizer beside its HF weights, as transformers' `AutoTokenizer` loads it: the
    tokenizer.json itself, and a tokenizer_config.json naming its end-of-text token and context."""
    out_dir = Path(out_dir)
    atomic_write_text(out_dir / TOKENIZER, tokenizer.read_text(encoding="utf-8"))
    atomic_write_json(out_dir / HF_TOKENIZER_CONFIG, {"tokenizer_class": "PreTrainedTokenizerFast", "eos_token": EOT,
                                                      "model_max_length": config.block_size})
