"""Convert weights between our model directories and transformers' PhiForCausalLM layout.

  textbooks convert --from-hf HF_DIR OUT       an HF Phi directory (e.g. microsoft/phi-1) -> our model directory
  textbooks convert --to-hf CHECKPOINT OUT     our model directory, training checkpoint or training run
                                               (its latest checkpoint) -> an HF directory that
                                               PhiForCausalLM.from_pretrained loads
"""

from __future__ import annotations

import typing
from pathlib import Path

import torch

from textbooks.model.hf import export_hf, export_hf_tokenizer, load_hf_dir
from textbooks.model.pretrained import recorded_tokenizer
from textbooks.model.spec import our_model_dir, resolve_model
from textbooks.model.weights import load_model, save_model
from textbooks.options import CommandOptions, opt
from textbooks.outputs import check_output, claim_output

AFTER_FAILURE = "Each file is written whole or not at all: rerun the command once the cause is fixed."
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class Options(CommandOptions):
    from_hf: Path | None = opt(None, help="an HF PhiForCausalLM directory to import", metavar="HF_DIR",
                               one_of="direction")
    to_hf: Path | None = opt(None, help="our model directory, training checkpoint or training run directory to "
                                        "export", metavar="CHECKPOINT", one_of="direction")
    out: Path = opt(help="the directory to write", metavar="OUT", positional=True)
    dtype: typing.Literal[tuple(sorted(DTYPES))] | None = opt(None, help="cast the weights to this dtype (default: "
                                                                         "keep the stored dtype)")


def run(options: Options) -> int:
    source, out, to_hf = setup(options)
    main(source, out, to_hf, DTYPES.get(options.dtype))
    return 0


def setup(options: Options) -> tuple[Path, Path, bool]:
    """Check the source is the kind of model its flag says and the output does not overwrite it;
    resolve a run to its latest checkpoint."""
    check_output(options.out, "model")  # another kind of output there is refused before any model is read
    to_hf = options.to_hf is not None
    source = our_model_dir(options.to_hf, "--to-hf") if to_hf else hf_model_dir(options.from_hf)
    if options.out.resolve() == source.resolve():
        raise ValueError(f"output {options.out} is the source directory; choose another")
    return source, options.out, to_hf


def hf_model_dir(path: Path) -> Path:
    """`path`, checked to be a transformers model directory."""
    if not path.is_dir():
        raise NotADirectoryError(f"--from-hf {path} is not a directory")
    if resolve_model(path).kind != "hf":
        raise ValueError(f"--from-hf {path} is one of our models already; `--to-hf {path}` exports it")
    return path


def main(source: Path, out: Path, to_hf: bool, dtype: torch.dtype | None = None) -> None:
    """Convert `source` to `out` (held: textbooks.outputs): ours -> HF when `to_hf`, else HF -> ours."""
    tokenizer = recorded_tokenizer(source) if to_hf else None  # an HF directory keeps its own, which we load
    with claim_output(out, "model") as out:
        model = load_model(source, dtype=dtype) if to_hf else load_hf_dir(source, dtype=dtype)
        if to_hf:
            export_hf(model, out)
            if tokenizer:
                export_hf_tokenizer(tokenizer, model.config, out)
        else:
            save_model(model, out)
    layout = "HF PhiForCausalLM" if to_hf else "textbooks model"
    told = f", tokenizer {tokenizer}" if tokenizer else ", no tokenizer (the model records none)" if to_hf else ""
    print(f"wrote {out} ({layout}, {model.num_params():,} parameters{told})")
