"""Graded evaluation against a real grader endpoint on loopback that critiques and scores."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from textbooks import cli
from textbooks.evaluate.graded import load_graded_problems


class GraderHandler(BaseHTTPRequestHandler):
    """Scores a solution 9/10 when it has a `return`, 2/10 otherwise; for a solution containing
    UNSURE it answers without a score on its first try, and for NEVER it never gives one."""

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        prompt = body["messages"][-1]["content"]
        solution = prompt.split("The student's solution:")[1]
        if "NEVER" in solution or ("UNSURE" in solution and body.get("temperature", 0) == 0):
            text = "The solution is hard to judge; I would rather not say."
        else:
            score = 9 if "return" in solution else 2
            text = f"The solution {'computes' if score == 9 else 'does not compute'} the result.\nScore: {score}/10"
        reply = {"id": "x", "object": "chat.completion", "model": body.get("model", "grader"),
                 "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                 "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def grader_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), GraderHandler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1#grader", server
    server.shutdown()
    server.server_close()


def test_graded_eval_scores_retries_and_reports_unparsable_grades(grader_url, tmp_path):
    url, server = grader_url
    problems = load_graded_problems(None)[:4]
    completions = ["    return 1\n", "    pass\n", "    return 2  # UNSURE\n", "    return 3  # NEVER\n"]
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": p.task_id, "completion": c}) + "\n"
                               for p, c in zip(problems, completions)))
    out = tmp_path / "graded"
    argv = ["eval", "graded", "--samples", str(samples), "--grader", url, "--out", str(out), "--limit", "4"]
    cli.main(argv)
    summary = json.loads((out / "summary.json").read_text())
    grades = {g["task_id"]: g for g in map(json.loads, open(out / "grades.jsonl"))}
    assert [grades[p.task_id]["score"] for p in problems] == [9, 2, 9, None]
    assert grades[problems[2].task_id]["attempts"] == 2  # unparsable once, then asked again
    assert "Score: N/10" in grades[problems[3].task_id]["error"]
    assert summary["graded"] == 3 and summary["unparsable"] == 1
    assert summary["mean_score"] == pytest.approx((9 + 2 + 9) / 3)  # the unparsable one is not scored

    sent = len(server.requests)
    cli.main(argv)  # a rerun asks the grader nothing again
    assert len(server.requests) == sent


def test_graded_eval_needs_a_grader(tmp_path):
    with pytest.raises(ValueError, match="--grader"):
        cli.main(["eval", "graded", "--model", "http://127.0.0.1:9/v1", "--out", str(tmp_path / "g")])
