"""One self-contained HTML report of a run directory: the data funnel, training curves, results,
the paper's side-by-side completions (§3), audits and ablations (textbooks.report.cli)."""
