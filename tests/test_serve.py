"""`textbooks serve` as a real uvicorn server on loopback, used through our own HTTP client; and the
in-process backends (our checkpoint, an HF directory) that it must agree with."""

import contextlib
import socket
import json
import os
import subprocess
import sys
import threading
import time

import httpx
import pytest

from textbooks import cli
from textbooks.llm import LLMError, Request, open_client
from textbooks.llm.http import HTTPClient, RetryPolicy
from textbooks.llm.local import CheckpointClient, HFClient
from textbooks.serve import Options, build_app, make_server

PROMPTS = ["def add(a, b):\n", 'import os\n\n\ndef read(path):\n    """Read a file."""\n', "x"]
BLOCK_SIZE = 128


@pytest.fixture(scope="module")
def checkpoint(make_tiny_checkpoint):
    return make_tiny_checkpoint(block_size=BLOCK_SIZE, modules=(json, os, contextlib))


@pytest.fixture(scope="module")
def local(checkpoint):
    return CheckpointClient(checkpoint)


@contextlib.contextmanager
def running(client, **options):
    """Serve `client` on an ephemeral loopback port; yields (base URL, app)."""
    app = build_app(client, Options(model="tiny", name="tiny", **options))
    server, sock = make_server(app, "127.0.0.1", 0, log_level="warning")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1", app
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def served(local):
    with running(local) as (url, _):
        yield url


def test_a_client_that_connects_before_uvicorn_starts_waits_rather_than_being_refused(local):
    # serve prints its address before uvicorn runs: a client quick off the mark must not be refused
    server, sock = make_server(build_app(local, Options(model="tiny", name="tiny")), "127.0.0.1", 0)
    try:
        with socket.create_connection(sock.getsockname()[:2], timeout=5):
            pass
    finally:
        sock.close()


def texts(responses):
    return [r.text for r in responses]


def test_models_and_completions_agree_with_the_model_in_process(served, local):
    assert httpx.get(f"{served}/models").json()["data"][0] == {
        "id": "tiny", "object": "model", "created": pytest.approx(time.time(), abs=600), "owned_by": "textbooks",
        "max_model_len": BLOCK_SIZE}
    client = open_client(served)  # learns the name "tiny" from /v1/models
    assert client.name == f"{served}#tiny"
    requests = [Request(prompt=p, max_tokens=12) for p in PROMPTS]
    requests += [Request(prompt=PROMPTS[0], max_tokens=10, temperature=0.9, seed=s) for s in (1, 2)]
    over_http = client.complete(requests)
    assert texts(over_http) == texts(local.complete(requests))
    assert over_http[3].text != over_http[4].text  # two seeds, two samples
    for request, response in zip(requests, over_http):
        assert response.prompt_tokens == local.count_tokens(request.prompt)
        assert 1 <= response.completion_tokens <= request.max_tokens
        assert (response.finish_reason == "length") == (response.completion_tokens == request.max_tokens)


def test_chat_uses_the_template_and_stops_at_the_next_turn(served, local):
    request = Request(messages=(("system", "You write Python."), ("user", "Add two numbers.")), max_tokens=20)
    [reply] = open_client(f"{served}#tiny").complete([request])
    assert reply.text == local.complete([request])[0].text and "\n### " not in reply.text
    assert reply.prompt_tokens == local.count_tokens("### System:\nYou write Python.\n\n### User:\n"
                                                     "Add two numbers.\n\n### Assistant:\n")


