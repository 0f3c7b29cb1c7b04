"""Serve one of our models over an OpenAI-compatible HTTP API: /v1/completions, /v1/chat/completions,
/v1/models, /v1/models/{id} (and /health).

MODEL is a model directory, a training checkpoint or a training run directory (its latest
checkpoint); the tokenizer is found beside it unless --tokenizer names one. Any OpenAI-compatible
client works, e.g. textbooks.llm.open_client("http://127.0.0.1:8000/v1").

Requests are validated; a bad one gets a 4xx with an OpenAI-style JSON error saying what is wrong
and naming the parameter in `param` (missing prompt, an empty list of prompts, max_tokens < 1,
temperature outside [0, 2], top_p outside (0, 1], more than --max-n choices, more than 16 stop
sequences, an unknown model name (404), a prompt that with max_tokens does not fit the model's
context, streaming). Up to 16 stop sequences are accepted (OpenAI's limit is 4; HumanEval's usual
set has 5). An empty prompt starts a new document, as after <|endoftext|>.

Parameters we do not implement are never silently dropped, since a client relying on one would get
an answer that quietly is not what it asked for. Sent with its neutral value (null, false, 0, an
empty list or map, best_of 1, tool_choice "none"/"auto", response_format {"type": "text"}, ...) such a
parameter changes nothing and is accepted; with any other value it is refused with a 400 naming it:
logprobs, echo, best_of, suffix, logit_bias, presence_penalty, frequency_penalty, stream_options,
top_logprobs, tools, tool_choice, functions, function_call, response_format, modalities, audio,
prediction, reasoning_effort, web_search_options, verbosity, and a message's name, tool_calls,
function_call, refusal or audio. Parameters that cannot change the output (user, metadata, store,
service_tier, prompt_cache_key, safety_identifier, parallel_tool_calls) are accepted and ignored. Any
other unknown parameter is refused with a 400 naming it, as OpenAI does.

Seeds: choice i of a request (numbered as in the reply, across prompts x n) samples from its own
seed, derived from the request's seed: choice 0 from the seed itself (so an n=1 request samples as
an in-process request with that seed does), choice i > 0 from a hash of (seed, i). The same request
with the same seed thus gives the same choices, and no two choices share a random stream. Without a
seed every choice samples from fresh randomness.

Chat: our models are base code models with no chat tokens, so messages are rendered as
"### User:\\n<content>\\n\\n" turns (likewise System, Assistant) ending in "### Assistant:\\n", and
the reply stops at the next "\\n### ".

Concurrency: at most --concurrency generations run at once and up to --max-queue more requests
wait their turn; a request beyond that is answered at once with 503 and "Retry-After: 1" (the
textbooks client, like most OpenAI clients, retries it). One request may hold several prompts and
n choices: they are generated as one batch.

Example:
  textbooks serve runs/cpu-tiny --port 8000
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import socket
import time
import uuid
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Request as HTTPRequest
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.exceptions import HTTPException

from textbooks.llm.base import Request, Response
from textbooks.options import CommandOptions, opt

MAX_STOPS = 16


class APIError(Exception):
    """A request we refuse: HTTP status, message, and the offending parameter."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


class AnyValue:
    """Contains every value: the accepted values of a parameter that cannot change the output."""

    def __contains__(self, value: Any) -> bool:
        return True


IGNORED = AnyValue()

# For each OpenAI parameter we do not implement, the values that leave the output unchanged; any
# other value is refused. A parameter in no table is unknown and refused whatever its value.
SHARED_PARAMS = {
    "user": IGNORED, "metadata": IGNORED, "store": IGNORED, "service_tier": IGNORED,
    "prompt_cache_key": IGNORED, "safety_identifier": IGNORED,
    "logit_bias": (None, {}), "presence_penalty": (None, 0), "frequency_penalty": (None, 0),
    "stream_options": (None,),  # OpenAI allows it only when streaming, which we refuse
}
COMPLETION_PARAMS = SHARED_PARAMS | {"best_of": (None, 1), "echo": (None, False), "logprobs": (None,),
                                     "suffix": (None, "")}
