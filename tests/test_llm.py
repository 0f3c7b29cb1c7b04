"""LLM clients against a real loopback server that injects faults (tests/fault_server.py)."""

import sqlite3
import time

import pytest
from fault_server import FaultServer

from textbooks.llm import BudgetExceeded, LLMError, Request, Response, open_client
from textbooks.llm.ask import Answer, ask_until_parsed, attempt_sampling
from textbooks.llm.budget import upper_bound_tokens
from textbooks.llm.cache import ResponseCache, cache_key
from textbooks.llm.http import HTTPClient, RetryPolicy, count_tokens, retry_after_s

FAST_RETRY = RetryPolicy(max_retries=3, initial_s=0.01, max_wait_s=0.05)


def http_client(server: FaultServer, **kwargs) -> HTTPClient:
    options = {"retry": FAST_RETRY, "timeout_s": 0.5, "concurrency": 2, **kwargs}
    return HTTPClient(server.url, server.model, **options)


@pytest.mark.parametrize("fault", ["429", "500", "503", "hang", "malformed", "bad-schema", "paid-no-text", "close"])
def test_transient_faults_are_retried_until_an_answer_that_counts_them(fault):
    with FaultServer([fault, fault], hang_s=2.0) as server, http_client(server, timeout_s=0.3) as client:
        [response] = client.complete([Request(prompt="def f():", max_tokens=8)])
    paid = 3 if fault == "paid-no-text" else 1  # the two unusable answers reported usage: they were paid for
    assert response == Response("re:def f():", "length", paid * 1, paid * 4, retries=2)
    assert server.count == 3  # two failures, then the answer


def test_a_reply_without_usage_has_its_tokens_counted_and_says_so(capsys):
    prompt, messages = "def add(a, b):\n    return a + b\n", (("system", "Be brief."), ("user", "Add two numbers."))
    with FaultServer(report_usage=False, reply_suffix="  # done") as server, http_client(server) as client:
        completion, chat = client.complete([Request(prompt=prompt), Request(messages=messages)])
        client.complete([Request(prompt="again")])
    assert completion.counted and chat.counted
    # cl100k_base: the prompt's 12 tokens, and the whole reply's (our test server echoes the prompt)
    assert (completion.prompt_tokens, completion.completion_tokens) == (12, count_tokens(f"re:{prompt}  # done"))
    assert chat.prompt_tokens == count_tokens("Be brief.\nAdd two numbers.") == 7
    said = capsys.readouterr().err.splitlines()
    assert said == [f"note: {server.url} reports no token usage; its tokens are counted here with cl100k_base "
                    "(the ledger says which replies)"]  # once per client


def test_a_reply_with_usage_is_not_counted_here():
    with FaultServer() as server, http_client(server) as client:
        [response] = client.complete([Request(prompt="def f():")])
    assert not response.counted and (response.prompt_tokens, response.completion_tokens) == (1, 4)


def test_retry_waits_back_off_and_honour_retry_after():
    waits = []
    with FaultServer(["500", "500", "500", "429"], retry_after="7") as server:
        client = http_client(server, retry=RetryPolicy(max_retries=4, initial_s=0.5, max_wait_s=60), sleep=waits.append)
        client.complete([Request(prompt="x")])
    assert len(waits) == 4 and server.count == 5
    for attempt, wait in enumerate(waits[:3]):  # full jitter under an exponentially growing cap
        assert 0 <= wait <= 0.5 * 2 ** attempt
    assert waits[3] == 7.0  # what the server asked for


def test_retry_after_forms():
    import httpx

    def reply(value):
        return httpx.Response(429, headers={} if value is None else {"Retry-After": value})

    assert retry_after_s(reply("3")) == 3.0
    assert retry_after_s(reply("Wed, 21 Oct 2015 07:28:00 GMT")) == 0.0  # a date in the past: no wait
    assert retry_after_s(reply(None)) is None and retry_after_s(reply("soon")) is None


def test_gives_up_after_max_retries_naming_the_last_failure():
    with FaultServer(["503"] * 3 + ["500"]) as server, http_client(server) as client:
        with pytest.raises(LLMError, match=r"failed after 4 attempts; last failure: HTTP 500: injected 500"):
            client.complete([Request(prompt="x")])
    assert server.count == 4


