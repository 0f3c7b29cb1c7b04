"""Training recipes: a YAML file of six sections, loaded into typed dataclasses.

    model:       preset (a name from textbooks.model.config.PRESETS) plus any ModelConfig field
    data:        path (a `textbooks pack` directory)
    train:       steps, batch, optimizer, precision, seed, init_from, device, parallel, compile
    eval:        every, batches
    checkpoint:  every, keep_last
    log:         every, tensorboard

Pretraining and finetuning are two recipes of one loop (PAPER.md §3). Every value can be replaced
from the command line with `--section.key value`; values are parsed by the field's type, and an
unknown section or key is an error that names it.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml

from textbooks.model.config import PRESETS, ModelConfig
from textbooks.records import atomic_write_text, config_hash

_BOOLS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}
_NULLS = ("null", "none", "~")
RUN_RECIPE = "recipe.yaml"


class RecipeError(ValueError):
    """A recipe file or override that cannot be used; the message names the offending key."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise RecipeError(message)


@dataclass
class ModelRecipe:
    """A preset, plus ModelConfig fields that replace the preset's (dropout, block_size, ...).

    vocab_size defaults to the pack's vocabulary padded up to a multiple of 64. With
    train.init_from the architecture comes from that checkpoint, so `preset` must be left out.
    """

    preset: str | None = None
    overrides: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        _require(self.preset is None or self.preset in PRESETS,
                 f"model.preset {self.preset!r} is not a preset; choose one of {', '.join(PRESETS)}")


@dataclass
class DataRecipe:
    path: str = ""  # a `textbooks pack` directory; finetuning data uses the same format

    def __post_init__(self) -> None:
        _require(bool(self.path), "data.path is required: the `textbooks pack` directory to train on")


@dataclass
class TrainRecipe:
    max_steps: int = 1000
    effective_batch: int = 64  # sequences per optimizer step, over all ranks and micro-steps
    micro_batch: int = 8  # sequences per forward/backward on one rank
    lr: float = 1e-3
    min_lr: float = 1e-4  # the end of the linear decay
    warmup_steps: int = 100
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    grad_clip: float = 1.0  # max global gradient norm; 0 turns clipping off
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    seed: int = 1337
    init_from: str | None = None  # a model dir, checkpoint dir or run dir to start from (finetuning)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    parallel: Literal["ddp", "fsdp"] = "ddp"  # how torchrun ranks share the work
    compile: bool = False  # torch.compile the model

    def __post_init__(self) -> None:
        for name in ("max_steps", "effective_batch", "micro_batch"):
            _require(getattr(self, name) > 0, f"train.{name} must be positive, got {getattr(self, name)}")
        _require(0 <= self.min_lr <= self.lr, f"train.min_lr {self.min_lr} must be in [0, train.lr={self.lr}]")
        for name in ("warmup_steps", "weight_decay", "grad_clip", "eps", "seed"):
            _require(getattr(self, name) >= 0, f"train.{name} must not be negative, got {getattr(self, name)}")


@dataclass
class EvalRecipe:
    every: int = 200  # steps between validation losses; 0 never
    batches: int = 20  # micro-batches of val rows per evaluation, over all ranks


@dataclass
class CheckpointRecipe:
    every: int = 500  # steps between checkpoints (one is always written at the end)
    keep_last: int = 3  # 0 keeps every checkpoint


@dataclass
class LogRecipe:
    every: int = 10  # steps between metrics records
    tensorboard: bool = True


@dataclass
class Recipe:
    model: ModelRecipe = field(default_factory=ModelRecipe)
    data: DataRecipe = field(default_factory=DataRecipe)
    train: TrainRecipe = field(default_factory=TrainRecipe)
    eval: EvalRecipe = field(default_factory=EvalRecipe)
    checkpoint: CheckpointRecipe = field(default_factory=CheckpointRecipe)
    log: LogRecipe = field(default_factory=LogRecipe)

    def __post_init__(self) -> None:
        for section in ("eval", "checkpoint", "log"):
            for key, value in dataclasses.asdict(getattr(self, section)).items():
                _require(not isinstance(value, int) or value >= 0, f"{section}.{key} must not be negative, got {value}")
        _require(self.log.every > 0, "log.every must be positive")
        self.accumulation(world_size=1)
        _require((self.model.preset is None) != (self.train.init_from is None),
                 "give exactly one of model.preset (train from scratch) and train.init_from (start from a checkpoint)")

    def to_dict(self) -> dict:
        sections = {name: dataclasses.asdict(getattr(self, name)) for name in SECTIONS if name != "model"}
        model = {"preset": self.model.preset, **self.model.overrides}
        return {"model": model, **sections}

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


SECTIONS: dict[str, type] = {"model": ModelRecipe, "data": DataRecipe, "train": TrainRecipe, "eval": EvalRecipe,
                             "checkpoint": CheckpointRecipe, "log": LogRecipe}
