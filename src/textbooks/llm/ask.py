"""Ask an LLM again until its reply parses: the loop of every caller that wants a value, not text.

A labeler wants a verdict, a grader a score. A reply without one is asked for again, and only that
one: each attempt sends the requests still unparsed as one batch (so a backend can run them
concurrently, and the cache and budget see them together). One batch is `complete_until_stopped`,
which a synth teacher, asking once per prompt, calls alone: when the budget runs out part-way, both
keep the replies paid for before the stop.

    answers = ask_until_parsed(client, texts, lambda text, attempt: Request(
        messages=(("user", text),), **attempt_sampling(attempt, seed)), parse_score)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Generic, Sequence, TypeVar

from textbooks.llm.base import Backend, BudgetExceeded, Client, Request, Response

Item = TypeVar("Item")
Value = TypeVar("Value")


@dataclass(frozen=True)
class Answer(Generic[Value]):
    """What asking about one item came to: the parsed `value` (None: no reply parsed), the number of
    `attempts` (requests sent for it) and the text of its last `reply` (the one parsed, if any)."""
    value: Value | None
    attempts: int
    reply: str


class AskStopped(BudgetExceeded):
    """The client's token budget ran out: `answers` holds one Answer per item, whose value is None for
    the items not settled yet (the replies paid for before the stop are parsed too)."""

    def __init__(self, answers: list[Answer], cause: BudgetExceeded):
        super().__init__(str(cause))
        self.answers = answers


def attempt_sampling(attempt: int, seed: int, retry_temperature: float = 0.7) -> dict:
    """The temperature and seed of attempt 0, 1, ...: greedy first, then sampled; every attempt has its
    own seed, since the response cache would otherwise return the reply that did not parse."""
    return {"temperature": 0.0 if attempt == 0 else retry_temperature, "seed": seed + attempt}


def ask_until_parsed(client: Client, items: Sequence[Item], request: Callable[[Item, int], Request],
                     parse: Callable[[str], Value | None], max_attempts: int = 3,
                     progress: bool = False) -> list[Answer[Value]]:
    """Ask `client` about every item until `parse(reply text)` is not None, at most `max_attempts` times.

    Attempt k sends `request(item, k)` for each item not parsed yet, all as one batch. The answers
    come back in the order of `items`. AskStopped when the client's budget runs out.
    """
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
    answers: list[Answer[Value]] = [Answer(None, 0, "")] * len(items)
    pending = list(range(len(items)))
    for attempt in range(max_attempts):
        responses, stop = complete_until_stopped(client, [request(items[i], attempt) for i in pending], progress)
        _parse_into(answers, pending, responses, parse, attempt)
        if stop is not None:
            raise AskStopped(answers, stop) from stop
        pending = [i for i in pending if answers[i].value is None]
        if not pending:
            break
    return answers


def complete_until_stopped(client: Client, requests: list[Request],
                           progress: bool = False) -> tuple[list[Response | None], BudgetExceeded | None]:
    """The responses to `requests`, and None; or, when the client's budget stopped the batch, the
    responses paid for before the stop (None for the others) and the stop."""
    arrived: dict[int, Response] = {}
    try:
        return _complete(client, requests, progress, arrived), None
    except BudgetExceeded as stop:
        return _paid_for(client, requests, arrived), stop


def _complete(client: Client, requests: list[Request], progress: bool, arrived: dict[int, Response]) -> list[Response]:
    if isinstance(client, Backend):  # ours report each response as it arrives, so a stop keeps those
        return client.complete(requests, progress, on_response=arrived.__setitem__)
    return client.complete(requests, progress)


def _paid_for(client: Client, requests: list[Request], arrived: dict[int, Response]) -> list[Response | None]:
    """The responses of a batch the budget interrupted that were paid for: those reported as they
    arrived, and those the client's cache holds (asked one by one; a cache hit costs nothing)."""
    for k, request in enumerate(requests):
        if k not in arrived:
            try:
                arrived[k] = client.complete([request])[0]
            except BudgetExceeded:
                continue
    return [arrived.get(k) for k in range(len(requests))]


def _parse_into(answers: list[Answer], pending: list[int], responses: Sequence[Response | None],
                parse: Callable[[str], object], attempt: int) -> None:
    for i, response in zip(pending, responses):
        if response is not None:
            answers[i] = Answer(parse(response.text), attempt + 1, response.text)
