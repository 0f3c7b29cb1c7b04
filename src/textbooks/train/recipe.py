"""Training recipes: a YAML file of six sections, validated by pydantic models.

    model:       preset (a name from textbooks.model.config.PRESETS) plus any ModelConfig field
    data:        path (a `textbooks pack` directory)
    train:       steps, batch, optimizer, precision, seed, init_from, device, parallel, compile
    eval:        every, batches
    checkpoint:  every, keep_last
    log:         every, tensorboard

Pretraining and finetuning are two recipes of one loop (paper §2.3). Every value can be replaced
from the command line with `--section.key value`; pydantic parses the value by the field's type, and
an unknown section or key, or a bad value, is a one-line RecipeError that names it.
"""

from __future__ import annotations

import typing
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel, ConfigDict, Field, NonNegativeFloat, NonNegativeInt, PositiveInt, ValidationError, ValidationInfo,
    create_model, field_validator, model_validator,
)

from textbooks.layout import RECIPE
from textbooks.model.config import PRESETS, ModelConfig
from textbooks.records import atomic_write_text, config_hash

NULLS = ("null", "none", "~")


class RecipeError(ValueError):
    """A recipe file or override that cannot be used; the message names the offending key."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise RecipeError(message)


class Section(BaseModel):
    """A part of a recipe: unknown keys are errors; command-line strings are parsed by the field's type."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _empty_is_default(cls, values):
        return {} if values is None else values  # `train:` with nothing under it, as YAML reads it

    @field_validator("*", mode="before")
    @classmethod
    def _bools_and_nulls(cls, value, info: ValidationInfo):
        kind = cls.model_fields[info.field_name].annotation
        if isinstance(value, bool) and kind in (int, float):  # pydantic would read `true` as 1
            raise ValueError(f"expected {kind.__name__}")
        if isinstance(value, str) and value.lower() in NULLS and type(None) in typing.get_args(kind):
            return None  # `--train.init_from null`: pydantic knows no null spelled as a string
        return value


class _Preset(Section):
    preset: Literal[tuple(PRESETS)] | None = None

    @property
    def overrides(self) -> dict:
        """The ModelConfig fields the recipe sets, which replace the preset's (or train.init_from's)."""
        return self.model_dump(exclude_unset=True, exclude={"preset"})


# A preset plus any ModelConfig field; a field left out (default None) keeps the preset's value.
# vocab_size defaults to the pack's vocabulary padded up to a multiple of 64. With train.init_from
# the architecture comes from that checkpoint, so `preset` must be left out.
ModelRecipe = create_model("ModelRecipe", __base__=_Preset,
                           **{name: (kind, None) for name, kind in typing.get_type_hints(ModelConfig).items()})


class DataRecipe(Section):
    path: str = Field(min_length=1)  # a `textbooks pack` directory; finetuning data uses the same format


class TrainRecipe(Section):
    max_steps: PositiveInt = 1000
    effective_batch: PositiveInt = 64  # sequences per optimizer step, over all ranks and micro-steps
    micro_batch: PositiveInt = 8  # sequences per forward/backward on one rank
    lr: NonNegativeFloat = 1e-3
    min_lr: NonNegativeFloat = 1e-4  # the end of the linear decay
    warmup_steps: NonNegativeInt = 100
    weight_decay: NonNegativeFloat = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    eps: NonNegativeFloat = 1e-8
    grad_clip: NonNegativeFloat = 1.0  # max global gradient norm; 0 turns clipping off
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "fp32"  # auto: bf16 where native, else fp32
    seed: NonNegativeInt = 1337
    init_from: str | None = None  # a model dir, checkpoint dir or run dir to start from (finetuning)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    parallel: Literal["ddp", "fsdp"] = "ddp"  # how torchrun ranks share the work
    compile: bool = False  # torch.compile the model

    @field_validator("min_lr")
    @classmethod
    def _min_lr_at_most_lr(cls, min_lr: float, info: ValidationInfo) -> float:
        lr = info.data.get("lr")  # absent when lr itself is invalid: that error is reported instead
        if lr is not None and min_lr > lr:
            raise ValueError(f"must be at most train.lr {lr}")
        return min_lr


class EvalRecipe(Section):
    every: NonNegativeInt = 200  # steps between validation losses; 0 never
    batches: NonNegativeInt = 20  # micro-batches of val rows per evaluation, over all ranks


