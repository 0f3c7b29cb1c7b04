"""Evaluation: benchmarks, the sandbox that executes untrusted code, pass@k and graded evaluation."""