def test_stop_sequences_cut_the_completion(served):
    client = open_client(f"{served}#tiny")
    [full] = client.complete([Request(prompt=PROMPTS[1], max_tokens=30)])
    stop = full.text[len(full.text) // 2:][:3]
    [cut] = client.complete([Request(prompt=PROMPTS[1], max_tokens=30, stop=("never-there", stop))])
    assert cut.text == full.text[:full.text.index(stop)] and cut.finish_reason == "stop"
    assert cut.completion_tokens < full.completion_tokens


def test_several_prompts_and_n_choices_in_one_request(served, local):
    body = {"model": "tiny", "prompt": PROMPTS[:2], "n": 2, "max_tokens": 5, "temperature": 0.8, "seed": 7}
    reply = httpx.post(f"{served}/completions", json=body).json()
    assert [c["index"] for c in reply["choices"]] == [0, 1, 2, 3]
    prompt_tokens = sum(local.count_tokens(p) for p in PROMPTS[:2])
    assert reply["usage"]["prompt_tokens"] == prompt_tokens
    assert reply["usage"]["total_tokens"] == prompt_tokens + reply["usage"]["completion_tokens"]
    empty = httpx.post(f"{served}/completions", json={"prompt": "", "max_tokens": 3}).json()  # a new document
    assert empty["choices"][0]["text"] and empty["usage"]["prompt_tokens"] == 1
    chat = httpx.post(f"{served}/chat/completions", json={"messages": [{"role": "user", "content": "hi"}],
                                                         "max_tokens": 4, "n": 3}).json()
    assert chat["object"] == "chat.completion" and len(chat["choices"]) == 3
    assert chat["choices"][0]["message"]["role"] == "assistant"


LONG_PROMPT = "def f(x):\n    return x\n" * 40


@pytest.mark.parametrize("path, body, status, message", [
    ("completions", {"max_tokens": 4}, 400, "prompt is required"),
    ("completions", {"prompt": []}, 400, "prompt: prompt must be a string or a non-empty list of strings"),
    ("completions", {"prompt": "x", "max_tokens": -1}, 400, "max_tokens: Input should be greater than or equal to 1"),
    ("completions", {"prompt": "x", "temperature": 2.5}, 400, "temperature: Input should be less than or equal to 2"),
    ("completions", {"prompt": "x", "top_p": 0}, 400, "top_p: Input should be greater than 0"),
    ("completions", {"prompt": "x", "model": "gpt-4"}, 404, "the model 'gpt-4' does not exist"),
    ("completions", {"prompt": "x", "n": 17}, 400, "asks for 17 choices"),
    ("completions", {"prompt": ["x"] * 5, "n": 4}, 400, "asks for 20 choices"),
    ("completions", {"prompt": LONG_PROMPT, "max_tokens": 4}, 400, f"this model's context is {BLOCK_SIZE} tokens"),
    ("completions", {"prompt": "x", "max_tokens": BLOCK_SIZE}, 400, f"max_tokens asks for {BLOCK_SIZE} more"),
    ("completions", {"prompt": "x", "stop": ["a"] * 17}, 400, "stop: at most 16 stop sequences"),
    ("completions", {"prompt": "x", "stream": True}, 400, "streaming is not supported"),
    ("chat/completions", {"messages": []}, 400, "messages: List should have at least 1 item"),
    ("chat/completions", {"messages": [{"role": "robot", "content": "x"}]}, 400, "messages: Input should be"),
    ("chat/completions", {"messages": [{"role": "user", "content": LONG_PROMPT}]}, 400, "context is"),
    ("embeddings", {"input": "x"}, 404, "Not Found"),
])
def test_bad_requests_get_clear_4xx_errors(served, path, body, status, message):
    reply = httpx.post(f"{served}/{path}", json=body)
    assert reply.status_code == status
    error = reply.json()["error"]
    assert message in error["message"]
    assert error["type"] == "invalid_request_error"


def choice_texts(served, path, body):
    reply = httpx.post(f"{served}/{path}", json=body)
    assert reply.status_code == 200, reply.text
    return [c["text"] if "text" in c else c["message"]["content"] for c in reply.json()["choices"]]


@pytest.mark.parametrize("path, body", [
    ("completions", {"prompt": PROMPTS[0]}),
    ("chat/completions", {"messages": [{"role": "user", "content": "Add two numbers."}]}),
])
def test_each_of_n_choices_samples_from_its_own_seed(served, path, body):
    body = {**body, "n": 3, "max_tokens": 8, "temperature": 1.0}
    seeded = choice_texts(served, path, {**body, "seed": 5})
    assert len(set(seeded)) == 3  # three samples, not one sample three times
    assert choice_texts(served, path, {**body, "seed": 5}) == seeded  # and the same three again
    assert choice_texts(served, path, {**body, "n": 1, "seed": 5}) == seeded[:1]  # choice 0 samples from the seed
    assert len(set(choice_texts(served, path, body))) == 3  # no seed: fresh randomness for each


def test_each_prompt_of_a_request_samples_from_its_own_seed(served):
    body = {"prompt": [PROMPTS[0]] * 2, "n": 2, "max_tokens": 8, "temperature": 1.0, "seed": 5}
    assert len(set(choice_texts(served, "completions", body))) == 4


COMPLETION = {"prompt": "x", "max_tokens": 2, "temperature": 0}
CHAT = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, "temperature": 0}
TOOL = {"type": "function", "function": {"name": "add", "parameters": {"type": "object", "properties": {}}}}