class CheckpointRecipe(Section):
    every: NonNegativeInt = 500  # steps between checkpoints (one is always written at the end)
    keep_last: NonNegativeInt = 3  # 0 keeps every checkpoint


class LogRecipe(Section):
    every: PositiveInt = 10  # steps between metrics records
    tensorboard: bool = True


class Recipe(Section):
    model: ModelRecipe = Field(default_factory=ModelRecipe)
    data: DataRecipe = Field(default={}, validate_default=True)  # so a recipe without it says data.path is required
    train: TrainRecipe = Field(default_factory=TrainRecipe)
    eval: EvalRecipe = Field(default_factory=EvalRecipe)
    checkpoint: CheckpointRecipe = Field(default_factory=CheckpointRecipe)
    log: LogRecipe = Field(default_factory=LogRecipe)

    @model_validator(mode="after")
    def _consistent(self) -> Recipe:
        self.accumulation(world_size=1)
        _require((self.model.preset is None) != (self.train.init_from is None),
                 "give exactly one of model.preset (train from scratch) and train.init_from (start from a checkpoint)")
        return self

    def to_dict(self) -> dict:
        return {**self.model_dump(), "model": {"preset": self.model.preset, **self.model.overrides}}

    def accumulation(self, world_size: int) -> int:
        """Micro-steps per optimizer step on each rank: effective_batch / (micro_batch x world_size)."""
        per_step = self.train.micro_batch * world_size
        _require(self.train.effective_batch % per_step == 0,
                 f"train.effective_batch {self.train.effective_batch} is not a multiple of train.micro_batch "
                 f"{self.train.micro_batch} x {world_size} ranks")
        return self.train.effective_batch // per_step

    def hash(self) -> str:
        """What a resumed run must share with the run it continues: all but the length and cadences."""
        return config_hash(hashed_part(self.to_dict()))


# may change between a run and its resume: they alter how long and how often, not what is computed
RESUMABLE_CHANGES = ("train.max_steps", "eval.", "checkpoint.", "log.")


def hashed_part(recipe: dict) -> dict:
    """The recipe flattened to dotted keys, without the keys a resume may change."""
    flat = {f"{section}.{key}": value for section, values in recipe.items() for key, value in values.items()}
    return {key: value for key, value in flat.items() if not key.startswith(RESUMABLE_CHANGES)}


def _one_line(error: ValidationError, source: str, overridden: set[str]) -> RecipeError:
    """Pydantic's first error as one line, said from where the value came: its --flag, or the file."""
    first = error.errors()[0]
    loc = [str(part) for part in first["loc"]]
    key = ".".join(loc)
    # the flag that set this key, or that named this unknown section
    flag = next((f"--{dotted}" for dotted in sorted(overridden) if key and f"{dotted}.".startswith(f"{key}.")), None)
    if first["type"] == "extra_forbidden":
        sections = Recipe.model_fields
        unknown = (f"unknown section {loc[0]!r}; sections are {', '.join(sections)}" if len(loc) == 1 else
                   f"unknown key {loc[1]!r} in section {loc[0]}; "
                   f"valid keys: {', '.join(sections[loc[0]].annotation.model_fields)}")
        return RecipeError(f"{flag or source}: {unknown}")
    where = flag or (f"{source}: {key}" if key else source)
    if first["type"] == "missing":
        return RecipeError(f"{where} is required")
    problem = first["ctx"]["error"] if first["type"] == "value_error" else first["msg"][0].lower() + first["msg"][1:]
    return RecipeError(f"{where}: {problem} (got {first['input']!r})" if key else f"{where}: {problem}")


def parse_overrides(args: list[str]) -> list[tuple[str, str, str]]:
    """["--train.lr", "3e-4", "--data.path=x"] -> [("train", "lr", "3e-4"), ("data", "path", "x")]."""
    parsed, i = [], 0
    while i < len(args):
        flag = args[i]
        _require(flag.startswith("--") and "." in flag,
                 f"unexpected argument {flag!r}: recipe overrides look like --section.key value")
        if "=" in flag:
            flag, value = flag.split("=", 1)
            i += 1
        else:
            _require(i + 1 < len(args), f"{flag}: missing value")
            value, i = args[i + 1], i + 2
        section, key = flag[2:].split(".", 1)
        parsed.append((section, key, value))
    return parsed


