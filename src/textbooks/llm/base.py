"""What every LLM backend speaks: a Request, a Response, the Client protocol and the errors.

A request is either completion-style (`prompt`) or chat-style (`messages`). Backends that serve a
base code model (ours, or an HF model without a chat template) render chat messages with
`render_chat`, a plain template documented there.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Callable, Iterable, Protocol, Sequence

from textbooks.errors import UserError

CHAT_ROLES = ("system", "user", "assistant")


class LLMError(UserError):
    """A request could not be answered: the message says which request failed and why."""


class BudgetExceeded(LLMError):
    """The next request could exceed the client's token budget, so it was not sent."""


@dataclass(frozen=True)
class Request:
    """One request to an LLM. Exactly one of `prompt` (completion) or `messages` (chat) is set.

    `messages` is a tuple of (role, content) pairs with role in system/user/assistant; lists are
    accepted and stored as tuples, so a Request is hashable and its fields make a cache key.
    """
    prompt: str | None = None
    messages: tuple[tuple[str, str], ...] | None = None
    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None

    def __post_init__(self) -> None:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("a Request needs exactly one of prompt (completion) or messages (chat)")
        if self.messages is not None:
            object.__setattr__(self, "messages", tuple((str(role), str(text)) for role, text in self.messages))
            unknown = sorted({role for role, _ in self.messages} - set(CHAT_ROLES))
            if not self.messages or unknown:
                raise ValueError(f"messages must be a non-empty sequence of (role, content) with role in "
                                 f"{'/'.join(CHAT_ROLES)}; got roles {unknown or 'none'}")
        object.__setattr__(self, "stop", (self.stop,) if isinstance(self.stop, str) else tuple(self.stop))
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError(f"temperature must be >= 0 and top_p in (0, 1]; got {self.temperature}, {self.top_p}")
        if any(not s for s in self.stop):
            raise ValueError("stop sequences must be non-empty strings")

    @property
    def is_chat(self) -> bool:
        return self.messages is not None


@dataclass(frozen=True)
class Response:
    """A completion: text cut before the first stop sequence; token counts as the backend reported them,
    over every attempt (a failed attempt whose answer reported usage was paid for too), or as we counted
    them when it reported none (`counted`)."""
    text: str
    finish_reason: str  # "stop" (stop sequence or end of text) or "length"
    prompt_tokens: int
    completion_tokens: int
    retries: int = 0  # attempts that failed before the one answered (a 429, a dropped connection, ...)
    cached_at: float | None = None  # when a response cache stored it (time.time()); None: answered now
    counted: bool = False  # the endpoint reported no usage: the tokens were counted here (llm.http.count_tokens)
    resent: int = 0  # times a process killed before the reply arrived had sent it (probably paid for: llm.cache)

    @property
    def cached(self) -> bool:
        return self.cached_at is not None


class Client(Protocol):
    """Anything that answers requests. `name` identifies the model in cache keys."""
    name: str

    def complete(self, requests: Sequence[Request], progress: bool = False) -> list[Response]:
        """One response per request, in the order of `requests`."""
        ...


OnResponse = Callable[[int, Response], None]
OnSend = Callable[[int], None]


class Backend(abc.ABC):
    """Base of our clients: `complete` may also report each response as soon as it arrives
    (`on_response(index, response)`), which lets the cache keep it even if a later one fails, and, a
    client of a paid endpoint, each request as it is sent (`on_send(index)`), which lets the cache
    know which were in flight if the process is killed."""
    name: str

    @abc.abstractmethod
    def complete(self, requests: Sequence[Request], progress: bool = False,
                 on_response: OnResponse | None = None, on_send: OnSend | None = None) -> list[Response]:
        """One response per request, in the order of `requests`."""

    def close(self) -> None:  # noqa: B027 (a default that does nothing, not a method to implement)
        """Release connections or memory held by the backend."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# A plain chat template for base code models, which never saw special chat tokens: each turn is
# a "### Role:" header line, the reply starts after "### Assistant:\n", and generation stops at
# the next header the model writes (CHAT_STOP), so it does not go on to invent the user's turn.
CHAT_STOP = "\n### "


def render_chat(messages: Iterable[tuple[str, str]]) -> str:
    """The prompt for `messages` under our chat template, e.g.

    ### User:
    Write a function that adds two numbers.

    ### Assistant:
    """
    turns = [f"### {role.capitalize()}:\n{text.strip()}\n\n" for role, text in messages]
    return "".join(turns) + "### Assistant:\n"
