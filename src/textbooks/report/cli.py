"""Write one self-contained HTML report of a run directory (what `textbooks run` leaves in OUT).

The report has a section for each part of the run that is there, and leaves out the rest:
  Stages       every stage of OUT/pipeline.json (in OUT/recipe.yaml's order, else each after its
               inputs): kind, finished, wall time, peak memory
  Data funnel  per dataset stage: records in, kept, rejected (by reason), text bytes or tokens,
               wall time, peak memory, records/s; a synth stage's teacher ledger (tokens, requests,
               cache hits, cost); a mix's parts; pack's tokens per split
  Training     per train stage: loss and val_loss curves, final loss, tokens seen, mean tokens/s
  Results      per benchmark, one column per eval stage: pass@k, bits per byte, outcomes, and
               pass@k on the similar / non-similar problems of an eval run with --split;
               decontam's tau sweep (paper Table 3)
  Side by side up to 6 prompts two eval stages of a benchmark share (its first and last in run
               order: the base model and the finetuned one), those where the models differ first
               (one passes and the other not, then different completions), each model's completion
               beside the other with its verdict (paper §3); beside a completion that passed,
               the exercise of the finetuning data (the latest decontam's kept records, else the
               synth exercises) with the highest AST match rate to it and the 13-grams they share
  Audit        each audited dataset's figures and plots (`textbooks audit`)
  Ablation     with a top-level `arms:` in OUT/recipe.yaml (arm -> eval stages, one per seed):
               bits per byte and pass@1 of each seed and their mean, and a plot per arm

The file holds everything it shows: plots are inline PNGs, the style is inline, there is no
script and no link to fetch, so it can be mailed or archived as one file. Prompts are read from the
benchmark (the eval's --data file, or the packaged HumanEval); without them the task ids are shown.

Example:
  textbooks report runs/x                      # -> runs/x/report.html
  textbooks report runs/x --out /tmp/x.html
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import ChainableUndefined, Environment, PackageLoader, Undefined

from textbooks.layout import LEDGER, REPORT
from textbooks.options import CommandOptions, opt
from textbooks.records import atomic_write_text
from textbooks.report import collect, plots
from textbooks.report.compare import side_by_side

TEMPLATE = "report.html.j2"


class Options(CommandOptions):
    run_dir: Path = opt(help="the run directory (textbooks run's OUT)", metavar="RUN_DIR", positional=True)
    out: Path | None = opt(None, help="the HTML file to write (default RUN_DIR/report.html)", metavar="FILE")


def run(options: Options) -> Path:
    return main(*setup(options))


def setup(options: Options) -> tuple[Path, Path]:
    """Check RUN_DIR and --out before any work: (the run, the HTML file to write)."""
    run_dir = options.run_dir.expanduser().resolve()
    if not run_dir.is_dir():
        raise FileNotFoundError(f"RUN_DIR {run_dir} is not a directory")
    if not (run_dir / LEDGER).is_file():  # its report.html may be someone's: leave it be
        raise ValueError(f"RUN_DIR {run_dir} is not a run of `textbooks run` (it has no {LEDGER}): nothing to report")
    out = (options.out or run_dir / REPORT).expanduser().resolve()
    if out.is_dir():
        raise IsADirectoryError(f"--out {out} is a directory; name the HTML file to write")
    return run_dir, out


def main(run_dir: Path, out: Path) -> Path:
    """Write the report of `run_dir` to `out` (atomically) and return its path."""
    html = render(report_context(run_dir))
    atomic_write_text(out, html)
    print(f"report of {run_dir} -> {out} ({len(html.encode('utf-8')) / 1024:.0f} KiB)")
    return out


def render(context: dict) -> str:
    """The report's HTML from the package's template."""
    # autoescape: completions, prompts and reasons are model output and file contents, shown as text.
    # ChainableUndefined: a key a file does not have (a ledger without prices has no `cost`) shows as
    # a dash instead of failing the report.
    environment = Environment(loader=PackageLoader("textbooks", "report"), autoescape=True,
                              undefined=ChainableUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.filters["fmt"] = format_value
    return environment.get_template(TEMPLATE).render(**context)


def report_context(run_dir: Path) -> dict:
    """Everything the template shows, read from `run_dir`; each section is empty when its stages are absent."""
    recipe = collect.read_recipe(run_dir)
    stages = collect.list_stages(run_dir, recipe)
    of_kind = _by_kind(stages)
    evals = [e for e in map(collect.eval_run, of_kind("eval")) if e]
    trainings = [t for t in map(collect.training_run, of_kind("train")) if t]
    for training in trainings:
        training["plot"] = plots.loss_figure(training)
    ablation = collect.ablation(recipe, {e["name"]: e for e in evals})
    return {"run_dir": str(run_dir), "stages": [collect.overview_row(s) for s in stages],
            "funnel": [r for r in map(collect.dataset_row, _dataset_stages(stages)) if r],
            "packs": [r for r in map(collect.pack_row, of_kind("pack", "tokenizer")) if r],
            "trainings": trainings, "results": results_tables(evals),
            "sweeps": [s for s in map(collect.decontam_sweep, of_kind("decontam")) if s],
            "comparisons": side_by_side(evals, exercises=collect.exercise_stage(stages)),
            "audits": audits(of_kind("audit")),
            "ablation": ablation, "ablation_plot": plots.ablation_figure(ablation)}


def _by_kind(stages: list[dict]):
    """A look-up of the stages of given kinds, in run order."""
    return lambda *kinds: [stage for stage in stages if stage["kind"] in kinds]


def _dataset_stages(stages: list[dict]) -> list[dict]:
    return [stage for stage in stages if stage["kind"] and stage["kind"] not in collect.MODEL_KINDS]


def audits(stages: list[dict]) -> list[dict]:
    """Each audit's figures, its PNGs inlined."""
    found = [a for a in map(collect.audit_run, stages) if a]
    for audit in found:
        audit["images"] = [uri for uri in map(plots.file_uri, audit.pop("plots")) if uri]
    return found


