"""Run a recipe's stages in order, each one of the commands corpus, label, classify, synth-textbook,
synth-exercises, decontam, mix, tokenizer, pack, train, eval, audit (the KINDS table), named as the
recipe likes and wired to the output of earlier stages.

With no RECIPE, runs the embedded default (textbooks/configs/default.yaml), the paper's whole recipe
offline on this machine's Python standard library: its curated code and the curriculum teacher's
lessons mixed into a pretraining set, a CPU-sized base model trained on it, finetuned on the
curriculum's exercises pruned against the benchmarks, both models evaluated, and a report
(OUT/report.html). Each stage writes OUT/<stage> and is the same command you can run by hand
(--dry-run prints them).

A recipe's stage runs the command of its name, or of `use:`; each input is the latest earlier stage
of the kind it reads (documents: the latest stage that writes documents), or the stage `from:`
names. `teacher: URL#model` at the top gives a teacher LLM to the labeler and to synthesis (with
each synth stage's `with_teacher:` options, such as `n`); without it each synth stage's own
`teacher:` writes offline (`curriculum`, a program; or `mined`, from the corpus and documentation).

A stage is up to date when it finished with the same options and the same inputs as now: it is
skipped. A stage whose options or inputs changed runs again from scratch, and so does every stage
after it that reads its output. A stage that did not finish (a crash, a kill) is run again with
the same options, and resumes where it stopped. OUT/pipeline.json records what each stage ran with.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from textbooks.commands import parse_command, run_command, run_parsed
from textbooks.layout import CHECKPOINTS, LATEST, LEDGER, OWN_BOOKKEEPING, RECIPE, REPORT, SIMILAR
from textbooks.options import CommandOptions, opt
from textbooks.outputs import claim_output
from textbooks.records import atomic_write_json, config_hash
from textbooks.resources import Usage

DOCUMENTS = "documents"  # an input that takes the documents of the latest stage that writes some
PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # a stage's name: a directory in OUT, not a path


@dataclass(frozen=True)
class Input:
    """An input of a command: its `from:` role, its flag, the kind of stage it reads by default (the
    latest earlier one; DOCUMENTS: the latest that writes documents; None: only when `from:` names
    one), a file inside that stage's output, and whether only the mined (teacher-less) run reads it."""

    role: str
    flag: str
    reads: str | None
    file: str = ""
    mined_only: bool = False


@dataclass(frozen=True)
class Kind:
    """A command a stage can run: its inputs, the flag that takes STAGE=VALUE parts (mix's shares),
    whether its output is documents, the option given as a positional argument (eval's benchmark)
    with its default, whether its old output must be removed before it runs anew (a dataset
    stage's lifecycle, textbooks.stage, clears its own, keeping what a rerun reuses such as an LLM
    labeler's cache; a training run or an evaluation does not), the command's words when they are
    not its name, and the option a recipe's `teacher` is given as."""

    name: str
    inputs: tuple[Input, ...] = ()
    parts: str = ""
    documents: bool = False
    positional: tuple[str, str] | None = None
    clears_itself: bool = True
    command: tuple[str, ...] = ()
    teacher_option: str = ""

    @property
    def words(self) -> tuple[str, ...]:
        """The command's leading words: `textbooks WORDS ...`."""
        return self.command or (self.name,)