@pytest.mark.parametrize("body, param", [
    ({**COMPLETION, "logprobs": 0}, "logprobs"),  # 0 still returns the sampled tokens' logprobs
    ({**COMPLETION, "logprobs": 5}, "logprobs"),
    ({**COMPLETION, "echo": True}, "echo"),
    ({**COMPLETION, "best_of": 3}, "best_of"),
    ({**COMPLETION, "suffix": "\n    return x\n"}, "suffix"),
    ({**COMPLETION, "logit_bias": {"50": 100}}, "logit_bias"),
    ({**COMPLETION, "presence_penalty": 0.5}, "presence_penalty"),
    ({**COMPLETION, "frequency_penalty": -1}, "frequency_penalty"),
    ({**COMPLETION, "stream_options": {"include_usage": True}}, "stream_options"),
    ({**COMPLETION, "top_k": 40}, "top_k"),  # not OpenAI's, but it would change the sampling
    ({**CHAT, "logprobs": True}, "logprobs"),
    ({**CHAT, "top_logprobs": 3}, "top_logprobs"),
    ({**CHAT, "tools": [TOOL]}, "tools"),
    ({**CHAT, "tool_choice": "required"}, "tool_choice"),
    ({**CHAT, "functions": [TOOL["function"]]}, "functions"),
    ({**CHAT, "function_call": {"name": "add"}}, "function_call"),
    ({**CHAT, "response_format": {"type": "json_object"}}, "response_format"),
    ({**CHAT, "logit_bias": {"50": -100}}, "logit_bias"),
    ({**CHAT, "presence_penalty": 1}, "presence_penalty"),
    ({**CHAT, "frequency_penalty": 0.1}, "frequency_penalty"),
    ({**CHAT, "reasoning_effort": "high"}, "reasoning_effort"),
    ({**CHAT, "suffix": "x"}, "suffix"),  # a completions parameter
    ({**CHAT, "messages": [{"role": "user", "content": "hi", "name": "ann"}]}, "messages[0].name"),
])
def test_parameters_we_do_not_implement_are_refused_by_name(served, body, param):
    path = "chat/completions" if "messages" in body else "completions"
    reply = httpx.post(f"{served}/{path}", json=body)
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["param"] == param and param in error["message"] and error["type"] == "invalid_request_error"


def test_parameters_sent_with_their_neutral_value_are_accepted(served):
    neutral = {"logit_bias": {}, "presence_penalty": 0, "frequency_penalty": 0.0, "stream_options": None,
               "user": "ann", "metadata": {"run": "1"}}
    completion = {**COMPLETION, **neutral, "logprobs": None, "echo": False, "best_of": 1, "suffix": None}
    chat = {**CHAT, **neutral, "logprobs": False, "top_logprobs": None, "tools": [], "tool_choice": "none",
            "functions": None, "response_format": {"type": "text"}, "parallel_tool_calls": True,
            "messages": [{"role": "user", "content": "hi", "name": None}]}
    assert choice_texts(served, "completions", completion) == choice_texts(served, "completions", COMPLETION)
    assert choice_texts(served, "chat/completions", chat) == choice_texts(served, "chat/completions", CHAT)


def test_a_model_is_found_by_its_id(served):
    assert httpx.get(f"{served}/models/tiny").json() == httpx.get(f"{served}/models").json()["data"][0]
    missing = httpx.get(f"{served}/models/gpt-4")
    assert missing.status_code == 404
    assert missing.json()["error"] == {"message": "the model 'gpt-4' does not exist; this server serves 'tiny'",
                                       "type": "invalid_request_error", "param": "model", "code": "model_not_found"}


def test_a_body_that_is_not_json_is_a_400(served):
    reply = httpx.post(f"{served}/completions", content=b"{not json", headers={"Content-Type": "application/json"})
    assert reply.status_code == 400 and "not valid JSON" in reply.json()["error"]["message"]


def test_our_client_reports_a_refusal_without_retrying(served):
    client = open_client(f"{served}#tiny")
    with pytest.raises(LLMError, match=r"HTTP 400: this model's context is 128 tokens"):
        client.complete([Request(prompt=LONG_PROMPT, max_tokens=4)])
    with pytest.raises(LLMError, match=r"HTTP 404: the model 'other' does not exist"):
        open_client(f"{served}#other").complete([Request(prompt="x")])


