"""Synthesis throughput: exercises verified per second through the sandbox, and teacher requests
per second at concurrency 16 against concurrency 1.

Verification: N exercises a teacher would write (a function with a docstring and a solution, then
3 to 6 asserts), made from a few templates (string, list and arithmetic functions) with varied
names, constants and test inputs, each wrapped in a fenced teacher reply with prose around it.
About 10% carry a wrong solution (a constant of the body off by one, checked here to break at
least one of its asserts). Timed: `parse_exercise_reply` + `exercise_record` +
`verify_exercises` on a `Sandbox(workers=os.cpu_count())`, the whole path a reply takes; the
sandbox's startup is timed apart, once. Target: at least 200 exercises verified per second.

Teacher: a loopback OpenAI-compatible server written here (ThreadingHTTPServer; every POST
/v1/chat/completions answers a fixed exercise reply after sleeping 200 ms; GET /v1/models), reached
through the project's own client (`textbooks.llm.open_client(URL#teacher, concurrency=C)`). The
same requests are sent at concurrency 1 and 16. Target: at least 12x the requests per second at
16 (the ideal, with 200 ms a request and nothing else, is 16x for a multiple of 16 requests).

Parity: the exercises kept must be exactly the correct ones, and every teacher reply must be the
answer to its own request (in request order) and parse as an exercise; the script exits nonzero,
after its JSON line, when they are not.

    python bench/synth_throughput.py [--exercises 400] [--requests 64] [--rounds 3] [--quick]

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from textbooks.llm import Request, open_client
from textbooks.sandbox.pool import Sandbox
from textbooks.synth.exercises import Exercise, exercise_limits, exercise_record, parse_exercise_reply, verify_exercises

TARGET_VERIFIED_PER_S = 200
TARGET_CONCURRENCY_RATIO = 12
LATENCY_S = 0.2  # the loopback teacher's fixed latency per request
WRONG_EVERY = 10  # one exercise in ten has a wrong solution
MAX_MISMATCHES = 10  # mismatched verdicts / replies listed in the JSON line


# ---------------------------------------------------------------------------------------------
# Exercises: templates a teacher might answer with. Each takes (rng, constant k) and gives the
# function's source with `{K}` where the constant goes, the names it may take, and test inputs.

@dataclass(frozen=True)
class Template:
    names: tuple[str, ...]
    signature: str  # with {name}
    docstring: str  # with {K}
    body: str  # with {K}: the solution after the docstring (4-space indented lines)
    inputs: Callable[[random.Random, int], list[tuple]]  # argument tuples for the asserts
    constants: tuple[int, int]  # range of K


def words(rng: random.Random, count: int) -> str:
    vocabulary = ["apple", "river", "stone", "python", "cloud", "garden", "window", "silver", "orbit",
                  "lemon", "forest", "bridge", "candle", "marble", "tiger", "quartz", "violet", "anchor"]
    return " ".join(rng.choice(vocabulary) for _ in range(count))


def int_list(rng: random.Random, low: int = -20, high: int = 40) -> list[int]:
    return [rng.randint(low, high) for _ in range(rng.randint(0, 9))]


TEMPLATES = (
    Template(  # arithmetic
        names=("sum_of_multiples", "multiples_total", "add_multiples_below"),
        signature="def {name}(n: int) -> int:",
        docstring="Return the sum of the non-negative multiples of {K} that are smaller than n.",
        body="    total = 0\n    for i in range(n):\n        if i % {K} == 0:\n            total += i\n"
             "    return total\n",
        inputs=lambda rng, k: [(rng.randint(0, 120),) for _ in range(rng.randint(3, 6))],
        constants=(2, 9)),
    Template(  # arithmetic
        names=("digit_weight", "weighted_digit_sum", "scaled_digit_sum"),
        signature="def {name}(n: int) -> int:",
        docstring="Return {K} times the sum of the decimal digits of abs(n).",
        body="    digits = str(abs(n))\n    return {K} * sum(int(d) for d in digits)\n",
        inputs=lambda rng, k: [(rng.randint(-99999, 99999),) for _ in range(rng.randint(3, 6))],
        constants=(2, 13)),
    Template(  # string
        names=("shorten_words", "truncate_words", "clip_each_word"),
        signature="def {name}(text: str) -> str:",
        docstring="Return text with each word cut to its first {K} letters, words joined by one space.",
        body="    return \" \".join(word[:{K}] for word in text.split())\n",
        inputs=lambda rng, k: [(words(rng, rng.randint(1, 6)),) for _ in range(rng.randint(3, 6))],
        constants=(2, 5)),
    Template(  # string
        names=("caesar_shift", "rotate_letters", "shift_lowercase"),
        signature="def {name}(text: str) -> str:",
        docstring="Shift every lowercase letter of text {K} places along the alphabet, wrapping\n"
                  "    around after 'z'; other characters are left as they are.",
        body="    out = []\n    for ch in text:\n        if \"a\" <= ch <= \"z\":\n"
             "            out.append(chr((ord(ch) - ord(\"a\") + {K}) % 26 + ord(\"a\")))\n"
             "        else:\n            out.append(ch)\n    return \"\".join(out)\n",
        inputs=lambda rng, k: [(words(rng, rng.randint(1, 4)) + rng.choice(["", "!", " 42", "?"]),)
                               for _ in range(rng.randint(3, 6))],
        constants=(1, 25)),
    Template(  # list
        names=("above_threshold", "keep_greater", "filter_large"),
        signature="def {name}(values: list[int]) -> list[int]:",
        docstring="Return the elements of values greater than {K}, in their original order.",
        body="    return [v for v in values if v > {K}]\n",
        inputs=lambda rng, k: [(int_list(rng),) for _ in range(rng.randint(3, 6))],
        constants=(0, 30)),
    Template(  # list
        names=("chunk_list", "split_into_groups", "batched"),
        signature="def {name}(items: list[int]) -> list[list[int]]:",
        docstring="Split items into consecutive groups of {K}; the last group may be shorter.",
        body="    groups = []\n    for start in range(0, len(items), {K}):\n"
             "        groups.append(items[start:start + {K}])\n    return groups\n",
        inputs=lambda rng, k: [(int_list(rng, 0, 9),) for _ in range(rng.randint(3, 6))],
        constants=(2, 5)),
    Template(  # list
        names=("running_max_gap", "rolling_sum", "window_sums"),
        signature="def {name}(values: list[int]) -> list[int]:",
        docstring="Return the sums of every window of {K} consecutive elements of values\n"
                  "    ([] when values has fewer than {K} elements).",
        body="    return [sum(values[i:i + {K}]) for i in range(len(values) - {K} + 1)]\n",
        inputs=lambda rng, k: [(int_list(rng),) for _ in range(rng.randint(3, 6))],
        constants=(2, 4)),
)


def function_source(template: Template, name: str, k: int, body_k: int) -> str:
    docstring = template.docstring.format(K=k)
    return (template.signature.format(name=name) + f'\n    """{docstring}"""\n'
            + template.body.format(K=body_k))


def outputs(source: str, name: str, inputs: list[tuple]) -> list:
    """What the function in `source` returns on each input (None where it raises): these are the
    bench's own templates, run here in-process to write the expected values of the asserts."""
    namespace: dict = {}
    exec(source, namespace)  # noqa: S102 (the bench's own generated code)
    results = []
    for args in inputs:
        try:
            results.append(namespace[name](*args))
        except Exception:  # noqa: BLE001 (a wrong solution may raise: it then differs)
            results.append(None)
    return results