def results_tables(evals: list[dict]) -> list[dict]:
    """Per benchmark, its eval stages side by side: one row per figure, one cell per stage."""
    by_benchmark: dict[str, list[dict]] = {}
    for run in evals:
        by_benchmark.setdefault(run["benchmark"], []).append(run)
    return [{"benchmark": benchmark, "stages": [run["name"] for run in runs], "rows": result_rows(runs)}
            for benchmark, runs in by_benchmark.items()]


def result_rows(runs: list[dict]) -> list[dict]:
    """(label, metric key, format, value per stage) for each figure any of `runs` has."""
    def row(label: str, metric: str, kind: str, get) -> dict:
        return {"label": label, "metric": metric, "kind": kind, "values": [get(run) for run in runs]}

    passes = sorted({k for run in runs for k in run["pass"]}, key=lambda k: int(k.split("@")[1]))
    rows = [row(k, k, "pct", lambda run, k=k: run["pass"].get(k)) for k in passes]
    rows.append(row("bits per byte", "bits_per_byte", "bpb", lambda run: run["bits_per_byte"]))
    rows.append(row("problems", "problems", "int", lambda run: run["problems"]))
    rows.append(row("samples", "samples", "int", lambda run: run["samples"]))
    for outcome in sorted({o for run in runs for o in run["outcomes"]}):
        rows.append(row(f"outcome: {outcome}", f"outcome:{outcome}", "int",
                        lambda run, o=outcome: run["outcomes"].get(o, 0 if run["outcomes"] else None)))
    for group in ("similar", "non_similar"):
        if any(group in run["split"] for run in runs):
            name = group.replace("_", "-")
            rows.append(row(f"{name} problems", f"{group}:problems", "int",
                            lambda run, g=group: run["split"].get(g, {}).get("problems")))
            rows.extend(row(f"{k} on {name} problems", f"{group}:{k}", "pct",
                            lambda run, g=group, k=k: run["split"].get(g, {}).get(k)) for k in passes)
    return [r for r in rows if any(v is not None for v in r["values"])]


def format_value(value, kind: str = "num") -> str:
    """A figure as the report shows it; a missing one as a dash."""
    if value is None or isinstance(value, Undefined):
        return "–"
    formats = {"pct": "{:.1%}", "bpb": "{:.3f}", "int": "{:,}", "s": "{:,.1f} s", "mib": "{:,} MiB",
               "rate": "{:,.1f}/s", "loss": "{:.4f}", "share": "{:.2%}", "ratio": "{:.3f}"}
    if kind == "num":
        return f"{value:,}" if isinstance(value, int) else f"{value:,.4g}"
    return formats[kind].format(value)
