"""A loopback OpenAI-compatible server that misbehaves on purpose, for the LLM client tests.

It answers its first requests with the faults it is given, one per request in arrival order, then
correctly: a completion "re:<prompt>" (chat: "re:<last message>") with fixed token usage (or,
with report_usage=False, none, as some servers do). It
records every request body and the most requests it was ever handling at once.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULTS = ("429", "500", "503", "400", "hang", "trickle", "malformed", "bad-schema", "paid-no-text", "close")


class FaultHandler(BaseHTTPRequestHandler):
    server: "FaultServer"
    answering = False  # a POST counted in flight and not yet answered

    def do_GET(self):
        if self.path.rstrip("/") == "/v1/models":
            self.send_json(200, {"object": "list", "data": [{"id": self.server.model, "object": "model"}]})
        else:
            self.send_json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        fault = self.server.arrive(self.path, body, self.headers)
        self.answering = True
        try:
            self.answer(fault, body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up on a hung request: expected
        finally:
            self.done_answering()

    def done_answering(self) -> None:
        """Leave the in-flight count once per request, before the answer is sent: a client that has the
        answer may send its next request at once, and that one must not count as a fifth of four."""
        if self.answering:
            self.answering = False
            self.server.leave()

    def answer(self, fault: str | None, body: dict) -> None:
        time.sleep(self.server.delay_s)  # every answer, faults too: a slow server is slow to fail as well
        if fault == "hang":
            self.server.closing.wait(self.server.hang_s)
        elif fault == "trickle":  # a byte at a time, never a whole answer: no read ever waits long
            self.done_answering()
            for byte in b"HTTP/1.1 200 OK\r\n" + b"X-Slow: yes\r\n" * 10000:
                if self.server.closing.wait(self.server.trickle_s):
                    break
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
        elif fault == "close":
            self.close_connection = True  # no response at all: the client sees the connection closed
        elif fault == "429":
            self.send_json(429, {"error": {"message": "rate limited"}}, {"Retry-After": self.server.retry_after})
        elif fault in ("500", "503", "400"):
            self.send_json(int(fault), {"error": {"message": f"injected {fault}"}})
        elif fault == "malformed":
            self.send_raw(200, b'{"choices": [{"text": "trunc')
        elif fault == "bad-schema":
            self.send_json(200, {"choices": []})
        elif fault == "paid-no-text":  # a completion the server charged for but whose text is null
            self.send_json(200, {"choices": [{"index": 0, "text": None, "finish_reason": "stop"}],
                                 "usage": {"prompt_tokens": 1, "completion_tokens": self.server.completion_tokens}})
        else:
            self.send_json(200, self.server.completion(self.path, body))

    def send_json(self, status: int, payload: dict, headers: dict | None = None) -> None:
        self.send_raw(status, json.dumps(payload).encode(), headers)

    def send_raw(self, status: int, data: bytes, headers: dict | None = None) -> None:
        self.done_answering()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class FaultServer(ThreadingHTTPServer):
    """Use as a context manager; `url` is the /v1 base URL; `faults` are consumed one per POST."""

    daemon_threads = True

    def __init__(self, faults=(), delay_s: float = 0.0, hang_s: float = 5.0, retry_after: str = "0",
                 model: str = "fake-model", completion_tokens: int = 4, reply_suffix: str = "",
                 trickle_s: float = 0.05, report_usage: bool = True):
        super().__init__(("127.0.0.1", 0), FaultHandler)
        self.faults = list(faults)
        self.delay_s, self.hang_s, self.retry_after, self.model = delay_s, hang_s, retry_after, model
        self.trickle_s, self.report_usage = trickle_s, report_usage
        self.completion_tokens, self.reply_suffix = completion_tokens, reply_suffix
        self.requests: list[tuple[str, dict, dict]] = []  # (path, body, headers)
        self.lock = threading.Lock()
        self.in_flight = self.max_in_flight = 0
        self.closing = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/v1"

    @property
    def count(self) -> int:
        return len(self.requests)

    def arrive(self, path: str, body: dict, headers) -> str | None:
        with self.lock:
            self.requests.append((path, body, dict(headers)))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return self.faults.pop(0) if self.faults else None

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def completion(self, path: str, body: dict) -> dict:
        usage = {"usage": {"prompt_tokens": 1, "completion_tokens": self.completion_tokens,
                           "total_tokens": 1 + self.completion_tokens}} if self.report_usage else {}
        if path.endswith("/chat/completions"):
            text = "re:" + body["messages"][-1]["content"] + self.reply_suffix
            return {"object": "chat.completion", **usage, "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}
        text = "re:" + body["prompt"] + self.reply_suffix
        return {"object": "text_completion", **usage,
                "choices": [{"index": 0, "text": text, "finish_reason": "length"}]}

    def __enter__(self):
        threading.Thread(target=self.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.closing.set()
        self.shutdown()
        self.server_close()