# The design's flow (docs/architecture.md, "The data flows one way"). A recipe runs them in its own order.
KINDS = {kind.name: kind for kind in (
    Kind("corpus", documents=True),
    Kind("label", (Input("data", "--data", DOCUMENTS),), teacher_option="labeler"),
    Kind("classify", (Input("data", "--data", DOCUMENTS), Input("labels", "--labels", "label")), documents=True),
    # synthetic data (paper §2.2): offline (mined, or `teacher: curriculum`) or from `teacher: URL#model`
    Kind("synth-textbook", command=("synth", "textbook"), teacher_option="teacher"),
    Kind("synth-exercises", (Input("data", "--data", DOCUMENTS, mined_only=True),), command=("synth", "exercises"),
         teacher_option="teacher"),
    Kind("decontam", (Input("data", "--data", "synth-exercises"),)),  # the exercises against the benchmarks (§5)
    Kind("mix", parts="part", documents=True),  # CodeTextbook: filtered code + textbooks in stated shares (§2)
    Kind("tokenizer", (Input("data", "--data", DOCUMENTS),)),
    Kind("pack", (Input("data", "--data", DOCUMENTS), Input("tokenizer", "--tokenizer", "tokenizer"))),
    Kind("train", (Input("data", "--data.path", "pack"), Input("init", "--train.init_from", None)),
         clears_itself=False),  # pretraining, or finetuning (§2.3) with `from: {init: <a train stage>}`
    Kind("eval", (Input("model", "--model", "train"), Input("split", "--split", None, file=SIMILAR)),
         positional=("benchmark", "humaneval"), clears_itself=False),
    Kind("audit", (Input("data", "--data", DOCUMENTS),)),
)}


@dataclass(frozen=True)
class Stage:
    """A stage of a recipe: its name (OUT/<name> and its key in the ledger) and the command it runs."""

    name: str
    kind: Kind


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


def packaged_pipelines() -> list[str]:
    """The names of the pipeline recipes shipped in textbooks/configs: those with `stages` (the
    others are training recipes)."""
    configs = packaged_config("").iterdir()
    return sorted(p.stem for p in configs if p.suffix == ".yaml" and "stages" in (yaml.safe_load(p.read_text()) or {}))


def load_pipeline(path: Path) -> dict:
    """A recipe file, checked: its YAML, its keys, each stage's name and command, and the stages its
    `arms` name."""
    try:
        recipe = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ValueError(f"{path} is not valid YAML: {' '.join(str(error).split())}") from None
    if not isinstance(recipe, dict) or not recipe.get("stages"):  # nothing to run, and a run's recipe.yaml to keep
        raise ValueError(f"{path}: a recipe is a mapping whose `stages:` name the stages to run; this one has none")
    unknown = sorted(set(recipe) - {"out", "stages", "teacher", "arms"})
    if unknown:
        raise ValueError(f"{path}: unknown keys {', '.join(unknown)} (a recipe has out, stages, teacher, arms)")
    stages = recipe["stages"]
    for name, options in stages.items():
        check_stage_name(path, name)
        if (options or {}).get("use", name) not in KINDS:
            raise ValueError(f"{path}: the stage {name} runs no known command: name it after one, or give `use:` "
                             f"(one of {', '.join(KINDS)})")
    arms = [stage for seeds in (recipe.get("arms") or {}).values() for stage in seeds]
    if missing := sorted(set(arms) - set(stages)):
        raise ValueError(f"{path}: arms name stages the recipe does not have: {', '.join(missing)}")
    return recipe


def check_stage_name(path: Path, name) -> None:
    """A stage's name is its directory in OUT: a plain name, never a path out of OUT (`../x`, `/x`)
    nor one of the run's own files."""
    own = (RECIPE, LEDGER, REPORT, *OWN_BOOKKEEPING)
    if not isinstance(name, str) or not PLAIN_NAME.fullmatch(name) or name in own:
        raise ValueError(f"{path}: the stage name {name!r} is not a plain name (letters, digits, '-', '_', '.'; "
                         f"not {', '.join(own)}): it names the stage's directory in OUT")


