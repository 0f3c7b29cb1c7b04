"""KV-cache generation: the cache against full recomputation, batching against one prompt at a time,
sampling controls, stop sequences, limits, and the `textbooks generate` command."""

import argparse
import inspect
import json
import os

import pytest
import torch

from textbooks import cli
from textbooks.model.config import ModelConfig
from textbooks.codetext import HUMANEVAL_STOPS
from textbooks.model.generate import (Completion, Generation, SamplingParams, StopScanner, _completion, complete,
                                      generate_ids, greedy, left_padded)
from textbooks.model.generate_cli import unescape
from textbooks.model.onednn import inference_model
from textbooks.model.phi import Phi
from textbooks.model.weights import save_model
from textbooks.prepare.tokenizer import train_tokenizer
from textbooks.tokens import EOT

BLOCK_SIZE = 48
PROMPTS = ["def add(a, b):\n", "import os\n\n\nclass Path:\n    def __init__(self, name):\n", "x",
           "for i in range(10):"]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    texts = [inspect.getsource(module) for module in (json, os)]
    return train_tokenizer(texts, 400, tmp_path_factory.mktemp("tok") / "tokenizer.json")


def make_model(vocab_size: int, seed: int = 0) -> Phi:
    torch.manual_seed(seed)
    # weights well above the 0.02 init, so that logits are far apart and greedy choices are not
    # near-ties that float rounding in a differently shaped matmul could flip
    config = ModelConfig(vocab_size=vocab_size, n_layer=2, n_embd=64, n_head=2, mlp_hidden=128, rotary_dim=16,
                         block_size=BLOCK_SIZE, init_std=0.2)
    return Phi(config).eval()


@pytest.fixture(scope="module")
def model(tokenizer):
    return make_model(tokenizer.get_vocab_size())


def without_eot(model: Phi, tokenizer) -> Phi:
    """`model` with <|endoftext|> made unreachable, so that every completion runs to its limit."""
    blocked = make_model(model.config.vocab_size)
    blocked.load_state_dict(model.state_dict())
    with torch.no_grad():
        blocked.lm_head.bias[tokenizer.token_to_id(EOT)] = -1e4
    return blocked


@torch.no_grad()
def naive_greedy(model: Phi, prompt: list[int], max_new_tokens: int) -> list[int]:
    """Greedy decoding without a cache: the whole sequence through the model for every token."""
    ids = list(prompt)
    for _ in range(max_new_tokens):
        ids.append(model(torch.tensor([ids]))[0][0, -1].argmax().item())
    return ids[len(prompt):]


@pytest.mark.parametrize("layers", ["torch", "onednn"])
def test_cached_prefill_and_steps_give_the_logits_of_a_full_forward(model, layers):
    torch.manual_seed(1)
    lengths = [9, 4, 6]
    sequences = [torch.randint(0, model.config.vocab_size, (n + 5,)).tolist() for n in lengths]
    prompts, pad = left_padded([s[:n] for s, n in zip(sequences, lengths)], "cpu")
    # generation's copy folds the GELU and the residual adds into its layers' kernels
    generator = inference_model(model) if layers == "onednn" else model
    with torch.no_grad():
        cache = generator.new_cache(pad, prompts.size(1) + 5)
        steps = [generator(prompts, cache=cache)[0][:, -1]]
        for t in range(5):
            new = torch.tensor([[s[n + t]] for s, n in zip(sequences, lengths)])
            steps.append(generator(new, cache=cache)[0][:, -1])
        for row, (sequence, n) in enumerate(zip(sequences, lengths)):
            full = model(torch.tensor([sequence]))[0][0]  # (T, vocab)
            for t, logits in enumerate(steps):
                torch.testing.assert_close(logits[row], full[n - 1 + t], rtol=1e-4, atol=1e-4)


def test_greedy_is_the_first_index_of_each_rows_maximum():
    torch.manual_seed(0)
    logits = torch.randn(5, 1024)
    logits[1, 700] = logits[1, 3] = 9.0  # a tie: the first index wins, in another chunk
    logits[2, 130] = logits[2, 129] = 9.0  # a tie inside one chunk
    logits[3, 1023] = 9.0  # the last logit
    assert torch.equal(greedy(logits), logits.argmax(dim=-1))
    assert greedy(logits).tolist()[1:4] == [3, 129, 1023]
    odd = torch.randn(3, 1000)  # not a whole number of chunks
    assert torch.equal(greedy(odd), odd.argmax(dim=-1))


