"""A token budget: a client stops before a request could take its spending past the budget.

What a request will cost is known only after it is answered, so each is charged beforehand at an
upper bound: the UTF-8 bytes of its prompt (a byte-level BPE token covers at least one byte), a
few tokens per chat message for the template, and max_tokens. Requests are sent in rounds: the
longest run that fits the budget at its upper bound, then the next once the real usage of the
first is known. The budget counts tokens spent through this client object (cache hits are free:
the cache sits in front of the budget), plus `spent_tokens` given at the start: what an earlier,
interrupted attempt at the same job spent, so that the job as a whole keeps to its budget.
"""

from __future__ import annotations

import threading
from typing import Sequence

from textbooks.llm.base import Backend, BudgetExceeded, OnResponse, OnSend, Request, Response

CHAT_TOKENS_PER_MESSAGE = 8  # role headers and separators of a chat template, generously


def upper_bound_tokens(request: Request) -> int:
    """The most tokens (prompt + completion) that `request` can cost."""
    if request.is_chat:
        prompt = sum(len(text.encode()) + CHAT_TOKENS_PER_MESSAGE for _, text in request.messages)
    else:
        prompt = len(request.prompt.encode())
    return prompt + CHAT_TOKENS_PER_MESSAGE + request.max_tokens


class BudgetedClient(Backend):
    """`inner` with at most `budget_tokens` tokens (prompt + completion) to spend, `spent_tokens` of them already."""

    def __init__(self, inner: Backend, budget_tokens: int, spent_tokens: int = 0):
        if budget_tokens < 1 or spent_tokens < 0:
            raise ValueError(f"budget_tokens must be >= 1 and spent_tokens >= 0, "
                             f"got {budget_tokens} and {spent_tokens}")
        self.inner, self.name, self.budget_tokens = inner, inner.name, budget_tokens
        self.spent_tokens = spent_tokens
        self.lock = threading.Lock()

    def complete(self, requests: Sequence[Request], progress: bool = False,
                 on_response: OnResponse | None = None, on_send: OnSend | None = None) -> list[Response]:
        """Responses in request order; BudgetExceeded (after keeping what was answered) once the next may not fit."""
        responses: list[Response] = []
        while len(responses) < len(requests):
            start = len(responses)
            batch = self._affordable(requests[start:])

            def charge(index: int, response: Response, start=start, batch=batch) -> None:
                cost = response.prompt_tokens + response.completion_tokens
                with self.lock:  # a backend that reports no usage is charged its upper bound
                    self.spent_tokens += cost or upper_bound_tokens(batch[index])
                if on_response is not None:
                    on_response(start + index, response)

            def sent(index: int, start=start) -> None:
                if on_send is not None:
                    on_send(start + index)

            responses.extend(self.inner.complete(batch, progress, on_response=charge, on_send=sent))
        return responses

    def _affordable(self, pending: Sequence[Request]) -> list[Request]:
        """The longest prefix of `pending` whose upper bounds fit in what is left of the budget."""
        left = self.budget_tokens - self.spent_tokens
        batch = []
        for request in pending:
            left -= upper_bound_tokens(request)
            if left < 0:
                break
            batch.append(request)
        if not batch:
            raise BudgetExceeded(
                f"token budget of {self.budget_tokens} reached: {self.spent_tokens} tokens spent; the next request "
                f"may cost up to {upper_bound_tokens(pending[0])} tokens (prompt bytes + max_tokens), so it was "
                "not sent, nor any request after it. Responses received are kept in the cache, if there is one; "
                "raise budget_tokens to go on.")
        return batch

    def close(self) -> None:
        self.inner.close()
