import json

import pytest
import torch
import torch.nn.functional as F

from textbooks.model.config import PRESETS, ModelConfig, get_config
from textbooks.model.phi import Phi, apply_rotary, rotary_cos_sin
from textbooks.layout import CONFIG, WEIGHTS
from textbooks.model.weights import load_model, save_model
from textbooks.model.spec import resolve_model_dir

TINY = ModelConfig(vocab_size=101, n_layer=2, n_embd=64, n_head=2, mlp_hidden=96, rotary_dim=16, block_size=32,
                   attn_dropout=0.1, resid_dropout=0.1, embd_dropout=0.1)


def tiny_model(seed: int = 0, config: ModelConfig = TINY) -> Phi:
    torch.manual_seed(seed)
    return Phi(config)


def expected_params(c: ModelConfig) -> int:
    """The parameter count of phi-1's architecture, counted by hand from paper §2.3."""
    C, H, V = c.n_embd, c.mlp_hidden, c.vocab_size
    layer_norm = 2 * C
    attention = (C * 3 * C + 3 * C) + (C * C + C)  # fused qkv + dense, with biases
    mlp = (C * H + H) + (H * C + C)
    return V * C + c.n_layer * (layer_norm + attention + mlp) + layer_norm + (C * V + V)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_param_count_matches_the_architecture(preset):
    with torch.device("meta"):
        model = Phi(get_config(preset))
    assert model.num_params() == expected_params(model.config)


def test_paper_model_sizes():
    with torch.device("meta"):
        phi1, small = Phi(get_config("phi-1")), Phi(get_config("phi-1-small"))
    assert phi1.num_params() == 1_418_270_720  # HF microsoft/phi-1, vocab 51200
    assert 1.3e9 <= phi1.num_params() <= 1.45e9
    assert 0.33e9 <= small.num_params() <= 0.37e9


@pytest.mark.parametrize("preset", ["cpu-tiny", "cpu-small", "cpu-base"])
def test_cpu_presets_train(preset):
    torch.manual_seed(0)
    model = Phi(get_config(preset))
    idx = torch.randint(0, model.config.vocab_size, (2, 16))
    logits, loss = model(idx, idx.roll(-1, dims=1))
    assert logits.shape == (2, 16, model.config.vocab_size)
    # a fresh model predicts near-uniformly
    assert abs(loss.item() - torch.log(torch.tensor(float(model.config.vocab_size))).item()) < 0.5
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_loss_is_mean_cross_entropy_ignoring_minus_100():
    model = tiny_model().eval()
    idx = torch.randint(0, TINY.vocab_size, (2, 10))
    targets = torch.randint(0, TINY.vocab_size, (2, 10))
    targets[0, :4] = -100
    logits, loss = model(idx, targets)
    kept = targets != -100
    manual = -F.log_softmax(logits, dim=-1)[kept].gather(-1, targets[kept].unsqueeze(-1)).mean()
    torch.testing.assert_close(loss, manual)
    assert model(idx)[1] is None


def test_sequence_longer_than_block_size_is_an_error():
    with pytest.raises(ValueError, match="block_size 32"):
        tiny_model()(torch.zeros(1, 33, dtype=torch.long))


def test_attention_is_causal():
    model = tiny_model().eval()
    idx = torch.randint(0, TINY.vocab_size, (1, 12))
    changed = idx.clone()
    changed[0, 8:] = (changed[0, 8:] + 1) % TINY.vocab_size
    a, b = model(idx)[0], model(changed)[0]
    torch.testing.assert_close(a[:, :8], b[:, :8])
    assert not torch.allclose(a[:, 8:], b[:, 8:])