def test_gives_up_on_a_server_that_always_hangs():
    with FaultServer(["hang"] * 3, hang_s=2.0) as server, \
            http_client(server, timeout_s=0.2, retry=RetryPolicy(max_retries=2, initial_s=0.01)) as client:
        with pytest.raises(LLMError, match="after 3 attempts; last failure: timed out"):
            client.complete([Request(prompt="x")])


def test_each_attempt_has_a_deadline_in_all_even_against_a_trickle(capsys):
    """A server that sends a byte every 50 ms never lets a read time out: only the attempt's deadline
    ends it. Each retry is said on stderr."""
    started = time.monotonic()
    with FaultServer(["trickle"] * 3, trickle_s=0.05) as server, \
            http_client(server, timeout_s=0.3, retry=RetryPolicy(max_retries=2, initial_s=0.01)) as client:
        with pytest.raises(LLMError, match=r"after 3 attempts; last failure: timed out: no whole answer within 0.3 s"):
            client.complete([Request(prompt="x")])
    assert time.monotonic() - started < 3
    said = capsys.readouterr().err.splitlines()
    assert len(said) == 2 and all(f"POST {server.url}/completions: attempt" in line and "retrying in" in line
                                  for line in said)


def test_with_the_defaults_a_request_fails_for_good_within_three_minutes():
    from textbooks.llm.http import MAX_RETRIES, REQUEST_DEADLINE_S, TIMEOUT_S

    assert REQUEST_DEADLINE_S == (MAX_RETRIES + 1) * TIMEOUT_S + sum(2 ** k for k in range(MAX_RETRIES)) <= 180
    client = HTTPClient("http://127.0.0.1:9/v1", "m")
    assert client.timeout_s == TIMEOUT_S and client.retry.max_retries == MAX_RETRIES


def test_client_errors_are_not_retried():
    with FaultServer(["400"]) as server, http_client(server) as client:
        with pytest.raises(LLMError, match="refused: HTTP 400: injected 400"):
            client.complete([Request(prompt="x")])
    assert server.count == 1


def test_a_rerun_with_the_cache_sends_nothing(tmp_path):
    requests = [Request(prompt=f"p{i}", max_tokens=5) for i in range(6)]
    with FaultServer(["500", "close"]) as server:
        client = open_client(f"{server.url}#{server.model}", cache=tmp_path / "c.sqlite", concurrency=3)
        client.inner.retry = FAST_RETRY
        first = client.complete(requests)
        assert server.count == 8 and not any(r.cached for r in first)
        again = open_client(f"{server.url}#{server.model}", cache=tmp_path / "c.sqlite").complete(requests)
        assert server.count == 8  # nothing sent
    assert [r.text for r in again] == [f"re:p{i}" for i in range(6)] and all(r.cached for r in again)
    assert [(r.text, r.finish_reason, r.prompt_tokens, r.completion_tokens) for r in again] == \
           [(r.text, r.finish_reason, r.prompt_tokens, r.completion_tokens) for r in first]
    assert client.cache.ledger()[client.name] == {"requests": 6, "prompt_tokens": 6, "completion_tokens": 24}


def test_answers_in_flight_when_another_request_fails_are_kept(tmp_path):
    requests = [Request(prompt=f"p{i}") for i in range(3)]
    with FaultServer(["400"], delay_s=0.2) as server:
        client = open_client(f"{server.url}#m", cache=tmp_path / "c.sqlite", concurrency=3)
        with pytest.raises(LLMError, match="HTTP 400"):
            client.complete(requests)
        assert server.count == 3
        client.complete(requests)
        assert server.count == 4  # only the refused one is sent again