def test_cache_overflow_is_an_error(model):
    cache = model.new_cache(torch.zeros(1, dtype=torch.long), 4)
    with torch.no_grad(), pytest.raises(ValueError, match="KV cache holds 4"):
        model(torch.zeros(1, 5, dtype=torch.long), cache=cache)


def test_greedy_with_the_cache_equals_naive_recomputation(model, tokenizer):
    prompts = [tokenizer.encode(p).ids for p in PROMPTS]
    rows = generate_ids(model, prompts, SamplingParams(max_new_tokens=12), eot_id=None, batch_size=4)
    for row, prompt in zip(rows, prompts):
        assert row.ids == naive_greedy(model, prompt, row.budget)
        assert row.finish_reason == "length"


def test_batched_greedy_equals_one_prompt_at_a_time(model, tokenizer):
    blocked = without_eot(model, tokenizer)
    # long prompts reach the end of the block after 11, 9, 7 and 5 new tokens: the batch of 8 is
    # compacted midway, and the short prompts' rows run past the block's length in cache slots
    long_ids = tokenizer.encode(inspect.getsource(json)).ids[:44]
    prompts = [tokenizer.encode(p).ids for p in PROMPTS] + [long_ids[:n] for n in (38, 40, 42, 44)]
    params = SamplingParams(max_new_tokens=16)
    batched = generate_ids(blocked, prompts, params, batch_size=8)
    alone = [generate_ids(blocked, [p], params, batch_size=1)[0] for p in prompts]
    assert [r.ids for r in batched] == [r.ids for r in alone]
    assert [len(r.ids) for r in batched] == [16] * 4 + [11, 9, 7, 5]

    params = SamplingParams(max_new_tokens=16, stop=("\n\n", "):"))
    assert complete(model, tokenizer, PROMPTS, params, batch_size=4) == [
        complete(model, tokenizer, [p], params, batch_size=1)[0] for p in PROMPTS]


def test_same_seed_same_samples_and_another_seed_differs(model, tokenizer):
    def sampled(seed):
        params = SamplingParams(max_new_tokens=16, temperature=1.0, top_p=0.9, seed=seed)
        return [c.text for c in complete(model, tokenizer, PROMPTS * 2, params, batch_size=3)]

    first = sampled(7)
    assert sampled(7) == first
    assert sampled(8) != first
    greedy = [c.text for c in complete(model, tokenizer, PROMPTS * 2, SamplingParams(max_new_tokens=16))]
    assert first != greedy


def test_a_sample_depends_on_its_own_seed_not_on_its_batch(model, tokenizer):
    params = SamplingParams(max_new_tokens=16, temperature=1.0, top_p=0.95)
    seeds = list(range(100, 100 + len(PROMPTS)))
    together = complete(model, tokenizer, PROMPTS, params, batch_size=len(PROMPTS), seeds=seeds)
    alone = [complete(model, tokenizer, [p], params, batch_size=1, seeds=[s])[0] for p, s in zip(PROMPTS, seeds)]
    assert together == alone
    # the seed picks the stream: swapping two prompts' seeds changes their samples
    swapped = complete(model, tokenizer, PROMPTS, params, seeds=[seeds[1], seeds[0], *seeds[2:]])
    assert [c.text for c in swapped[:2]] != [c.text for c in together[:2]]


def test_a_tiny_top_p_is_greedy(model, tokenizer):
    greedy = complete(model, tokenizer, PROMPTS, SamplingParams(max_new_tokens=10))
    nucleus = complete(model, tokenizer, PROMPTS, SamplingParams(max_new_tokens=10, temperature=1.5, top_p=1e-6,
                                                                 seed=3))
    assert nucleus == greedy


def test_max_new_tokens_is_respected(model, tokenizer):
    completions = complete(without_eot(model, tokenizer), tokenizer, PROMPTS, SamplingParams(max_new_tokens=5))
    assert [len(c.token_ids) for c in completions] == [5] * len(PROMPTS)
    assert all(c.finish_reason == "length" for c in completions)
    assert [c.prompt_tokens for c in completions] == [len(tokenizer.encode(p).ids) for p in PROMPTS]
    assert all(c.text == tokenizer.decode(c.token_ids) for c in completions)
    none = complete(model, tokenizer, PROMPTS[:1], SamplingParams(max_new_tokens=0))[0]
    assert none == Completion("", [], "length", len(tokenizer.encode(PROMPTS[0]).ids))