def plan(stages: dict, out: Path, teacher: str | None = None) -> list[Step]:
    """The recipe's stages in its order, each wired to its inputs and judged against the ledger."""
    ledger = read_ledger(out)
    steps: dict[str, Step] = {}
    latest: dict[str, str] = {}  # a kind of stage (or DOCUMENTS) -> its latest stage so far
    for name, entry in stages.items():
        options = dict(entry or {})
        stage = Stage(name, KINDS[options.pop("use", name)])
        with_teacher = options.pop("with_teacher", None) or {}
        if with_teacher and not stage.kind.teacher_option:
            raise ValueError(f"the {name} stage has with_teacher options, but {stage.kind.name} asks no teacher")
        if teacher and stage.kind.teacher_option:  # the recipe's LLM replaces a stage's offline teacher
            offline = {key: value for key, value in options.items() if key != stage.kind.teacher_option}
            options = {stage.kind.teacher_option: teacher, **offline, **with_teacher}
        mined = options.get(stage.kind.teacher_option, "mined") == "mined"
        sources = wire(stage, options.pop("from", None) or {}, latest, steps, mined=mined)
        parts = (options.pop(stage.kind.parts, None) or {}) if stage.kind.parts else {}
        _check_read(stage, set(parts) - set(steps), "its parts")
        command = stage_command(stage, options, {flag: out / source / file for flag, (source, file) in sources.items()},
                                out / name, {out / part: share for part, share in parts.items()})
        inputs = {source: steps[source].fingerprint for source in [*(s for s, _ in sources.values()), *parts]}
        fingerprint = config_hash([command, inputs])
        action, why = judge(name, fingerprint, ledger, out, [steps[source] for source in inputs])
        steps[name] = Step(stage, out / name, command, inputs, fingerprint, action, why)
        latest[stage.kind.name] = name
        if stage.kind.documents:
            latest[DOCUMENTS] = name
    return list(steps.values())


def wire(stage: Stage, chosen: dict, latest: dict, steps: dict, mined: bool) -> dict[str, tuple[str, str]]:
    """Each input's flag -> (the stage it reads, a file in it): the stage `from:` names for its role,
    else the latest of the kind it reads; an input no stage is named for, and that reads no kind by
    default, is left out (eval's --split), and so is a mined-only input of a run with a teacher."""
    roles = {item.role: item for item in stage.kind.inputs}
    if unknown := sorted(set(chosen) - set(roles)):
        raise ValueError(f"the {stage.name} stage has no input {', '.join(unknown)} "
                         f"({stage.kind.name} reads {', '.join(roles) or 'none'})")
    _check_read(stage, set(chosen.values()) - set(steps), "its `from:`")
    wired, missing = {}, []
    for item in stage.kind.inputs:
        source = chosen.get(item.role) or latest.get(item.reads)
        if item.mined_only and not mined or source is None and item.reads is None:
            continue
        if source is None:
            missing.append("a stage that writes documents" if item.reads == DOCUMENTS else item.reads)
        wired[item.flag] = (source, item.file)
    if missing:
        raise ValueError(f"the {stage.name} stage reads the output of {', '.join(missing)}: add it before it")
    return wired


def _check_read(stage: Stage, unknown: set, what: str) -> None:
    if unknown:
        raise ValueError(f"the {stage.name} stage reads {', '.join(sorted(unknown))} ({what}): "
                         "no stage of that name runs before it")


def stage_command(stage: Stage, options: dict, inputs: dict[str, Path], out: Path,
                  parts: dict[Path, float]) -> list[str]:
    """The `textbooks` command line of a stage: its positional option, inputs, parts, --out and options."""
    kind = stage.kind
    positional = [str(options.pop(kind.positional[0], kind.positional[1]))] if kind.positional else []
    if kind.words[0] == "train":
        options = _train_options(options)
    flags = [item for flag, path in inputs.items() for item in (flag, str(path))]
    flags += [item for path, share in parts.items() for item in (f"--{kind.parts}", f"{path}={share}")]
    return [*kind.words, *positional, *flags, "--out", str(out), *option_flags(options)]


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


class Options(CommandOptions):
    recipe: str = opt("default", help="a pipeline YAML file, or a packaged recipe's name: "
                                      f"{', '.join(packaged_pipelines())} (default: the embedded default)",
                      positional=True)
    out: Path | None = opt(None, help="output directory (default: the recipe's `out`)")
    dry_run: bool = opt(False, help="print the plan: each stage, its inputs, its command, and whether it will run")


def setup(options: Options) -> tuple[Path, dict]:
    path = Path(options.recipe)
    if not path.is_file() and options.recipe in packaged_pipelines():
        path = packaged_config(f"{options.recipe}.yaml")
    if not path.is_file():
        raise FileNotFoundError(f"recipe {path} is neither a file nor a packaged recipe "
                                f"({', '.join(packaged_pipelines())})")
    recipe = load_pipeline(path)
    return (options.out or Path(recipe.get("out", "runs/default"))).resolve(), recipe


