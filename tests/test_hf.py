"""Parity with transformers' PhiForCausalLM (litgpt-style): tiny random HF models on both sides."""

import json

import pytest
import torch

from textbooks.cli import main as cli_main
from textbooks.model.config import ModelConfig, get_config
from textbooks.model.hf import (config_from_hf, config_to_hf, export_hf, load_hf_dir, state_dict_from_hf,
                                state_dict_to_hf)
from textbooks.model.phi import Phi
from textbooks.model.weights import load_model, save_model

transformers = pytest.importorskip("transformers")
PhiConfig, PhiForCausalLM = transformers.PhiConfig, transformers.PhiForCausalLM

HF_CONFIGS = {
    # phi-1's own proportions: half of each 16-dim head rotated
    "half-rotary": dict(vocab_size=97, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
                        num_attention_heads=4, max_position_embeddings=40,
                        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5}),
    "quarter-rotary": dict(vocab_size=120, hidden_size=96, intermediate_size=200, num_hidden_layers=3,
                           num_attention_heads=3, max_position_embeddings=24, layer_norm_eps=1e-6,
                           rope_parameters={"rope_type": "default", "rope_theta": 500.0,
                                            "partial_rotary_factor": 0.25}),
    "full-rotary": dict(vocab_size=50, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                        num_attention_heads=2, max_position_embeddings=16,
                        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 1.0}),
}
# microsoft/phi-1's config.json, as written by transformers 4.37 (top-level rope settings)
PHI1_CONFIG_JSON = {
    "architectures": ["PhiForCausalLM"], "attention_dropout": 0.0, "bos_token_id": None, "embd_pdrop": 0.0,
    "eos_token_id": None, "hidden_act": "gelu_new", "hidden_size": 2048, "initializer_range": 0.02,
    "intermediate_size": 8192, "layer_norm_eps": 1e-05, "max_position_embeddings": 2048, "model_type": "phi",
    "num_attention_heads": 32, "num_hidden_layers": 24, "num_key_value_heads": None, "partial_rotary_factor": 0.5,
    "qk_layernorm": False, "resid_pdrop": 0.0, "rope_scaling": None, "rope_theta": 10000.0,
    "tie_word_embeddings": False, "torch_dtype": "float16", "transformers_version": "4.37.0", "vocab_size": 51200,
}


def random_hf_model(name: str, seed: int = 0) -> PhiForCausalLM:
    torch.manual_seed(seed)
    # weights larger than HF's 0.02 init, so that activations reach where a wrong GELU would show
    model = PhiForCausalLM(PhiConfig(**HF_CONFIGS[name], initializer_range=0.2)).eval()
    with torch.no_grad():  # HF inits biases to 0 and LayerNorms to 1: perturb them so they are tested
        for param_name, p in model.named_parameters():
            if param_name.endswith("bias") or "layernorm" in param_name:
                p.add_(0.2 * torch.randn_like(p))
    return model


def tokens(config: ModelConfig, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, config.vocab_size, (2, config.block_size), generator=torch.Generator().manual_seed(seed))


def ours_from(hf_model: PhiForCausalLM) -> Phi:
    config = config_from_hf(hf_model.config.to_dict())
    model = Phi(config).eval()
    model.load_state_dict(state_dict_from_hf(hf_model.state_dict(), config))
    return model


def assert_same_logits(ours: Phi, hf_model: PhiForCausalLM) -> None:
    idx = tokens(ours.config)
    with torch.no_grad():
        diff = (ours(idx)[0] - hf_model(idx).logits).abs().max().item()
    assert diff <= 1e-4


@pytest.mark.parametrize("name", list(HF_CONFIGS))
def test_logits_match_hf(name):
    hf_model = random_hf_model(name)
    ours = ours_from(hf_model)
    factor = HF_CONFIGS[name]["rope_parameters"]["partial_rotary_factor"]
    assert ours.config.rotary_dim == int(ours.config.head_dim * factor)
    assert ours.num_params() == hf_model.num_parameters()
    assert_same_logits(ours, hf_model)


def test_loss_matches_hf():
    hf_model = random_hf_model("half-rotary")
    ours = ours_from(hf_model)
    idx = tokens(ours.config)
    # HF shifts the labels itself; ours takes targets already shifted, with -100 where there is none
    targets = torch.cat((idx[:, 1:], torch.full((2, 1), -100)), dim=1)
    with torch.no_grad():
        torch.testing.assert_close(ours(idx, targets)[1], hf_model(idx, labels=idx).loss, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["half-rotary", "quarter-rotary"])