def test_end_of_text_stops_a_completion(model, tokenizer):
    eot = tokenizer.token_to_id(EOT)
    eager = make_model(model.config.vocab_size)
    eager.load_state_dict(model.state_dict())
    with torch.no_grad():
        eager.lm_head.bias[eot] = 1e4
    completion = complete(eager, tokenizer, ["def f():\n"], SamplingParams(max_new_tokens=8))[0]
    assert completion == Completion("", [], "stop", len(tokenizer.encode("def f():\n").ids))


def test_the_block_size_limits_a_completion(model, tokenizer):
    blocked = without_eot(model, tokenizer)
    prompt = [5] * (BLOCK_SIZE - 3)
    rows = generate_ids(blocked, [prompt, [5] * (BLOCK_SIZE + 1), [5, 6]], SamplingParams(max_new_tokens=10))
    # the 4th new token is predicted from BLOCK_SIZE tokens: the last that fits
    assert [len(r.ids) for r in rows] == [4, 0, 10]
    assert rows[0].ids == naive_greedy(blocked, prompt, 4)
    too_long = complete(blocked, tokenizer, ["x " * (2 * BLOCK_SIZE)], SamplingParams(max_new_tokens=4))[0]
    assert (too_long.text, too_long.finish_reason) == ("", "length")


def test_stop_sequences_are_found_as_tokens_arrive(tokenizer):
    text = "    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"
    ids = tokenizer.encode(text).ids
    scanner = StopScanner(tokenizer, HUMANEVAL_STOPS)
    first = next(n for n in range(1, len(ids) + 1) if scanner.scan([ids[:n]])[0])
    # the first prefix whose text holds "\ndef " is the first one found
    assert "\ndef " in tokenizer.decode(ids[:first]) and "\ndef " not in tokenizer.decode(ids[:first - 1])
    completion = _completion(Generation(ids[:3], 99, ids[:first], "stop"), tokenizer, HUMANEVAL_STOPS)
    assert completion.text == "    return a + b\n\n"
    assert completion.finish_reason == "stop"
    assert tokenizer.decode(completion.token_ids).startswith(completion.text)
    assert "def" not in tokenizer.decode(completion.token_ids)
    assert not StopScanner(tokenizer, ()).scan([ids])[0]


def test_stop_sequences_cut_generated_text(model, tokenizer):
    free = complete(without_eot(model, tokenizer), tokenizer, PROMPTS, SamplingParams(max_new_tokens=20))
    text = free[0].text
    # a stop taken from inside the free completion, at the first place it occurs
    start = next(i for i in range(2, len(text) - 2) if "\ufffd" not in text[i:i + 2])
    stop = text[start:start + 2]
    cut = complete(without_eot(model, tokenizer), tokenizer, PROMPTS, SamplingParams(max_new_tokens=20, stop=(stop,)))
    assert cut[0].text == text[:text.index(stop)] and cut[0].finish_reason == "stop"
    assert tokenizer.decode(cut[0].token_ids).startswith(cut[0].text)
    assert len(cut[0].token_ids) < len(free[0].token_ids)
    for before, after in zip(free[1:], cut[1:]):  # the other prompts are cut where the stop occurs, if it does
        assert after.text == before.text.split(stop)[0]


def test_the_onednn_copy_computes_what_the_model_does(model):
    fast = inference_model(model)
    idx = torch.randint(0, model.config.vocab_size, (3, 10))
    with torch.inference_mode():
        torch.testing.assert_close(fast(idx)[0], model(idx)[0], rtol=1e-4, atol=1e-4)
    assert isinstance(model.lm_head, torch.nn.Linear)  # the model itself is untouched
    assert inference_model(model) is fast  # kept for the next call...
    with torch.no_grad():
        model.lm_head.bias.add_(1.0)
    try:
        assert inference_model(model) is not fast  # ...until a weight changes
    finally:
        with torch.no_grad():
            model.lm_head.bias.sub_(1.0)


def test_generation_leaves_a_training_model_in_training_mode(model, tokenizer):
    trained = make_model(model.config.vocab_size).train()
    complete(trained, tokenizer, PROMPTS[:1], SamplingParams(max_new_tokens=2))
    assert trained.training


def test_sampling_params_are_validated():
    for bad in ({"temperature": -1}, {"top_p": 0}, {"top_p": 1.5}, {"max_new_tokens": -1}, {"stop": ("",)}):
        with pytest.raises(ValueError):
            SamplingParams(**bad)


