"""Run a recipe's stages in order: corpus -> tokenizer -> pack -> train -> generate -> eval.

With no RECIPE, runs the embedded default (textbooks/configs/default.yaml): offline, on this
machine's Python standard library, a CPU-sized model trained for a few minutes. Each stage writes
OUT/<stage> and is the same command you can run by hand; each skips work that is already complete,
so a rerun after a crash continues where it stopped.
"""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

import yaml

STAGES = ("corpus", "tokenizer", "pack", "train", "generate", "eval")


def packaged_config(name: str) -> Path:
    """A recipe shipped in textbooks/configs, by file name."""
    return Path(str(resources.files("textbooks") / "configs" / name))


def load_pipeline(path: Path) -> dict:
    recipe = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unknown = sorted(set(recipe) - {"out", "stages"}) + sorted(set(recipe.get("stages", {})) - set(STAGES))
    if unknown:
        raise ValueError(f"{path}: unknown keys {', '.join(unknown)} (stages are {', '.join(STAGES)})")
    return recipe


def stage_flags(options: dict) -> list[str]:
    """`{"vocab_size": 8192, "prompt": [a, b]}` -> `--vocab-size 8192 --prompt a --prompt b`."""
    flags = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        for item in value if isinstance(value, list) else [value]:
            flags += [flag] if item is True else [flag, str(item)]
    return flags


def stage_commands(stages: dict, out: Path) -> list[list[str]]:
    """Each stage as the `textbooks` command line that runs it, wired to the stage before."""
    d = {name: out / name for name in STAGES}
    commands = []
    if "corpus" in stages:
        commands.append(["corpus", "--out", str(d["corpus"]), *stage_flags(stages["corpus"] or {})])
    if "tokenizer" in stages:
        commands.append(["tokenizer", "--data", str(d["corpus"]), "--out", str(d["tokenizer"] / "tokenizer.json"),
                         *stage_flags(stages["tokenizer"] or {})])
    if "pack" in stages:
        commands.append(["pack", "--data", str(d["corpus"]), "--tokenizer", str(d["tokenizer"] / "tokenizer.json"),
                         "--out", str(d["pack"]), *stage_flags(stages["pack"] or {})])
    if "train" in stages:
        commands.append(_train_command(dict(stages["train"] or {}), d["pack"], d["train"]))
    if "generate" in stages:
        commands.append(["generate", str(d["train"]), *stage_flags(stages["generate"] or {})])
    if "eval" in stages:
        options = dict(stages["eval"] or {})
        benchmark = options.pop("benchmark", "humaneval")
        commands.append(["eval", benchmark, "--model", str(d["train"]), "--out", str(d["eval"] / benchmark),
                         *stage_flags(options)])
    return commands


def _train_command(options: dict, pack_dir: Path, run_dir: Path) -> list[str]:
    recipe = Path(options.pop("recipe", "cpu-pretrain.yaml"))
    if not recipe.exists():
        recipe = packaged_config(recipe.name)
    overrides = {"data.path": str(pack_dir), **options.pop("overrides", {})}
    if options:
        raise ValueError(f"unknown train stage keys: {', '.join(options)} (use recipe and overrides)")
    command = ["train", "--recipe", str(recipe), "--out", str(run_dir)]
    if (run_dir / "checkpoints" / "latest").exists():
        command.append("--resume")  # continue (or find finished) the run a previous invocation began
    for key, value in overrides.items():
        command += [f"--{key}", str(value)]
    return command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", nargs="?", type=Path, help="pipeline YAML (default: the embedded default)")
    parser.add_argument("--out", type=Path, help="output directory (default: the recipe's `out`)")
    parser.add_argument("--dry-run", action="store_true", help="print the stage commands without running them")


def setup(args: argparse.Namespace) -> tuple[list[list[str]], bool]:
    path = args.recipe or packaged_config("default.yaml")
    if not path.exists():
        raise SystemExit(f"error: recipe {path} does not exist")
    recipe = load_pipeline(path)
    out = args.out or Path(recipe.get("out", "runs/default"))
    return stage_commands(recipe.get("stages", {}), out), args.dry_run


def main(commands: list[list[str]], dry_run: bool) -> int:
    from textbooks.cli import main as textbooks

    for command in commands:
        print("$ textbooks " + " ".join(repr(a) if "\n" in a or " " in a else a for a in command), flush=True)
        if not dry_run and (code := textbooks(command)) != 0:
            return code
    return 0


def run(args: argparse.Namespace) -> int:
    from textbooks.allocator import use_jemalloc

    use_jemalloc()  # before any stage: training in-process is much faster under jemalloc
    return main(*setup(args))
