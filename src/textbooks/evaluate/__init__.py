"""Evaluation: benchmarks, the harness that runs completions in `textbooks.sandbox`, pass@k and
graded evaluation."""