def test_unescape_reads_command_line_escapes():
    assert unescape(r"\ndef \t\\n") == "\ndef \t\\n"


def test_generate_command_prints_completions(model, tokenizer, tmp_path, capsys):
    save_model(model, tmp_path / "model")
    tokenizer.save(str(tmp_path / "model" / "tokenizer.json"))
    prompts_file = tmp_path / "prompts.jsonl"
    prompts_file.write_text(json.dumps({"task_id": "t/0", "prompt": "def sub(a, b):\n"}) + "\n" + json.dumps("x = ")
                            + "\n")
    cli.main(["generate", str(tmp_path / "model"), "--prompt", "def add(a, b):\n", "--prompts-file", str(prompts_file),
              "--temperature", "0", "--max-new-tokens", "6", "--stop", "):", "--batch-size", "2"])
    out = capsys.readouterr().out
    blocks = out.split("--- prompt\n")[1:]
    assert [b.split("--- completion")[0] for b in blocks] == ["def add(a, b):\n", "def sub(a, b):\n", "x = "]
    expected = complete(model, tokenizer, ["def add(a, b):\n"], SamplingParams(max_new_tokens=6, stop=("):",)))[0]
    header = f"--- completion ({expected.finish_reason}, {len(expected.token_ids)} tokens)\n"
    assert blocks[0] == "def add(a, b):\n" + header + expected.text + "\n\n"
    assert "3 completions" in blocks[-1]


def test_generate_writes_one_object_a_prompt_for_another_tool(model, tokenizer, tmp_path, capsys):
    """--out FILE.jsonl: in the prompts' order, each prompt with its completion, why it ended and
    its token counts, the same completions the printed blocks show; nothing but the summary printed."""
    save_model(model, tmp_path / "model")
    tokenizer.save(str(tmp_path / "model" / "tokenizer.json"))
    prompts = ["def add(a, b):\n", "def sub(a, b):\n", "x = "]
    argv = ["generate", str(tmp_path / "model"), *[a for p in prompts for a in ("--prompt", p)], "--temperature", "0",
            "--max-new-tokens", "6", "--batch-size", "2"]
    cli.main([*argv, "--out", str(tmp_path / "completions.jsonl")])
    printed = capsys.readouterr().out
    rows = [json.loads(line) for line in (tmp_path / "completions.jsonl").read_text().splitlines()]
    expected = complete(model, tokenizer, prompts, SamplingParams(max_new_tokens=6, temperature=0.0))
    assert rows == [{"prompt": p, "completion": c.text, "finish_reason": c.finish_reason,
                     "prompt_tokens": c.prompt_tokens, "completion_tokens": len(c.token_ids)}
                    for p, c in zip(prompts, expected)]
    assert "--- prompt" not in printed and f"-> {tmp_path / 'completions.jsonl'}" in printed
    with pytest.raises(ValueError, match="is not a .jsonl file to write"):
        cli.main([*argv, "--out", str(tmp_path)])


def test_generate_command_reads_its_options(model, tmp_path):
    from textbooks import options
    from textbooks.model import generate_cli as generate

    save_model(model, tmp_path / "model")
    (tmp_path / "model" / "tokenizer.json").write_text("{}")
    parser = argparse.ArgumentParser()
    options.add_arguments(parser, generate.Options)
    _, tokenizer_path, prompts, params = generate.setup(options.parse(parser, generate.Options, [
        str(tmp_path / "model"), "--stop", r"\n\n", "--humaneval-stops", "--temperature", "0", "--seed", "3",
        "--max-new-tokens", "7"]))
    assert params == SamplingParams(max_new_tokens=7, temperature=0.0, top_p=0.95, stop=("\n\n", *HUMANEVAL_STOPS),
                                        seed=3)
    assert prompts == list(generate.DEFAULT_PROMPTS)
    assert tokenizer_path == tmp_path / "model" / "tokenizer.json"


def test_generate_command_rejects_bad_input(model, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        cli.main(["generate", str(tmp_path / "nothing")])
    save_model(model, tmp_path / "model")
    (tmp_path / "model" / "tokenizer.json").write_text("{}")
    with pytest.raises(ValueError, match="top_p"):
        cli.main(["generate", str(tmp_path / "model"), "--top-p", "0"])
    with pytest.raises(FileNotFoundError, match="prompts-file"):
        cli.main(["generate", str(tmp_path / "model"), "--prompts-file", str(tmp_path / "missing.jsonl")])