def test_export_loads_in_transformers(tmp_path, name):
    ours = ours_from(random_hf_model(name))
    export_hf(ours, tmp_path)
    reloaded = PhiForCausalLM.from_pretrained(tmp_path).eval()
    assert reloaded.config.rope_parameters["partial_rotary_factor"] == HF_CONFIGS[name]["rope_parameters"][
        "partial_rotary_factor"]
    assert_same_logits(ours, reloaded)
    save_model(ours, tmp_path / "ours")
    assert_same_logits(load_model(tmp_path / "ours"), reloaded)


def test_state_dict_round_trip():
    hf_model = random_hf_model("quarter-rotary")
    config = config_from_hf(hf_model.config.to_dict())
    back = state_dict_to_hf(state_dict_from_hf(hf_model.state_dict(), config), config)
    original = hf_model.state_dict()
    assert back.keys() == original.keys()
    assert all(torch.equal(back[k], original[k]) for k in back)


@pytest.mark.parametrize("shard_size", [None, "40KB"])
def test_load_save_pretrained_dir(tmp_path, shard_size):
    hf_model = random_hf_model("half-rotary")
    hf_model.save_pretrained(tmp_path, **({"max_shard_size": shard_size} if shard_size else {}))
    if shard_size:
        assert (tmp_path / "model.safetensors.index.json").exists()
    assert_same_logits(load_hf_dir(tmp_path), hf_model)


def test_load_pytorch_model_bin(tmp_path):
    hf_model = random_hf_model("quarter-rotary")
    torch.save(hf_model.state_dict(), tmp_path / "pytorch_model.bin")
    (tmp_path / "config.json").write_text(hf_model.config.to_json_string())
    ours = load_hf_dir(tmp_path, dtype=torch.float32)
    assert_same_logits(ours, hf_model)


def test_load_fp16_weights_keeps_or_casts_their_dtype(tmp_path):
    random_hf_model("half-rotary").half().save_pretrained(tmp_path)  # microsoft/phi-1's weights are fp16
    assert load_hf_dir(tmp_path).lm_head.weight.dtype == torch.float16
    ours = load_hf_dir(tmp_path, dtype=torch.float32)
    assert all(p.dtype == torch.float32 for p in ours.parameters())
    assert_same_logits(ours, PhiForCausalLM.from_pretrained(tmp_path, dtype=torch.float32).eval())


def test_config_of_microsoft_phi1():
    config = config_from_hf(PHI1_CONFIG_JSON)
    paper = get_config("phi-1", attn_dropout=0.0, resid_dropout=0.0)
    assert config == paper
    assert config.rotary_dim == 32 and config.head_dim == 64
    hf = config_to_hf(config)
    assert hf["hidden_act"] == "gelu_new" and hf["tie_word_embeddings"] is False
    assert config_from_hf(hf) == config
    assert PhiConfig(**{k: v for k, v in hf.items() if k != "architectures"}).rope_parameters[
        "partial_rotary_factor"] == 0.5


@pytest.mark.parametrize("change, message", [
    ({"qk_layernorm": True}, "qk_layernorm=True"),
    ({"tie_word_embeddings": True}, "tie_word_embeddings"),
    ({"hidden_act": "relu"}, "hidden_act='relu'"),
    ({"num_key_value_heads": 8}, "num_key_value_heads=8"),
    ({"model_type": "phi-msft"}, "model_type='phi-msft'"),
    ({"rope_scaling": {"type": "linear", "factor": 2.0}}, "rope_scaling"),
])
def test_unsupported_hf_configs_are_rejected(change, message):
    with pytest.raises(ValueError, match=message):
        config_from_hf({**PHI1_CONFIG_JSON, **change})