class GatedClient:
    """The model behind a gate: generation waits until the test opens it; records calls at once."""

    def __init__(self, inner):
        self.inner, self.gate, self.lock = inner, threading.Event(), threading.Lock()
        self.running = self.most_running = 0
        self.context_length, self.count_tokens = inner.context_length, inner.count_tokens
        self.prompt_text = inner.prompt_text

    def complete(self, requests):
        with self.lock:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        self.gate.wait(10)
        try:
            return self.inner.complete(requests)
        finally:
            with self.lock:
                self.running -= 1


def test_concurrency_is_bounded_and_overflow_gets_503(local):
    gated = GatedClient(local)
    with running(gated, concurrency=1, max_queue=1) as (url, app):
        body = {"prompt": "def f():", "max_tokens": 3}
        replies = []
        senders = [threading.Thread(target=lambda: replies.append(httpx.post(f"{url}/completions", json=body)))
                   for _ in range(2)]
        for sender in senders:
            sender.start()
        deadline = time.monotonic() + 10
        while app.state.admission.admitted < 2 and time.monotonic() < deadline:  # one running, one queued
            time.sleep(0.01)
        overflow = httpx.post(f"{url}/completions", json=body)
        assert overflow.status_code == 503 and overflow.headers["Retry-After"] == "1"
        assert "busy" in overflow.json()["error"]["message"]

        waits = []  # our client retries the 503 until the queue has room
        retrying = HTTPClient(url, "tiny", retry=RetryPolicy(max_retries=50),
                              sleep=lambda s: (waits.append(s), time.sleep(0.05)))
        threading.Timer(0.3, gated.gate.set).start()
        answer = retrying.complete([Request(prompt="def g():", max_tokens=3)])
        for sender in senders:
            sender.join(10)
    assert [r.status_code for r in replies] == [200, 200] and answer[0].completion_tokens >= 1
    assert waits and all(w == 1.0 for w in waits)  # it waited as Retry-After asked
    assert gated.most_running == 1


def test_hf_directory_backend_agrees_with_our_checkpoint(checkpoint, local, tmp_path):
    from transformers import PreTrainedTokenizerFast

    from textbooks.model.hf import export_hf
    from textbooks.tokens import EOT

    export_hf(local.model, tmp_path / "hf")
    PreTrainedTokenizerFast(tokenizer_file=str(checkpoint / "tokenizer.json"), eos_token=EOT).save_pretrained(
        tmp_path / "hf")
    hf = open_client(str(tmp_path / "hf"))
    assert isinstance(hf, HFClient)
    requests = [Request(prompt=p, max_tokens=10) for p in PROMPTS]
    requests.append(Request(messages=(("user", "Add two numbers."),), max_tokens=10))
    requests.append(Request(prompt=PROMPTS[1], max_tokens=30, stop=("\n",)))
    ours, theirs = local.complete(requests), hf.complete(requests)
    assert texts(theirs) == texts(ours)
    assert [r.finish_reason for r in theirs] == [r.finish_reason for r in ours]
    assert [r.prompt_tokens for r in theirs] == [r.prompt_tokens for r in ours]


def test_open_client_finds_our_model_in_a_training_run(checkpoint, tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "step-00001").symlink_to(checkpoint)
    (run / "checkpoints" / "latest").write_text("step-00001\n")
    client = open_client(str(run))
    assert isinstance(client, CheckpointClient) and client.model_dir == run / "checkpoints" / "step-00001"


def test_serve_command_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        cli.main(["serve", str(tmp_path / "missing")])
    with pytest.raises(ValueError, match="--concurrency must be >= 1"):
        cli.main(["serve", str(tmp_path), "--concurrency", "0"])


def test_serve_command_line(checkpoint):
    command = [sys.executable, "-m", "textbooks.cli", "serve", str(checkpoint), "--port", "0", "--name", "cli-tiny",
               "--log-level", "warning"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("serving cli-tiny at http://127.0.0.1:"), line
        url = line.split(" at ")[1].strip()
        [reply] = open_client(url).complete([Request(prompt="def f():", max_tokens=4)])
        assert reply.completion_tokens >= 1
    finally:
        process.terminate()
        process.wait(10)