def recipe_from_dict(raw: dict, source: str = "recipe", overridden: set[str] = frozenset()) -> Recipe:
    """A validated Recipe from a dict of sections; errors name `source`, or the flag of an `overridden` key."""
    try:
        return Recipe.model_validate(raw)
    except ValidationError as e:
        raise _one_line(e, source, overridden) from None


def load_recipe(path: str | Path, overrides: list[str] = ()) -> Recipe:
    """Load a recipe file (or a packaged recipe by name) and apply `--section.key value` overrides."""
    path = recipe_path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise RecipeError(f"{path}: not valid YAML: {e}") from None
    _require(isinstance(raw, dict), f"{path}: a recipe is a mapping of sections")
    parsed = parse_overrides(list(overrides))
    for section, key, value in parsed:
        raw[section] = {**(raw.get(section) or {}), key: value}
    return recipe_from_dict(raw, str(path), {f"{section}.{key}" for section, key, _ in parsed})


def packaged_recipes() -> list[str]:
    """The training recipes shipped in textbooks/configs; the pipeline recipes beside them have `stages`."""
    configs = resources.files("textbooks") / "configs"
    return sorted(p.name for p in configs.iterdir()
                  if p.name.endswith(".yaml") and "stages" not in (yaml.safe_load(p.read_text(encoding="utf-8")) or {}))


def recipe_path(name: str | Path) -> Path:
    """A recipe file: an existing path, or the name of a recipe shipped in textbooks/configs."""
    path = Path(name)
    if path.exists():
        return path
    filename = path.name if path.suffix == ".yaml" else f"{path.name}.yaml"
    if filename in packaged_recipes():
        return Path(str(resources.files("textbooks") / "configs" / filename))
    raise RecipeError(f"recipe {name} does not exist (packaged recipes: {', '.join(packaged_recipes())})")


def save_run_recipe(run_dir: Path, recipe: Recipe) -> None:
    """Write the (resolved) recipe into RUN_DIR/recipe.yaml: `--recipe RUN_DIR/recipe.yaml` reruns it."""
    atomic_write_text(run_dir / RECIPE, yaml.safe_dump(recipe.to_dict(), sort_keys=False))


def recipe_changes(run_dir: Path, recipe: Recipe) -> list[str]:
    """The hashed keys in which `recipe` differs from the one saved in RUN_DIR, as "key: old -> new"."""
    path = run_dir / RECIPE
    if not path.exists():
        return [f"{path} is missing"]
    saved = hashed_part(load_recipe(path).to_dict())
    current = hashed_part(recipe.to_dict())
    return [f"{key}: {saved.get(key)!r} -> {current.get(key)!r}"
            for key in sorted(set(saved) | set(current)) if saved.get(key) != current.get(key)]


def resolve_model_config(recipe: Recipe, pack_vocab: int, seq_len: int, init_config: dict | None = None) -> ModelConfig:
    """The model's config: the preset's (or train.init_from's, `init_config`) with the recipe's overrides.

    vocab_size defaults to the pack's vocabulary padded up to a multiple of 64, a matrix shape
    that GPU kernels handle well.
    """
    if init_config is not None:
        base = init_config
    else:
        base = {**PRESETS[recipe.model.preset].to_dict(), "vocab_size": -(-pack_vocab // 64) * 64}
    try:
        config = ModelConfig.from_dict({**base, **recipe.model.overrides})
    except ValueError as e:
        raise RecipeError(f"model: {e}") from None
    _require(config.vocab_size >= pack_vocab,
             f"model.vocab_size {config.vocab_size} is smaller than the pack's vocabulary of {pack_vocab}")
    _require(config.block_size >= seq_len, f"the pack's rows are {seq_len} tokens, longer than model.block_size "
                                           f"{config.block_size} (set --model.block_size {seq_len})")
    return config


def resolved_recipe(recipe: Recipe, config: ModelConfig) -> Recipe:
    """The recipe as a run uses it: absolute paths, and every model field spelled out."""
    init_from = recipe.train.init_from and str(Path(recipe.train.init_from).resolve())
    return recipe.model_copy(update={
        "model": ModelRecipe(preset=recipe.model.preset, **config.to_dict()),
        "data": DataRecipe(path=str(Path(recipe.data.path).resolve())),
        "train": recipe.train.model_copy(update={"init_from": init_from}),
    })