def test_load_hf_dir_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_hf_dir(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(config_to_hf(get_config("cpu-tiny"))))
    with pytest.raises(FileNotFoundError, match="holds no weights: looked for model.safetensors"):
        load_hf_dir(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(ValueError, match="model.safetensors is not a readable safetensors file"):
        load_hf_dir(tmp_path)
    random_hf_model("half-rotary").save_pretrained(tmp_path)  # weights that do not fit the config below
    (tmp_path / "config.json").write_text(json.dumps(config_to_hf(get_config("cpu-tiny"))))
    with pytest.raises(ValueError, match="missing .*model.layers.2"):
        load_hf_dir(tmp_path)


def test_cli_from_hf(tmp_path):
    hf_model = random_hf_model("half-rotary")
    hf_model.save_pretrained(tmp_path / "hf")
    assert cli_main(["convert", "--from-hf", str(tmp_path / "hf"), str(tmp_path / "ours")]) == 0
    assert_same_logits(load_model(tmp_path / "ours"), hf_model)


def test_cli_to_hf_from_a_training_run(tmp_path):
    ours = ours_from(random_hf_model("quarter-rotary"))
    save_model(ours, tmp_path / "run" / "checkpoints" / "step-00010")
    (tmp_path / "run" / "checkpoints" / "latest").write_text("step-00010")
    assert cli_main(["convert", "--to-hf", str(tmp_path / "run"), str(tmp_path / "hf")]) == 0
    assert_same_logits(ours, PhiForCausalLM.from_pretrained(tmp_path / "hf").eval())


def test_to_hf_takes_the_models_tokenizer_along(make_tiny_checkpoint, tmp_path):
    """The HF directory loads with transformers' AutoTokenizer as well as its model class, and its
    tokenizer makes the ids ours does, ending texts with the same <|endoftext|>."""
    from transformers import AutoTokenizer

    from textbooks.tokens import EOT, load_tokenizer

    checkpoint = make_tiny_checkpoint(block_size=32)
    assert cli_main(["convert", "--to-hf", str(checkpoint), str(tmp_path / "hf")]) == 0
    theirs, ours = AutoTokenizer.from_pretrained(tmp_path / "hf"), load_tokenizer(checkpoint / "tokenizer.json")
    text = "def add(a, b):\n    return a + b\n"
    assert theirs(text, add_special_tokens=False)["input_ids"] == ours.encode(text).ids
    assert theirs.eos_token == EOT and theirs.eos_token_id == ours.token_to_id(EOT) and theirs.model_max_length == 32


@pytest.mark.parametrize("argv, message", [
    (["out"], "one of the arguments --from-hf --to-hf is required"),
    (["--from-hf", "a", "--to-hf", "b", "out"], "not allowed with argument"),
])
def test_cli_needs_exactly_one_direction(capsys, argv, message):
    with pytest.raises(SystemExit):
        cli_main(["convert", *argv])
    assert message in capsys.readouterr().err


def test_cli_errors_are_clear(tmp_path):
    with pytest.raises(NotADirectoryError, match="nowhere is not a directory"):
        cli_main(["convert", "--from-hf", str(tmp_path / "nowhere"), str(tmp_path / "out")])
    with pytest.raises(ValueError, match="holds neither model_config.json .* nor config.json"):
        cli_main(["convert", "--from-hf", str(tmp_path), str(tmp_path / "out")])
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    (tmp_path / "run" / "checkpoints" / "latest").write_text("step-00005")
    with pytest.raises(FileNotFoundError, match="step-00005, the latest checkpoint of .*run, does not exist"):
        cli_main(["convert", "--to-hf", str(tmp_path / "run"), str(tmp_path / "hf")])
    with pytest.raises(FileNotFoundError, match="--to-hf .*missing does not exist"):
        cli_main(["convert", "--to-hf", str(tmp_path / "missing"), str(tmp_path / "hf")])
    save_model(ours_from(random_hf_model("quarter-rotary")), tmp_path / "ours")
    with pytest.raises(ValueError, match="one of our models already"):
        cli_main(["convert", "--from-hf", str(tmp_path / "ours"), str(tmp_path / "out")])
    with pytest.raises(ValueError, match="is the source directory"):
        cli_main(["convert", "--to-hf", str(tmp_path / "ours"), str(tmp_path / "ours")])


def test_cli_error_is_one_line_and_exit_code_2(tmp_path, monkeypatch, capsys):
    missing = tmp_path / "nowhere"
    monkeypatch.setattr("sys.argv", ["textbooks", "convert", "--from-hf", str(missing), str(tmp_path / "out")])
    assert cli_main() == 2
    assert capsys.readouterr().err == f"textbooks convert: error: --from-hf {missing} is not a directory\n"