def main(out: Path, recipe: dict, dry_run: bool = False) -> int:
    """Run (or, dry, print) the plan of `recipe` into `out`, then its report; the exit code of the first
    stage that fails."""
    with contextlib.nullcontext() if dry_run else claim_output(out, "pipeline"):  # a dry run writes nothing
        steps = plan(recipe["stages"], out, recipe.get("teacher"))
        # Each stage's typed options, read from the command line it prints (--dry-run shows what runs):
        # a misspelt option is a usage error now, not after an hour of work.
        parsed = {step.stage.name: parse_command(step.command) for step in steps}
        for module, options in parsed.values():  # and what a command checks of its own settings (train's recipe)
            getattr(module, "plan_check", lambda options: None)(options)
        if not dry_run:  # the recipe beside the ledger, written first: the ledger marks OUT as a pipeline's
            atomic_write_json(out / LEDGER, read_ledger(out))
            (out / RECIPE).write_text(yaml.safe_dump(recipe, sort_keys=False), encoding="utf-8")
        for step in steps:
            print(describe(step), flush=True)
            if dry_run or step.action == "up to date":
                continue
            command = start(step, out)
            module, options = parsed[step.stage.name] if command == step.command else parse_command(command)
            with Usage() as usage:
                code = run_parsed(module, options, command)
            if code != 0:
                return code
            record_step(out, step, finished=True, usage=usage.figures())
        if dry_run:
            return 0
        print(cost_table(read_ledger(out), [step.stage.name for step in steps]))
        return run_command(["report", str(out)])  # OUT/report.html: every run ends with its report


def cost_table(ledger: dict, names: list[str]) -> str:
    """Each stage's wall time and peak memory (its process tree's), as its last run measured them."""
    width = max(map(len, ["stage", *names]))
    rows = [f"{'stage':<{width}} {'wall':>9} {'peak memory':>12}"]
    for name in names:
        usage = ledger.get(name, {}).get("usage") or {}
        wall = f"{usage['wall_s']} s" if "wall_s" in usage else "-"
        peak = f"{usage['peak_mib']:,} MiB" if usage.get("peak_mib") else "-"
        rows.append(f"{name:<{width}} {wall:>9} {peak:>12}")
    return "\n".join(rows)


def describe(step: Step) -> str:
    inputs = f" (reads {', '.join(step.inputs)})" if step.inputs else ""
    shown = " ".join(repr(a) if "\n" in a or " " in a else a for a in step.command)
    return f"[{step.action}] {step.stage.name}{inputs}: {step.why}\n  $ textbooks {shown}"


def start(step: Step, out: Path) -> list[str]:
    """Record the stage as started and return its command. A stage run anew that does not clear its
    own output loses it here (it was made from other options or inputs); a resumed training run
    continues from its checkpoint."""
    if step.action == "run" and not step.stage.kind.clears_itself and step.stage.name in read_ledger(out):
        shutil.rmtree(step.out, ignore_errors=True)
    record_step(out, step, finished=False)
    resume = step.stage.kind.words[0] == "train" and step.action == "resume" and \
        (step.out / CHECKPOINTS / LATEST).exists()
    return [*step.command, "--resume"] if resume else step.command


def record_step(out: Path, step: Step, finished: bool, usage: dict | None = None) -> None:
    """The stage's entry in OUT/pipeline.json; a finished run's `usage`: its wall time and peak memory."""
    ledger = read_ledger(out)
    ledger[step.stage.name] = {"fingerprint": step.fingerprint, "finished": finished, "command": step.command,
                               "inputs": step.inputs, "usage": usage, "kind": " ".join(step.stage.kind.words)}
    atomic_write_json(out / LEDGER, ledger)


def run(options: Options) -> int:
    from textbooks.allocator import use_jemalloc

    use_jemalloc()  # before any stage: training in-process is much faster under jemalloc
    return main(*setup(options), dry_run=options.dry_run)