CHAT_PARAMS = SHARED_PARAMS | {
    "logprobs": (None, False), "top_logprobs": (None, 0), "tools": (None, []), "functions": (None, []),
    "tool_choice": (None, "none", "auto"), "function_call": (None, "none", "auto"),  # "auto" with no tools: none
    "parallel_tool_calls": IGNORED,  # only matters with tools, which are refused
    "response_format": (None, {"type": "text"}), "modalities": (None, ["text"]), "audio": (None,),
    "prediction": (None,), "reasoning_effort": (None,), "web_search_options": (None,), "verbosity": (None,),
}
MESSAGE_PARAMS = {"name": (None,), "tool_calls": (None, []), "function_call": (None,), "refusal": (None,),
                  "audio": (None,)}


class SamplingFields(BaseModel):
    model_config = ConfigDict(extra="allow")  # kept for check_supported, which refuses what we do not implement
    model: str | None = None
    temperature: float = Field(1.0, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)
    n: int = Field(1, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False

    @field_validator("stop")
    @classmethod
    def check_stop(cls, stop):
        stops = [stop] if isinstance(stop, str) else stop or []
        if len(stops) > MAX_STOPS or any(not s for s in stops):
            raise ValueError(f"at most {MAX_STOPS} stop sequences, each non-empty")
        return stops

    @field_validator("stream")
    @classmethod
    def check_stream(cls, stream):
        if stream:
            raise ValueError("streaming is not supported; send stream=false")
        return stream


class CompletionBody(SamplingFields):
    prompt: str | list[str]
    max_tokens: int = Field(16, ge=1)  # OpenAI's default for completions

    @field_validator("prompt")
    @classmethod
    def check_prompt(cls, prompt):
        prompts = [prompt] if isinstance(prompt, str) else prompt
        if not prompts:
            raise ValueError("prompt must be a string or a non-empty list of strings")
        return prompts


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "user", "assistant"]
    content: str


class ChatBody(SamplingFields):
    messages: list[Message] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)  # None: the rest of the context
    max_completion_tokens: int | None = Field(None, ge=1)  # the newer name of max_tokens


def build_app(client, options: Options) -> FastAPI:
    """The FastAPI app serving `client` (a textbooks.llm.local.CheckpointClient) under `options` (its
    name, concurrency, queue and most choices per request)."""
    app = FastAPI(title="textbooks serve", docs_url=None, redoc_url=None)
    app.state.admission = Admission(options.concurrency, options.max_queue)
    created = int(time.time())

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    model = {"id": options.name, "object": "model", "created": created, "owned_by": "textbooks",
             "max_model_len": client.context_length}

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [model]}

    @app.get("/v1/models/{model_id:path}")
    async def model_by_id(model_id: str):
        if model_id != options.name:
            raise model_not_found(model_id, options.name)
        return model

    @app.post("/v1/completions")
    async def completions(body: CompletionBody):
        check_supported(body.model_extra, COMPLETION_PARAMS)
        prompts = [prompt for prompt in body.prompt for _ in range(body.n)]  # choice i continues prompts[i]
        requests = [Request(prompt=prompt, **sampling(body, body.max_tokens, i)) for i, prompt in enumerate(prompts)]
        responses = await generate(app, client, options, body, requests)
        choices = [{"index": i, "text": r.text, "finish_reason": r.finish_reason, "logprobs": None}
                   for i, r in enumerate(responses)]
        return reply("text_completion", "cmpl", options.name, choices, responses[::body.n], responses)

    @app.post("/v1/chat/completions")
    async def chat(body: ChatBody):
        check_supported(body.model_extra, CHAT_PARAMS)
        for i, message in enumerate(body.messages):
            check_supported(message.model_extra, MESSAGE_PARAMS, f"messages[{i}].")
        messages = tuple((m.role, m.content) for m in body.messages)
        max_tokens = body.max_completion_tokens or body.max_tokens
        if max_tokens is None:  # the rest of the context, as vLLM does
            prompt_tokens = client.count_tokens(client.prompt_text(Request(messages=messages)))
            max_tokens = max(1, client.context_length - prompt_tokens)
        requests = [Request(messages=messages, **sampling(body, max_tokens, i)) for i in range(body.n)]
        responses = await generate(app, client, options, body, requests)
        choices = [{"index": i, "message": {"role": "assistant", "content": r.text}, "finish_reason": r.finish_reason}
                   for i, r in enumerate(responses)]
        return reply("chat.completion", "chatcmpl", options.name, choices, responses[:1], responses)

    add_error_handlers(app)
    return app