def test_cache_key_distinguishes_model_prompt_and_every_parameter():
    base = Request(prompt="def f():", max_tokens=16, temperature=0.2, top_p=0.9, stop=("\n",), seed=1)
    variants = [Request(prompt="def g():", max_tokens=16, temperature=0.2, top_p=0.9, stop=("\n",), seed=1),
                Request(prompt="def f():", max_tokens=17, temperature=0.2, top_p=0.9, stop=("\n",), seed=1),
                Request(prompt="def f():", max_tokens=16, temperature=0.3, top_p=0.9, stop=("\n",), seed=1),
                Request(prompt="def f():", max_tokens=16, temperature=0.2, top_p=0.8, stop=("\n",), seed=1),
                Request(prompt="def f():", max_tokens=16, temperature=0.2, top_p=0.9, stop=("\n#",), seed=1),
                Request(prompt="def f():", max_tokens=16, temperature=0.2, top_p=0.9, stop=("\n",), seed=2),
                Request(messages=(("user", "def f():"),), max_tokens=16, temperature=0.2, top_p=0.9, stop=("\n",),
                        seed=1)]
    keys = {cache_key("model-a", r) for r in [base, *variants]} | {cache_key("model-b", base)}
    assert len(keys) == len(variants) + 2
    assert cache_key("model-a", base) == cache_key("model-a", Request(prompt="def f():", max_tokens=16, temperature=0.2,
                                                                      top_p=0.9, stop=["\n"], seed=1))


def test_cache_sends_greedy_duplicates_once_and_keeps_sampled_ones_apart(tmp_path):
    greedy, sampled = Request(prompt="g"), Request(prompt="s", temperature=0.8)
    with FaultServer() as server:
        client = open_client(f"{server.url}#m", cache=tmp_path / "c.sqlite")
        client.complete([greedy, greedy, sampled, sampled, sampled])
        assert server.count == 1 + 3  # the greedy one once, each sample of the sampled one
        client.complete([sampled, sampled, sampled, sampled])
        assert server.count == 5  # only the fourth sample is new
        other = open_client(f"{server.url}#another-model", cache=tmp_path / "c.sqlite")
        other.complete([greedy])
        assert server.count == 6  # another model is another key
    with sqlite3.connect(tmp_path / "c.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM responses").fetchone() == (6,)


def test_each_reply_is_reported_before_its_thread_sends_another_request():
    """A slow reporter (the cache writing to disk) holds its thread back: at any moment at most
    `concurrency` requests were sent whose replies are not reported (a kill loses no more)."""
    unreported = []
    with FaultServer(delay_s=0.005) as server, http_client(server, concurrency=2) as client:
        def report(index, response):
            unreported.append(server.count - len(unreported))
            time.sleep(0.05)

        client.complete([Request(prompt=f"p{i}") for i in range(10)], on_response=report)
    assert len(unreported) == 10 and max(unreported) <= 2


def test_the_cache_keeps_a_responses_retries_and_when_it_was_stored(tmp_path):
    before = time.time()
    with FaultServer(["429", "close"]) as server:
        client = open_client(f"{server.url}#m", cache=tmp_path / "c.sqlite")
        [fresh] = client.complete([Request(prompt="x")])
        [again] = client.complete([Request(prompt="x")])
    assert server.count == 3 and fresh.retries == 2 and not fresh.cached
    assert again.retries == 2 and again.cached and before <= again.cached_at <= time.time()


def test_the_cache_keeps_whether_a_replys_tokens_were_counted_here(tmp_path):
    with FaultServer(report_usage=False) as server:
        client = open_client(f"{server.url}#m", cache=tmp_path / "c.sqlite")
        [fresh] = client.complete([Request(prompt="x")])
        [again] = client.complete([Request(prompt="x")])
    assert fresh.counted and again.cached and again.counted and again.prompt_tokens == fresh.prompt_tokens == 1


def test_a_request_a_killed_process_had_in_flight_is_counted_as_sent_again(tmp_path):
    request = Request(prompt="x")
    with FaultServer() as server:
        client = open_client(f"{server.url}#m", cache=tmp_path / "c.sqlite")
        client.cache.sending(cache_key(client.name, request))  # what a process killed mid-request leaves
        [fresh] = client.complete([request])
        [again] = client.complete([request])
    assert fresh.resent == 1 and again.cached and again.resent == 1


