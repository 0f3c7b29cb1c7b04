"""The report's figures, as `data:` URIs of PNGs so the HTML file holds them itself.

Drawn with matplotlib's object API and Agg renderer (`Figure.savefig`), never pyplot, as the
audit's plots are: no backend is set, no window opens, the caller's plotting state is left alone.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

from matplotlib.figure import Figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_data_uri(png: bytes) -> str:
    """PNG bytes as a `data:` URI an <img> shows without fetching anything."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def figure_uri(figure: Figure) -> str:
    """A matplotlib figure rendered (Agg) to an inline PNG."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return png_data_uri(buffer.getvalue())


def file_uri(path: Path) -> str | None:
    """An existing PNG file (an audit's) inlined; None for a missing or non-PNG file."""
    try:
        png = path.read_bytes()
    except OSError:
        return None
    return png_data_uri(png) if png.startswith(PNG_SIGNATURE) else None


def loss_figure(run: dict) -> str:
    """Training loss and validation loss against the step, for one train stage."""
    figure = Figure(figsize=(7, 3.6), layout="constrained")
    axes = figure.add_subplot()
    if run["steps"]:
        axes.plot(run["steps"], run["loss"], color="tab:blue", label="loss")
    if run["val_steps"]:
        axes.plot(run["val_steps"], run["val_loss"], "o-", color="tab:orange", label="val_loss")
    axes.set(xlabel="step", ylabel="cross-entropy (nats/token)", title=f"{run['name']}: loss")
    axes.grid(alpha=0.3)
    axes.legend()
    return figure_uri(figure)


def ablation_figure(rows: list[dict]) -> str | None:
    """Bits per byte per arm, one panel per benchmark (each on its own scale: the arms differ by
    hundredths, the benchmarks by whole bits), one marker per seed and a bar at their mean."""
    rows = [row for row in rows if row["bits_per_byte_mean"] is not None]
    if not rows:
        return None
    arms = list(dict.fromkeys(row["arm"] for row in rows))
    benchmarks = list(dict.fromkeys(row["benchmark"] for row in rows))
    figure = Figure(figsize=(max(5, 1.4 * len(arms) + 2) * min(len(benchmarks), 2), 3.8), layout="constrained")
    for b, benchmark in enumerate(benchmarks):
        axes = figure.add_subplot(1, len(benchmarks), b + 1)
        for row in (r for r in rows if r["benchmark"] == benchmark):
            x = arms.index(row["arm"])
            seeds = [v for v in row["bits_per_byte"] if v is not None]
            axes.scatter([x] * len(seeds), seeds, color=f"C{b}", zorder=3)
            axes.hlines(row["bits_per_byte_mean"], x - 0.25, x + 0.25, color=f"C{b}")
        axes.set_xticks(range(len(arms)), arms)
        axes.set(ylabel="bits per byte (lower is better)", title=f"{benchmark}: a marker per seed, a bar at the mean")
        axes.grid(axis="y", alpha=0.3)
    figure.suptitle("Ablation: bits per byte of each arm")
    return figure_uri(figure)
