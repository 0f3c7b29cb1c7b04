"""Run one `textbooks` command in-process: the table of commands, each a module with its `Options`
(textbooks.options: the one declaration of its options) and `run(options)`, parsed and run, and a
full disk said in one line.

Command modules are imported only when their command runs, so `textbooks --help` stays fast.
Each command claims the output it writes where it writes it (textbooks.outputs: the right kind of
output, one writer at a time), so that a library caller holds the claim too: a dataset stage in its
lifecycle (textbooks.stage), the others around their work. `AFTER_FAILURE` (a stage's comes with its
spec) says what a failed run leaves behind, for the one-line error a full disk or a denied write ends in.

The pipeline (`textbooks run`) runs these commands; textbooks.cli adds it to the table, so that
nothing here imports the pipeline that imports this.
"""

from __future__ import annotations

import argparse
import errno
import importlib

from textbooks import options
from textbooks.errors import UserError

Table = dict[str, tuple[str, str]]  # a command -> (its module, its summary)
COMMANDS: Table = {
    "corpus": ("textbooks.corpus.cli", "build a corpus dataset from local Python sources"),
    "label": ("textbooks.curate.label", "label a sample of a corpus for educational value (heuristic or LLM)"),
    "classify": ("textbooks.curate.classify", "embed, train a random forest on the labels, score and filter a corpus"),
    "synth": ("textbooks.synth.cli", "exercises and textbook passages, from a teacher LLM or mined offline"),
    "audit": ("textbooks.audit.cli", "diversity and redundancy of a dataset: duplicates, n-grams, clusters"),
    "decontam": ("textbooks.decontam.cli", "n-gram, embedding and AST similarity to the benchmarks; prune, tau sweep"),
    "mix": ("textbooks.prepare.mix", "mix datasets in stated proportions (filtered code + textbooks: CodeTextbook)"),
    "tokenizer": ("textbooks.prepare.tokenizer", "train a byte-level BPE tokenizer on a corpus"),
    "pack": ("textbooks.prepare.pack", "tokenize a corpus into fixed-length token shards"),
    "train": ("textbooks.train.cli", "pretrain or finetune a model from a YAML recipe"),
    "convert": ("textbooks.model.convert", "convert weights between our checkpoints and HF Phi"),
    "generate": ("textbooks.model.generate_cli", "sample completions of prompts from a model or run"),
    "eval": ("textbooks.evaluate.cli", "pass@k on HumanEval, HumanEval+ or MBPP by running the code; graded eval"),
    "serve": ("textbooks.serve", "an OpenAI-compatible HTTP server over one of our checkpoints"),
    "report": ("textbooks.report.cli", "one self-contained HTML report of a run: funnel, training, results, audits"),
}


def build_parser(table: Table = COMMANDS) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="textbooks",
        description="Train small code models on textbook-quality data (the phi-1 recipe).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (_, summary) in table.items():
        sub.add_parser(name, help=summary, description=summary, add_help=False)
    return parser


# Failures of the machine rather than of the code: said in one line, with what survived.
STORAGE_ERRORS = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded",
                  errno.EROFS: "read-only file system", errno.EACCES: "permission denied",
                  errno.EPERM: "operation not permitted"}


class StorageError(UserError):
    """A full disk, a read-only file system or a denied access, said as what failed, on which path,
    and what the command's failed run leaves behind."""

    def __init__(self, error: OSError, after_failure: str | None):
        where = f" on {error.filename}" if error.filename else ""
        message = f"{STORAGE_ERRORS[error.errno]}{where}"
        super().__init__(f"{message}. {after_failure}" if after_failure else message)


def run_command(argv: list[str], table: Table = COMMANDS) -> int:
    """Run the command `argv` names (a user error is raised, not printed)."""
    return run_parsed(*parse_command(argv, table), argv)


def run_parsed(module, parsed: options.CommandOptions, argv: list[str]) -> int:
    """Run `module`'s entry point on its options, parsed from `argv` (which names the command to a
    refused second writer); a full disk or a denied write is a StorageError."""
    from textbooks.outputs import current_command

    token = current_command.set(" ".join(["textbooks", *argv]))
    try:
        status = module.run(parsed)  # an exit status, or what the command made (a stage's manifest)
        return status if isinstance(status, int) else 0
    except OSError as error:
        if error.errno in STORAGE_ERRORS:
            stage = getattr(module, "STAGE", None)
            after_failure = stage.after_failure if stage is not None else getattr(module, "AFTER_FAILURE", None)
            raise StorageError(error, after_failure) from error
        raise
    finally:
        current_command.reset(token)


def parse_command(argv: list[str], table: Table = COMMANDS) -> tuple[object, options.CommandOptions]:
    """The command's module and its parsed `Options`; a usage error prints it and exits 2 (argparse)."""
    if not argv or argv[0] not in table:
        build_parser(table).parse_args(argv)  # prints help or the "invalid choice" error and exits
        raise SystemExit(2)
    name, rest = argv[0], argv[1:]
    module_name, summary = table[name]
    module = importlib.import_module(module_name)
    command = argparse.ArgumentParser(prog=f"textbooks {name}", description=module.__doc__ or summary,
                                      formatter_class=argparse.RawDescriptionHelpFormatter)
    options.add_arguments(command, module.Options)
    return module, options.parse(command, module.Options, rest)