def make_exercise(rng: random.Random, index: int, wrong: bool) -> tuple[str, bool]:
    """A teacher's reply holding one exercise, and whether its solution is correct."""
    while True:
        template = TEMPLATES[index % len(TEMPLATES)]
        name = f"{rng.choice(template.names)}_{index}"
        k = rng.randint(*template.constants)
        inputs = template.inputs(rng, k)
        correct = function_source(template, name, k, k)
        expected = outputs(correct, name, inputs)
        solution = function_source(template, name, k, k + 1) if wrong else correct
        if wrong and outputs(solution, name, inputs) == expected:
            continue  # the off-by-one slipped past these inputs: draw again
        asserts = "".join(f"assert {name}({', '.join(map(repr, args))}) == {value!r}\n"
                          for args, value in zip(inputs, expected))
        reply = (f"Here is an exercise about `{name}`.\n\n```python\n{solution}```\n\n"
                 f"And the tests that check it:\n\n```python\n{asserts}```\n")
        return reply, not wrong


def make_replies(count: int, seed: int) -> list[tuple[str, bool]]:
    rng = random.Random(seed)
    return [make_exercise(rng, i, wrong=(i % WRONG_EVERY == WRONG_EVERY - 1)) for i in range(count)]


def parse_and_verify(replies: list[str], sandbox: Sandbox, limits) -> list[dict]:
    """The whole path of the replies: parsed, made records, verified in the sandbox."""
    records = []
    for i, reply in enumerate(replies):
        exercise = parse_exercise_reply(reply)
        if not isinstance(exercise, Exercise):
            raise AssertionError(f"reply {i} does not parse: {exercise}")
        records.append(exercise_record(exercise, {"template": i % len(TEMPLATES)}, "bench", {}))
    return verify_exercises(records, sandbox, limits)