def test_a_request_that_failed_for_good_is_not_counted_as_sent_again(tmp_path):
    with FaultServer(["400"]) as server:
        client = open_client(f"{server.url}#m", cache=tmp_path / "c.sqlite")
        with pytest.raises(LLMError, match="HTTP 400"):
            client.complete([Request(prompt="x")])
        [response] = client.complete([Request(prompt="x")])  # sent again, but no kill lost the first
    assert server.count == 2 and response.resent == 0


def test_a_cache_written_before_responses_kept_their_retries_is_read(tmp_path):
    with sqlite3.connect(tmp_path / "old.sqlite") as db:
        db.execute("CREATE TABLE responses (key TEXT PRIMARY KEY, client TEXT NOT NULL, request TEXT NOT NULL, "
                   "text TEXT NOT NULL, finish_reason TEXT NOT NULL, prompt_tokens INTEGER NOT NULL, "
                   "completion_tokens INTEGER NOT NULL, created REAL NOT NULL)")
        db.execute("INSERT INTO responses VALUES ('k', 'm', '{}', 'old', 'stop', 3, 5, 1.5)")
    cache = ResponseCache(tmp_path / "old.sqlite")
    cache.put("k2", "m", Request(prompt="y"), Response("new", "stop", 1, 2, retries=4))
    found = cache.get_many(["k", "k2"])
    cache.close()
    assert found["k"] == Response("old", "stop", 3, 5, retries=0, cached_at=1.5)
    assert found["k2"].retries == 4 and found["k2"].text == "new"


def test_budget_stops_before_exceeding_and_a_rerun_goes_on(tmp_path):
    requests = [Request(prompt=f"p{i}", max_tokens=10) for i in range(10)]
    assert upper_bound_tokens(requests[0]) == 2 + 8 + 10
    with FaultServer(completion_tokens=4) as server:  # each answer costs 1 + 4 tokens
        client = open_client(f"{server.url}#m", cache=tmp_path / "c.sqlite", budget_tokens=50)
        with pytest.raises(BudgetExceeded, match=r"budget of 50 reached: 35 tokens spent;.*"
                                                 r"up to 20 tokens.*so it was not sent, nor any request after it"):
            client.complete(requests)
        assert server.count == 7 and client.inner.spent_tokens == 35 <= 50
        bigger = open_client(f"{server.url}#m", cache=tmp_path / "c.sqlite", budget_tokens=100)
        responses = bigger.complete(requests)
        assert server.count == 10  # the 7 answered before came from the cache
    assert [r.text for r in responses] == [f"re:p{i}" for i in range(10)]
    assert [r.cached for r in responses] == [True] * 7 + [False] * 3


def test_tokens_spent_before_count_against_the_budget():
    """An interrupted job resumes with what it spent already: 30 of 50 leaves room for one request."""
    requests = [Request(prompt=f"p{i}", max_tokens=10) for i in range(3)]  # 20 tokens each at most
    with FaultServer(completion_tokens=4) as server:
        client = open_client(f"{server.url}#m", budget_tokens=50, spent_tokens=30)
        with pytest.raises(BudgetExceeded, match="budget of 50 reached: 35 tokens spent"):
            client.complete(requests)
        assert server.count == 1


def test_a_request_larger_than_the_budget_is_never_sent():
    with FaultServer() as server:
        client = open_client(f"{server.url}#m", budget_tokens=100)
        with pytest.raises(BudgetExceeded, match="may cost up to 1010 tokens"):
            client.complete([Request(prompt="x" * 992, max_tokens=10)])
    assert server.count == 0


def test_concurrency_is_bounded_and_order_kept():
    requests = [Request(prompt=f"p{i}") for i in range(12)]
    # each answer takes 0.2 s, so even on a loaded machine the three workers overlap
    with FaultServer(delay_s=0.2) as server, http_client(server, concurrency=3) as client:
        responses = client.complete(requests, progress=True)
    assert [r.text for r in responses] == [f"re:p{i}" for i in range(12)]
    assert 2 <= server.max_in_flight <= 3