# may change between a run and its resume: they alter how long and how often, not what is computed
RESUMABLE_CHANGES = ("train.max_steps", "eval.", "checkpoint.", "log.")


def hashed_part(recipe: dict) -> dict:
    """The recipe flattened to dotted keys, without the keys a resume may change."""
    flat = {f"{section}.{key}": value for section, values in recipe.items() for key, value in values.items()}
    return {key: value for key, value in flat.items() if not key.startswith(RESUMABLE_CHANGES)}


def valid_keys(section: str) -> list[str]:
    if section == "model":
        return ["preset", *(f.name for f in dataclasses.fields(ModelConfig))]
    return [f.name for f in dataclasses.fields(SECTIONS[section])]


def _field_types(section: str) -> dict[str, type]:
    if section == "model":
        return {"preset": str | None, **typing.get_type_hints(ModelConfig)}
    return typing.get_type_hints(SECTIONS[section])


def _check_key(section: str, key: str, where: str) -> None:
    _require(section in SECTIONS, f"{where}: unknown section {section!r}; sections are {', '.join(SECTIONS)}")
    _require(key in valid_keys(section),
             f"{where}: unknown key {key!r} in section {section}; valid keys: {', '.join(valid_keys(section))}")


def coerce(value, kind, name: str):
    """`value` as type `kind` (bool, int, float, str, a Literal or X | None), parsing strings."""
    options = typing.get_args(kind)
    if typing.get_origin(kind) is Literal:
        _require(value in options, f"{name}: {value!r} is not one of {', '.join(map(str, options))}")
        return value
    if type(None) in options:
        if value is None or (isinstance(value, str) and value.lower() in _NULLS):
            return None
        kind = next(option for option in options if option is not type(None))
    if isinstance(value, str) and kind is not str:
        value = _parse_string(value, kind, name)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    _require(type(value) is kind, f"{name}: expected {kind.__name__}, got {value!r}")
    return value


def _parse_string(text: str, kind: type, name: str):
    if kind is bool:
        _require(text.lower() in _BOOLS, f"{name}: expected true or false, got {text!r}")
        return _BOOLS[text.lower()]
    try:
        return kind(text)
    except ValueError:
        raise RecipeError(f"{name}: expected {kind.__name__}, got {text!r}") from None


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
        _check_key(section, key, flag)
        parsed.append((section, key, value))
    return parsed


def recipe_from_dict(raw: dict, source: str = "recipe") -> Recipe:
    """A validated Recipe from a dict of sections; errors are prefixed with `source`."""
    _require(isinstance(raw, dict), f"{source}: a recipe is a mapping of sections, got {type(raw).__name__}")
    sections = {}
    for section, values in raw.items():
        _require(section in SECTIONS, f"{source}: unknown section {section!r}; sections are {', '.join(SECTIONS)}")
        values = values or {}
        _require(isinstance(values, dict), f"{source}: section {section} must be a mapping of keys to values")
        types = _field_types(section)
        for key in values:
            _check_key(section, key, source)
        sections[section] = {key: coerce(value, types[key], f"{section}.{key}") for key, value in values.items()}
    model = dict(sections.pop("model", {}))
    preset = model.pop("preset", None)
    try:
        return Recipe(model=ModelRecipe(preset, model),
                      **{name: SECTIONS[name](**values) for name, values in sections.items()})
    except RecipeError as e:
        raise RecipeError(f"{source}: {e}") from None


def load_recipe(path: str | Path, overrides: list[str] = ()) -> Recipe:
    """Load a recipe file (or a packaged recipe by name) and apply `--section.key value` overrides."""
    path = recipe_path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise RecipeError(f"{path}: not valid YAML: {e}") from None
    _require(isinstance(raw, dict), f"{path}: a recipe is a mapping of sections")
    for section, key, value in parse_overrides(list(overrides)):
        raw[section] = {**(raw.get(section) or {}), key: value}
    return recipe_from_dict(raw, str(path))


def packaged_recipes() -> list[str]:
    configs = resources.files("textbooks") / "configs"
    return sorted(p.name for p in configs.iterdir() if p.name.endswith(".yaml") and p.name != "default.yaml")


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
    atomic_write_text(run_dir / RUN_RECIPE, yaml.safe_dump(recipe.to_dict(), sort_keys=False))


def recipe_changes(run_dir: Path, recipe: Recipe) -> list[str]:
    """The hashed keys in which `recipe` differs from the one saved in RUN_DIR, as "key: old -> new"."""
    path = run_dir / RUN_RECIPE
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
    return dataclasses.replace(
        recipe,
        model=ModelRecipe(recipe.model.preset, config.to_dict()),
        data=DataRecipe(str(Path(recipe.data.path).resolve())),
        train=dataclasses.replace(recipe.train, init_from=init_from),
    )