def test_rotary_rotates_only_the_first_rotary_dims_and_encodes_relative_position():
    cos, sin = rotary_cos_sin(TINY)  # rotary_dim 16 of head_dim 32
    q, k = torch.randn(32), torch.randn(32)
    rot = lambda x: apply_rotary(x.expand(TINY.block_size, 32), cos, sin)  # noqa: E731  (one vector at every position)
    rq, rk = rot(q), rot(k)
    torch.testing.assert_close(rq[:, 16:], q[16:].expand(TINY.block_size, 16))
    torch.testing.assert_close(rq[0], q)  # position 0: no rotation
    # the score of q at position m and k at position n depends only on m - n
    torch.testing.assert_close(rq[5] @ rk[3], rq[12] @ rk[10], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(rq[5] @ rk[3], rq[5] @ rk[4])
    # a rotation keeps norms
    torch.testing.assert_close(rq.norm(dim=-1), q.norm().expand(TINY.block_size))


def test_rotary_cache_is_fp32_and_not_saved():
    model = tiny_model()
    assert model.rope_cos.dtype == torch.float32 and model.rope_cos.shape == (32, 8)
    assert not any(name.startswith("rope_") for name in model.state_dict())


def test_dropout_only_in_training():
    model = tiny_model()
    idx = torch.randint(0, TINY.vocab_size, (2, 16))
    assert not torch.equal(model(idx)[0], model(idx)[0])
    model.eval()
    assert torch.equal(model(idx)[0], model(idx)[0])


def test_init_zero_biases_and_small_weights():
    model = tiny_model(config=get_config("cpu-tiny"))
    for name, p in model.named_parameters():
        if name.endswith("bias") and not name.endswith("ln.bias"):
            assert torch.count_nonzero(p) == 0, name
    assert abs(model.blocks[0].mlp.fc1.weight.std().item() - 0.02) < 1e-3
    assert model.blocks[0].mlp.fc2.weight.std().item() < 0.02  # scaled residual projection


def test_save_load_round_trip(tmp_path):
    model = tiny_model().eval()
    save_model(model, tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [WEIGHTS, CONFIG]  # no temp files left
    loaded = load_model(tmp_path / "m")
    assert loaded.config == TINY and not loaded.training
    idx = torch.randint(0, TINY.vocab_size, (2, 16))
    torch.testing.assert_close(loaded(idx)[0], model(idx)[0], rtol=0, atol=0)
    half = load_model(tmp_path / "m", dtype=torch.bfloat16)
    assert half.lm_head.weight.dtype == torch.bfloat16 and half.rope_cos.dtype == torch.float32
    assert half(idx)[0].dtype == torch.bfloat16


def test_loaded_model_trains(tmp_path):
    save_model(tiny_model(), tmp_path)
    model = load_model(tmp_path).train()
    idx = torch.randint(0, TINY.vocab_size, (2, 8))
    model(idx, idx)[1].backward()
    assert all(p.requires_grad and p.grad is not None for p in model.parameters())


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_model(tmp_path / "nowhere")
    save_model(tiny_model(), tmp_path)
    weights = tmp_path / WEIGHTS
    data = weights.read_bytes()

    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=f"{WEIGHTS}.*corrupt or truncated"):
        load_model(tmp_path)

    weights.write_bytes(data)
    config = json.loads((tmp_path / CONFIG).read_text())
    (tmp_path / CONFIG).write_text(json.dumps({**config, "mlp_hidden": 128}))
    expected = r"model.safetensors: tensor 'blocks.0.mlp.fc1.bias' has shape \(96,\), the model config expects \(128,\)"
    with pytest.raises(ValueError, match=expected):
        load_model(tmp_path)

    (tmp_path / CONFIG).write_text(json.dumps({**config, "n_layer": 1}))
    with pytest.raises(ValueError, match="unexpected tensor 'blocks.1"):
        load_model(tmp_path)

    (tmp_path / CONFIG).write_text("{not json")
    with pytest.raises(ValueError, match=CONFIG):
        load_model(tmp_path)

    weights.unlink()
    (tmp_path / CONFIG).write_text(json.dumps(config))
    with pytest.raises(FileNotFoundError, match=WEIGHTS):
        load_model(tmp_path)


def test_resolve_model_dir_follows_a_runs_latest_checkpoint(tmp_path):
    checkpoint = tmp_path / "checkpoints" / "step-00100"
    save_model(tiny_model(), checkpoint)
    (tmp_path / "checkpoints" / "latest").write_text("step-00100\n")
    assert resolve_model_dir(tmp_path) == checkpoint
    assert resolve_model_dir(checkpoint) == checkpoint