def test_chat_and_completion_requests_take_their_api_paths(monkeypatch):
    monkeypatch.setenv("TEST_LLM_KEY", "sk-test")
    with FaultServer() as server:
        client = open_client(server.url, api_key_env="TEST_LLM_KEY")  # the model name from GET /models
        assert client.name == f"{server.url}#fake-model"
        chat, completion = client.complete([Request(messages=(("system", "be brief"), ("user", "hi"))),
                                            Request(prompt="def f():", max_tokens=7, seed=3)])
        chat_only = open_client(f"{server.url}#m", api="chat").complete([Request(prompt="def g():")])
    (chat_path, chat_body, headers), (completion_path, completion_body, _) = sorted(server.requests[:2])
    assert chat_path == "/v1/chat/completions" and chat.text == "re:hi" and chat.finish_reason == "stop"
    assert chat_body["messages"] == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    assert completion_path == "/v1/completions" and completion.text == "re:def f():"
    assert completion_body == {"model": "fake-model", "prompt": "def f():", "max_tokens": 7, "temperature": 0.0,
                               "top_p": 1.0, "seed": 3}
    assert headers["Authorization"] == "Bearer sk-test"
    path, body, _ = server.requests[2]
    assert path == "/v1/chat/completions" and body["messages"] == [{"role": "user", "content": "def g():"}]
    assert chat_only[0].text == "re:def g():"


def test_stops_beyond_the_api_limit_are_applied_by_the_client():
    stops = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#")
    with FaultServer(reply_suffix="\n    return 1\n# tail") as server, http_client(server) as client:
        [response] = client.complete([Request(prompt="def f():", stop=stops)])
    assert server.requests[0][1]["stop"] == list(stops[:4])  # OpenAI takes at most 4
    assert response.text == "re:def f():\n    return 1" and response.finish_reason == "stop"


def test_bad_requests_and_model_specs_are_refused(tmp_path):
    with pytest.raises(ValueError, match="exactly one of prompt"):
        Request(prompt="x", messages=(("user", "x"),))
    with pytest.raises(ValueError, match="role"):
        Request(messages=(("robot", "x"),))
    with pytest.raises(ValueError, match="max_tokens"):
        Request(prompt="x", max_tokens=0)
    with pytest.raises(FileNotFoundError, match="neither an http"):
        open_client(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="model_config.json"):
        open_client(str(tmp_path))
    with pytest.raises(LLMError, match="could not learn the model name"):
        open_client("http://127.0.0.1:9/v1", timeout_s=0.5)


class ScriptedClient:
    """A Client whose reply to a request is `reply(request)`; it records the batches it is sent."""
    name = "scripted"

    def __init__(self, reply):
        self.reply, self.batches = reply, []

    def complete(self, requests, progress=False):
        self.batches.append(list(requests))
        return [Response(self.reply(r), "stop", 1, 1) for r in requests]


def test_ask_until_parsed_asks_again_only_what_did_not_parse():
    def reply(request):  # "late" answers at its third attempt (seed 12), "never" never does
        return {"seven": "7", "zero": "0", "late": "5" if request.seed == 12 else "dunno"}.get(request.prompt, "dunno")

    client = ScriptedClient(reply)
    items = ["seven", "zero", "late", "never"]
    def request(item, attempt):
        return Request(prompt=item, **attempt_sampling(attempt, 10))

    answers = ask_until_parsed(client, items, request, lambda text: int(text) if text.isdigit() else None,
                               max_attempts=3)
    assert answers == [Answer(7, 1, "7"), Answer(0, 1, "0"), Answer(5, 3, "5"), Answer(None, 3, "dunno")]
    # one batch per attempt, of what had not parsed (a value of 0 has); greedy first, then sampled with new seeds
    assert [[(r.prompt, r.temperature, r.seed) for r in batch] for batch in client.batches] == [
        [("seven", 0.0, 10), ("zero", 0.0, 10), ("late", 0.0, 10), ("never", 0.0, 10)],
        [("late", 0.7, 11), ("never", 0.7, 11)], [("late", 0.7, 12), ("never", 0.7, 12)]]
    once = ask_until_parsed(ScriptedClient(reply), items[2:], lambda item, attempt: Request(prompt=item),
                            lambda text: None, max_attempts=1)
    assert once == [Answer(None, 1, "dunno")] * 2
    with pytest.raises(ValueError, match="max_attempts"):
        ask_until_parsed(client, items, lambda item, attempt: Request(prompt=item), int, max_attempts=0)