def check_supported(fields: dict, supported: dict, prefix: str = "") -> None:
    """Refuse with a 400 naming it each of `fields` that is unknown, or that we do not implement and
    whose value is not one of its neutral values in `supported`."""
    for name, value in fields.items():
        param = prefix + name
        if name not in supported:
            raise APIError(400, f"unrecognized request argument: {param}", param, "unknown_parameter")
        if value not in supported[name]:
            neutral = " or ".join(json.dumps(v) for v in supported[name])
            raise APIError(400, f"{param} is not supported by this server; omit it or send {neutral}", param,
                           "unsupported_parameter")


def sampling(body: SamplingFields, max_tokens: int, choice: int) -> dict:
    return {"max_tokens": max_tokens, "temperature": body.temperature, "top_p": body.top_p,
            "stop": tuple(body.stop or ()), "seed": choice_seed(body.seed, choice)}


def choice_seed(seed: int | None, choice: int) -> int | None:
    """The seed choice number `choice` of a request with `seed` samples from (None: fresh randomness).

    Choice 0 uses the seed itself, as an in-process request with that seed does; the others a hash
    of (seed, choice), so that no two choices share a random stream, not even across requests:
    seed + choice would make choice 1 of seed 7 the same sample as choice 0 of seed 8."""
    if seed is None or choice == 0:
        return seed
    digest = hashlib.blake2b(f"{seed}/{choice}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1  # 63 bits: a valid seed for every torch generator


async def generate(app: FastAPI, client, options: Options, body: SamplingFields,
                   requests: list[Request]) -> list[Response]:
    """Check the request against the model, wait for a generation slot, and generate in a worker thread."""
    if body.model is not None and body.model != options.name:
        raise model_not_found(body.model, options.name)
    if len(requests) > options.max_n:
        raise APIError(400, f"this request asks for {len(requests)} choices (prompts x n); "
                       f"the most this server generates per request is {options.max_n}", "n")
    for request in requests[::body.n]:
        prompt_tokens = client.count_tokens(client.prompt_text(request))
        if prompt_tokens + request.max_tokens > client.context_length:
            raise APIError(400, f"this model's context is {client.context_length} tokens; the prompt has "
                           f"{prompt_tokens} and max_tokens asks for {request.max_tokens} more",
                           "prompt" if request.prompt is not None else "messages", "context_length_exceeded")
    async with app.state.admission.slot():
        return await asyncio.to_thread(client.complete, requests)


def model_not_found(name: str, served: str) -> APIError:
    return APIError(404, f"the model {name!r} does not exist; this server serves {served!r}", "model",
                    "model_not_found")


def reply(kind: str, id_prefix: str, name: str, choices: list[dict], per_prompt: list[Response],
          responses: list[Response]) -> dict:
    """An OpenAI completion body; prompt tokens are counted once per prompt, not per choice."""
    prompt_tokens = sum(r.prompt_tokens for r in per_prompt)
    completion_tokens = sum(r.completion_tokens for r in responses)
    return {"id": f"{id_prefix}-{uuid.uuid4().hex}", "object": kind, "created": int(time.time()), "model": name,
            "choices": choices, "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                                          "total_tokens": prompt_tokens + completion_tokens}}


class Admission:
    """At most `concurrency` generations at once and `max_queue` waiting; beyond that, 503 at once."""

    def __init__(self, concurrency: int, max_queue: int):
        self.slots = asyncio.Semaphore(concurrency)
        self.limit = concurrency + max_queue
        self.admitted = 0  # running + waiting; only touched on the event loop's thread

    @contextlib.asynccontextmanager
    async def slot(self):
        if self.admitted >= self.limit:
            raise APIError(503, f"the server is busy ({self.limit} requests running or queued); retry shortly",
                           code="overloaded")
        self.admitted += 1
        try:
            async with self.slots:
                yield
        finally:
            self.admitted -= 1


def error_body(status: int, message: str, param: str | None = None, code: str | None = None) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    headers = {"Retry-After": "1"} if status == 503 else None
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": code}},
                        status_code=status, headers=headers)


def add_error_handlers(app: FastAPI) -> None:
    """OpenAI-style JSON errors: 400 for invalid bodies (FastAPI's default is 422), ours, HTTP ones and crashes."""

    @app.exception_handler(RequestValidationError)
    async def invalid(_: HTTPRequest, error: RequestValidationError):
        errors = error.errors()
        loc = errors[0]["loc"] if errors else ()
        return error_body(400, validation_message(errors), str(loc[1]) if len(loc) > 1 else None)

    @app.exception_handler(APIError)
    async def refused(_: HTTPRequest, error: APIError):
        return error_body(error.status, error.message, error.param, error.code)

    @app.exception_handler(HTTPException)
    async def http_error(_: HTTPRequest, error: HTTPException):
        return error_body(error.status_code, str(error.detail))

    @app.exception_handler(Exception)
    async def failed(_: HTTPRequest, error: Exception):
        return error_body(500, f"generation failed: {type(error).__name__}: {error}")


def validation_message(errors: list[dict]) -> str:
    """One line naming each invalid field and why, e.g. "max_tokens: Input should be greater than or equal to 1"."""
    parts = []
    for error in errors:
        if error["type"] == "json_invalid":
            return f"the request body is not valid JSON: {error.get('ctx', {}).get('error', error['msg'])}"
        field = ".".join(str(p) for p in error["loc"][1:2]) or "body"
        message = error["msg"].removeprefix("Value error, ")
        part = f"{field}: {message}" if error["type"] != "missing" else f"{field} is required"
        if part not in parts:
            parts.append(part)
    return "; ".join(parts[:3])


class Options(CommandOptions):
    model: Path = opt(help="model directory, checkpoint or training run directory", positional=True)
    tokenizer: Path | None = opt(None, help="tokenizer.json (default: the one the model records)")
    name: str | None = opt(None, help="the model name clients use (default: the directory's name)")
    host: str = opt("127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    port: int = opt(8000, help="port to listen on (0: any free port)")
    concurrency: int = opt(1, help="generations running at once")
    max_queue: int = opt(16, help="requests waiting before new ones get 503")
    max_n: int = opt(16, help="most choices (prompts x n) per request")
    batch_size: int = opt(16, help="prompts generated together")
    log_level: Literal["debug", "info", "warning", "error"] = opt("info", help="uvicorn's log level")


def setup(options: Options):
    """Validate the arguments and load the model: (client, the options with the model's name)."""
    from textbooks.llm.local import CheckpointClient

    for flag, value, least in (("--concurrency", options.concurrency, 1), ("--max-queue", options.max_queue, 0),
                               ("--max-n", options.max_n, 1), ("--batch-size", options.batch_size, 1)):
        if value < least:
            raise ValueError(f"{flag} must be >= {least}, got {value}")
    if not 0 <= options.port <= 65535:
        raise ValueError(f"--port must be in 0..65535, got {options.port}")
    client = CheckpointClient(options.model, options.tokenizer, batch_size=options.batch_size)
    return client, options.model_copy(update={"name": options.name or options.model.resolve().name})


BACKLOG = 2048  # connections waiting to be accepted (uvicorn's default)


def make_server(app: FastAPI, host: str, port: int, log_level: str = "info"):
    """A uvicorn server for `app` and its socket, bound and listening now: port 0 has its number, and a
    client that connects as soon as the address is printed waits in the backlog until uvicorn accepts."""
    import uvicorn

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    return uvicorn.Server(uvicorn.Config(app, log_level=log_level)), sock


def run(options: Options) -> None:
    """Serve until interrupted."""
    client, options = setup(options)
    server, sock = make_server(build_app(client, options), options.host, options.port, options.log_level)
    bound_host, bound_port = sock.getsockname()[:2]
    shown_host = f"[{bound_host}]" if ":" in bound_host else bound_host
    print(f"serving {options.name} at http://{shown_host}:{bound_port}/v1", flush=True)
    server.run(sockets=[sock])