def check_verdicts(records: list[dict], correct: list[bool]) -> list[str]:
    """Where a record's verdict is not what its solution deserves."""
    return [f"exercise {i} ({record['entry_point']}): correct={ok}, verdict {record['verdict']!r}"
            for i, (record, ok) in enumerate(zip(records, correct)) if record["verified"] != ok]


def measure_verification(args: argparse.Namespace) -> dict:
    made = make_replies(args.exercises, args.seed)
    replies, correct = [r for r, _ in made], [ok for _, ok in made]
    limits = exercise_limits(3.0)
    started = time.perf_counter()
    sandbox = Sandbox(workers=args.workers, limits=limits)
    startup_s = time.perf_counter() - started
    seconds, mismatches = [], []
    with sandbox:
        parse_and_verify(replies[:2 * args.workers], sandbox, limits)  # warm-up: every worker once
        for _ in range(args.rounds):
            started = time.perf_counter()
            records = parse_and_verify(replies, sandbox, limits)
            seconds.append(time.perf_counter() - started)
            mismatches += [m for m in check_verdicts(records, correct) if m not in mismatches]
        isolation = sandbox.run("pass").isolation
    kept = sum(r["verified"] for r in records)
    median_s = statistics.median(seconds)
    return {"exercises": len(replies), "correct": sum(correct), "kept": kept, "workers": args.workers,
            "rounds_s": [round(s, 3) for s in seconds], "median_s": round(median_s, 3),
            "verified_per_s": round(len(replies) / median_s, 1),
            "verified_per_s_best": round(len(replies) / min(seconds), 1),
            "verified_per_s_with_startup": round(len(replies) / (median_s + startup_s), 1),
            "sandbox_startup_s": round(startup_s, 3), "isolation": isolation, "mismatches": mismatches}


# ---------------------------------------------------------------------------------------------
# Teacher: a loopback OpenAI-compatible server with a fixed latency.

TEACHER_REPLY = ('Here is the exercise.\n\n```python\ndef add(a: int, b: int) -> int:\n'
                 '    """Return the sum of a and b."""\n    return a + b\n```\n\n'
                 '```python\nassert add(2, 3) == 5\nassert add(-1, 1) == 0\nassert add(0, 0) == 0\n```\n')


class TeacherHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real server offers
    # headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm holds the body
    # until the client's delayed ACK (~40 ms a request on loopback), a cost of this server, not the client's
    disable_nagle_algorithm = True

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path.rstrip("/") == "/v1/models":
            self.send_json(200, {"object": "list", "data": [{"id": "teacher", "object": "model"}]})
        else:
            self.send_json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        if self.path.rstrip("/") != "/v1/chat/completions":
            self.send_json(404, {"error": {"message": f"no route {self.path}"}})
            return
        time.sleep(LATENCY_S)
        prompt = body["messages"][-1]["content"]
        # the first line names the request answered, so the client's ordering can be checked
        text = f"Answer to: {prompt}\n{TEACHER_REPLY}"
        self.send_json(200, {
            "id": "chatcmpl-bench", "object": "chat.completion", "model": body.get("model", "teacher"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": 64,
                      "total_tokens": len(prompt.split()) + 64}})

    def send_json(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (http.server's signature)
        pass


def check_replies(prompts: list[str], responses: list) -> list[str]:
    """Where a response is not the answer to its own request, or holds no exercise."""
    problems = []
    for i, (prompt, response) in enumerate(zip(prompts, responses)):
        if response is None or not response.text.startswith(f"Answer to: {prompt}\n"):
            problems.append(f"request {i}: reply {None if response is None else response.text[:40]!r}")
        elif not isinstance(parse_exercise_reply(response.text), Exercise):
            problems.append(f"request {i}: the reply holds no exercise")
    if len(responses) != len(prompts):
        problems.append(f"{len(responses)} responses to {len(prompts)} requests")
    return problems


def measure_teacher(args: argparse.Namespace) -> dict:
    server = ThreadingHTTPServer(("127.0.0.1", 0), TeacherHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1#teacher"
    prompts = [f"Write exercise {i}: a function on lists with a docstring and asserts." for i in range(args.requests)]
    requests = [Request(messages=(("user", p),), max_tokens=256) for p in prompts]
    figures, problems = {}, []
    try:
        for concurrency in (1, 16):
            with open_client(url, concurrency=concurrency) as client:
                client.complete(requests[:concurrency])  # warm-up: connections opened
                started = time.perf_counter()
                responses = client.complete(requests)
                elapsed = time.perf_counter() - started
            problems += [f"c{concurrency} {p}" for p in check_replies(prompts, responses)]
            figures[concurrency] = {"s": round(elapsed, 3), "rps": round(len(requests) / elapsed, 2)}
    finally:
        server.shutdown()
        server.server_close()
    waves = -(-args.requests // 16)
    return {"requests": args.requests, "latency_s": LATENCY_S, "c1_s": figures[1]["s"], "c16_s": figures[16]["s"],
            "teacher_rps_c1": figures[1]["rps"], "teacher_rps_c16": figures[16]["rps"],
            "concurrency_ratio": round(figures[16]["rps"] / figures[1]["rps"], 2),
            "ideal_concurrency_ratio": round(args.requests / waves, 2), "problems": problems}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exercises", type=int, default=400)
    parser.add_argument("--requests", type=int, default=64, help="teacher requests at each concurrency")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds of verification (median counts)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="sandbox workers (default: cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="100 exercises, 32 requests, one round")
    args = parser.parse_args()
    if args.quick:
        args.exercises, args.requests, args.rounds = 100, 32, 1
    return args


def main() -> int:
    args = parse_args()
    # the teacher is on loopback: never through a proxy the environment may name
    os.environ["NO_PROXY"] = ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1"]))

    verify = measure_verification(args)
    print(f"verification: {verify['exercises']} exercises ({verify['correct']} correct), {verify['workers']} workers: "
          f"median {verify['median_s']:.3f} s -> {verify['verified_per_s']:.1f} exercises/s "
          f"(target {TARGET_VERIFIED_PER_S}/s; rounds {verify['rounds_s']}; "
          f"sandbox startup {verify['sandbox_startup_s']:.3f} s, once); kept {verify['kept']}", flush=True)
    for line in verify["mismatches"]:
        print("   ", line)

    teacher = measure_teacher(args)
    print(f"teacher: {teacher['requests']} requests of {LATENCY_S * 1000:.0f} ms: concurrency 1 "
          f"{teacher['teacher_rps_c1']:.2f} req/s ({teacher['c1_s']:.3f} s), concurrency 16 "
          f"{teacher['teacher_rps_c16']:.2f} req/s ({teacher['c16_s']:.3f} s) -> {teacher['concurrency_ratio']:.2f}x "
          f"(target {TARGET_CONCURRENCY_RATIO}x, ideal {teacher['ideal_concurrency_ratio']}x)", flush=True)
    for line in teacher["problems"]:
        print("   ", line)

    kept_ok = verify["kept"] == verify["correct"] and not verify["mismatches"]
    parity = kept_ok and not teacher["problems"]
    result = {
        "bench": "synth_throughput", "exercises": verify["exercises"], "correct": verify["correct"],
        "kept": verify["kept"], "workers": verify["workers"], "rounds": args.rounds,
        "verify_rounds_s": verify["rounds_s"], "verify_median_s": verify["median_s"],
        "verified_per_s": verify["verified_per_s"], "verified_per_s_best": verify["verified_per_s_best"],
        "verified_per_s_with_startup": verify["verified_per_s_with_startup"],
        "sandbox_startup_s": verify["sandbox_startup_s"], "target_verified_per_s": TARGET_VERIFIED_PER_S,
        "verify_ratio_vs_target": round(verify["verified_per_s"] / TARGET_VERIFIED_PER_S, 2),
        "verify_definition": "exercises / median seconds of parse_exercise_reply + exercise_record + "
                             "verify_exercises (sandbox startup excluded)",
        "isolation": verify["isolation"],
        "teacher_requests": teacher["requests"], "teacher_latency_s": LATENCY_S,
        "teacher_c1_s": teacher["c1_s"], "teacher_c16_s": teacher["c16_s"],
        "teacher_rps_c1": teacher["teacher_rps_c1"], "teacher_rps_c16": teacher["teacher_rps_c16"],
        "concurrency_ratio": teacher["concurrency_ratio"], "target_concurrency_ratio": TARGET_CONCURRENCY_RATIO,
        "ideal_concurrency_ratio": teacher["ideal_concurrency_ratio"], "cpus": os.cpu_count(),
        "parity": parity, "verdict_mismatches": len(verify["mismatches"]),
        "mismatched": (verify["mismatches"] + teacher["problems"])[:MAX_MISMATCHES],
    }
    print(f"kept exactly the correct exercises: {kept_ok}; every teacher reply in order: {not teacher['problems']}")
    print(json.dumps(result))
    return 0 if parity else 1


if __name__ == "__main__":
    sys.exit(main())
