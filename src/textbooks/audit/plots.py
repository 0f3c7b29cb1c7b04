"""The PNGs of `textbooks audit`, drawn from its report.

Figures are made with matplotlib's object API and its Agg renderer (`Figure.savefig`), never
pyplot: no global backend is set and no window opens, so the audit runs headless and leaves the
plotting state of whatever imported it alone. Each file is written atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from textbooks.records import atomic_path

LENGTHS, NGRAMS, CLUSTERS, CONSTRAINTS = "lengths.png", "ngrams.png", "clusters.png", "constraints.png"


def write_plots(out: Path, report: dict, lengths: np.ndarray) -> list[str]:
    """Write the audit's PNGs into `out`; return their names (constraints.png only for synthetic data)."""
    figures = {LENGTHS: length_figure(lengths, report["tokens"]["counter"]),
               NGRAMS: ngram_figure(report["distinct_ngrams"]),
               CLUSTERS: cluster_figure(report["clusters"])}
    if report["constraints"]:
        figures[CONSTRAINTS] = constraint_figure(report["constraints"])
    for name, figure in figures.items():
        with atomic_path(out / name) as tmp:
            figure.savefig(tmp, format="png", dpi=100)
    return sorted(figures)


def length_figure(lengths: np.ndarray, counter: str) -> Figure:
    figure = Figure(figsize=(7, 4), layout="constrained")
    axes = figure.add_subplot()
    # log-spaced bins: code file lengths span several orders of magnitude
    bins = np.geomspace(1, max(2, int(lengths.max()) + 1), 40)
    axes.hist(np.maximum(lengths, 1), bins=bins, color="tab:blue")
    axes.set_xscale("log")
    axes.set(xlabel=f"tokens per record ({counter.split()[0]})", ylabel="records",
             title=f"Length distribution of {len(lengths)} records")
    return figure


def ngram_figure(distinct: dict) -> Figure:
    figure = Figure(figsize=(5, 4), layout="constrained")
    axes = figure.add_subplot()
    orders = list(distinct)
    axes.bar([f"distinct-{n}" for n in orders], [distinct[n]["ratio"] or 0 for n in orders], color="tab:green")
    axes.set(ylim=(0, 1), ylabel="distinct n-grams / all n-grams", title="Lexical diversity")
    return figure


def cluster_figure(clusters: dict) -> Figure:
    figure = Figure(figsize=(7, 4), layout="constrained")
    axes = figure.add_subplot()
    sizes = clusters["sizes"]
    axes.bar(range(1, len(sizes) + 1), sizes, color="tab:orange")
    axes.set(xlabel="cluster (largest first)", ylabel="records",
             title=f"{clusters['k']} k-means clusters of the embeddings, "
                   f"{clusters['effective_clusters']:.1f} effective")
    return figure


def constraint_figure(constraints: dict) -> Figure:
    keys = list(constraints)
    figure = Figure(figsize=(7, 2.5 * len(keys) + 0.5), layout="constrained")
    for row, key in enumerate(keys, 1):
        axes = figure.add_subplot(len(keys), 1, row)
        top = constraints[key]["top"][::-1]  # barh draws bottom-up: the most common on top
        axes.barh([value[:40] for value, _ in top], [count for _, count in top], color="tab:purple")
        axes.set(xlabel="records", title=f"{key}: {constraints[key]['distinct']} distinct values")
    return figure
