"""Run a recipe's stages in the design's order: corpus -> label -> classify -> synth-textbook ->
synth-exercises -> decontam -> tokenizer -> pack -> train -> eval (a recipe runs a subset).

With no RECIPE, runs the embedded default (textbooks/configs/default.yaml): offline, on this
machine's Python standard library, curated by the heuristic labeler and the embedding classifier,
and a CPU-sized model trained for a few minutes. Each stage writes OUT/<stage> and is the same
command you can run by hand (--dry-run prints them).

A stage is up to date when it finished with the same options and the same inputs as now: it is
skipped. A stage whose options or inputs changed runs again from scratch, and so does every stage
after it that reads its output. A stage that did not finish (a crash, a kill) is run again with
the same options, and resumes where it stopped. OUT/pipeline.json records what each stage ran with.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from textbooks.outputs import claim_output
from textbooks.records import atomic_write_json
from textbooks.resources import Usage

DOCUMENTS = "documents"  # an input that takes the documents of the latest stage that writes some
LEDGER = "pipeline.json"


@dataclass(frozen=True)
class Stage:
    """One row of the table: its name (the recipe's key and OUT/<name>), the flag each input is
    given by (the stage it comes from, or DOCUMENTS), whether its output is documents, the option
    given as a positional argument (eval's benchmark) with its default, whether its old output must
    be removed before it runs anew (a dataset stage's lifecycle, textbooks.stage, clears its own,
    keeping what a rerun reuses such as an LLM labeler's cache; a training run or an evaluation
    does not), and the command it runs when that is not its name (a finetune row runs `train`)."""

    name: str
    inputs: tuple[tuple[str, str], ...] = ()
    documents: bool = False
    positional: tuple[str, str] | None = None
    clears_itself: bool = True
    command: tuple[str, ...] = ()

    @property
    def words(self) -> tuple[str, ...]:
        """The command's leading words: `textbooks WORDS ...`."""
        return self.command or (self.name,)


# The design's flow (DESIGN.md, "The data flows one way"), in order. A recipe runs a subset.
STAGES = (
    Stage("corpus", documents=True),
    Stage("label", inputs=(("--data", DOCUMENTS),)),
    Stage("classify", inputs=(("--data", DOCUMENTS), ("--labels", "label")), documents=True),
    # synthetic data (PAPER.md §2.2): mined offline by default, from a teacher with `teacher: URL#model`
    Stage("synth-textbook", command=("synth", "textbook")),
    Stage("synth-exercises", inputs=(("--data", DOCUMENTS),), command=("synth", "exercises")),
    Stage("decontam", inputs=(("--data", "synth-exercises"),)),  # the exercises against the benchmarks (§5)
    Stage("tokenizer", inputs=(("--data", DOCUMENTS),)),
    Stage("pack", inputs=(("--data", DOCUMENTS), ("--tokenizer", "tokenizer"))),
    Stage("train", inputs=(("--data.path", "pack"),), clears_itself=False),
    Stage("eval", inputs=(("--model", "train"),), positional=("benchmark", "humaneval"), clears_itself=False),
)
BY_NAME = {stage.name: stage for stage in STAGES}


@dataclass(frozen=True)
class Step:
    """A stage of this recipe, planned: its command line, its inputs (stage names), its fingerprint
    (the hash of its command and its inputs' fingerprints) and what the run will do with it."""

    stage: Stage
    out: Path
    command: list[str]
    inputs: dict[str, str]  # input stage -> its fingerprint
    fingerprint: str
    action: str  # "up to date", "run" or "resume"
    why: str


def packaged_config(name: str) -> Path:
    """A recipe shipped in textbooks/configs, by file name."""
    return Path(str(resources.files("textbooks") / "configs" / name))


def load_pipeline(path: Path) -> dict:
    recipe = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unknown = sorted(set(recipe) - {"out", "stages"}) + sorted(set(recipe.get("stages") or {}) - set(BY_NAME))
    if unknown:
        raise ValueError(f"{path}: unknown keys {', '.join(unknown)} (stages are {', '.join(BY_NAME)})")
    return recipe


def plan(stages: dict, out: Path) -> list[Step]:
    """The recipe's stages in table order, each wired to its inputs and judged against the ledger."""
    ledger = read_ledger(out)
    steps: dict[str, Step] = {}
    documents = None  # the stage whose documents a DOCUMENTS input reads
    for stage in (s for s in STAGES if s.name in stages):
        sources = {flag: documents if source == DOCUMENTS else source for flag, source in stage.inputs}
        missing = sorted({source or "a stage that writes documents" for source in sources.values()} - set(steps))
        if missing:
            raise ValueError(f"the {stage.name} stage reads the output of {', '.join(missing)}: add it to the recipe")
        command = stage_command(stage, dict(stages[stage.name] or {}), {f: out / s for f, s in sources.items()},
                                out / stage.name)
        inputs = {name: steps[name].fingerprint for name in sources.values()}
        fingerprint = _hash([command, inputs])
        action, why = judge(stage.name, fingerprint, ledger, out, [steps[name] for name in inputs])
        steps[stage.name] = Step(stage, out / stage.name, command, inputs, fingerprint, action, why)
        documents = stage.name if stage.documents else documents
    return list(steps.values())


def stage_command(stage: Stage, options: dict, inputs: dict[str, Path], out: Path) -> list[str]:
    """The `textbooks` command line of a stage: its positional option, inputs, --out and options."""
    positional = [str(options.pop(stage.positional[0], stage.positional[1]))] if stage.positional else []
    if stage.words[0] == "train":
        options = _train_options(options)
    flags = [item for flag, path in inputs.items() for item in (flag, str(path))]
    return [*stage.words, *positional, *flags, "--out", str(out), *option_flags(options)]


def _train_options(options: dict) -> dict:
    """train's `recipe` (a file, or a packaged recipe's name) and its `overrides` as --section.key flags."""
    recipe = Path(options.pop("recipe", "cpu-pretrain.yaml"))
    overrides = options.pop("overrides", None) or {}
    if options:
        raise ValueError(f"unknown train stage keys: {', '.join(options)} (use recipe and overrides)")
    return {"recipe": str(recipe if recipe.exists() else packaged_config(recipe.name)), **overrides}


def option_flags(options: dict) -> list[str]:
    """`{"vocab_size": 8192, "prompt": [a, b]}` -> `--vocab-size 8192 --prompt a --prompt b`; a dotted
    key (a training recipe override) keeps its underscores: `--train.max_steps 200`."""
    flags = []
    for key, value in options.items():
        flag = "--" + (key if "." in key else key.replace("_", "-"))
        for item in value if isinstance(value, list) else [value]:
            flags += [flag] if item is True else [flag, str(item)]
    return flags


def judge(name: str, fingerprint: str, ledger: dict, out: Path, inputs: list[Step]) -> tuple[str, str]:
    """What the run does with a stage, and why: skip it, resume its unfinished run, or run it anew."""
    record = ledger.get(name)
    rerun_inputs = [step.stage.name for step in inputs if step.action != "up to date"]
    if record is None:
        return "run", "not run yet"
    if record["fingerprint"] != fingerprint:
        changed = [step.stage.name for step in inputs if step.fingerprint != record["inputs"].get(step.stage.name)]
        return "run", f"its input {', '.join(changed)} changed" if changed else "its options changed"
    if not record["finished"]:
        return "resume", "its last run did not finish"
    if rerun_inputs:
        return "run", f"its input {', '.join(rerun_inputs)} runs first"
    if not (out / name).is_dir():
        return "run", f"{out / name} is gone"
    return "up to date", "finished with these options and inputs"


def read_ledger(out: Path) -> dict:
    path = out / LEDGER
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _hash(parts: list) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", nargs="?", type=Path, help="pipeline YAML (default: the embedded default)")
    parser.add_argument("--out", type=Path, help="output directory (default: the recipe's `out`)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the plan: each stage, its inputs, its command, and whether it will run")


def setup(args: argparse.Namespace) -> tuple[Path, dict]:
    path = args.recipe or packaged_config("default.yaml")
    if not path.is_file():
        raise FileNotFoundError(f"recipe {path} does not exist")
    recipe = load_pipeline(path)
    return (args.out or Path(recipe.get("out", "runs/default"))).resolve(), recipe.get("stages") or {}


def main(out: Path, stages: dict, dry_run: bool = False) -> int:
    """Run (or, dry, print) the plan of `stages` into `out`; the exit code of the first stage that fails."""
    from textbooks.cli import main as textbooks, parse_command

    with contextlib.nullcontext() if dry_run else claim_output(out, "pipeline"):  # a dry run writes nothing
        steps = plan(stages, out)
        for step in steps:
            parse_command(step.command)  # a misspelt option is a usage error now, not after an hour of work
        for step in steps:
            print(describe(step), flush=True)
            if dry_run or step.action == "up to date":
                continue
            command = start(step, out)
            with Usage() as usage:
                code = textbooks(command)
            if code != 0:
                return code
            record_step(out, step, finished=True, usage=usage.figures())
        if not dry_run:
            print(cost_table(read_ledger(out), [step.stage.name for step in steps]))
    return 0


def cost_table(ledger: dict, names: list[str]) -> str:
    """Each stage's wall time and peak memory (its process tree's), as its last run measured them."""
    rows = [f"{'stage':<10} {'wall':>9} {'peak memory':>12}"]
    for name in names:
        usage = ledger.get(name, {}).get("usage") or {}
        wall = f"{usage['wall_s']} s" if "wall_s" in usage else "-"
        peak = f"{usage['peak_mib']:,} MiB" if usage.get("peak_mib") else "-"
        rows.append(f"{name:<10} {wall:>9} {peak:>12}")
    return "\n".join(rows)


def describe(step: Step) -> str:
    inputs = f" (reads {', '.join(step.inputs)})" if step.inputs else ""
    shown = " ".join(repr(a) if "\n" in a or " " in a else a for a in step.command)
    return f"[{step.action}] {step.stage.name}{inputs}: {step.why}\n  $ textbooks {shown}"


def start(step: Step, out: Path) -> list[str]:
    """Record the stage as started and return its command. A stage run anew that does not clear its
    own output loses it here (it was made from other options or inputs); a resumed training run
    continues from its checkpoint."""
    if step.action == "run" and not step.stage.clears_itself and step.stage.name in read_ledger(out):
        shutil.rmtree(step.out, ignore_errors=True)
    record_step(out, step, finished=False)
    resume = step.stage.words[0] == "train" and step.action == "resume" and \
        (step.out / "checkpoints" / "latest").exists()
    return [*step.command, "--resume"] if resume else step.command


def record_step(out: Path, step: Step, finished: bool, usage: dict | None = None) -> None:
    """The stage's entry in OUT/pipeline.json; a finished run's `usage`: its wall time and peak memory."""
    ledger = read_ledger(out)
    ledger[step.stage.name] = {"fingerprint": step.fingerprint, "finished": finished, "command": step.command,
                               "inputs": step.inputs, "usage": usage}
    atomic_write_json(out / LEDGER, ledger)


def run(args: argparse.Namespace) -> int:
    from textbooks.allocator import use_jemalloc

    use_jemalloc()  # before any stage: training in-process is much faster under jemalloc
    return main(*setup(args), dry_run=args.dry_run)
