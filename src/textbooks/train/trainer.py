"""The training loop. Pretraining and finetuning are two recipes of this one loop (paper §2.3).

Each optimizer step reads `effective_batch` rows (data.py), split over ranks and micro-batches with
gradients accumulated in between; AdamW with linear warmup and decay, gradient clipping, and fp32,
bf16 (autocast) or fp16 (autocast and a loss scaler). Periodic validation, metrics to
RUN_DIR/metrics.jsonl and TensorBoard, checkpoints from which a resumed run continues bit for bit.

Every rank builds the same initial weights from train.seed, then draws its dropout masks from its
own stream, seeded by (seed, rank): ranks see different rows and should not share masks. The
checkpoint holds each rank's RNG state, so a resume on the same number of ranks is exact.
"""

from __future__ import annotations

import contextlib
import json
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from textbooks.layout import METRICS
from textbooks.model.config import ModelConfig
from textbooks.model.phi import Phi
from textbooks.model.weights import load_model
from textbooks.model.spec import resolve_model_dir
from textbooks.records import atomic_write_text, naming_path, read_jsonl
from textbooks.train import distributed
from textbooks.train.checkpoint import (
    Checkpoint, CheckpointError, remove_partial, rng_state, save_checkpoint, set_rng_state,
)
from textbooks.train.data import DataPosition, RowOrder, batch_tensors, chunks, open_pack, rank_share, val_rows
from textbooks.train.distributed import Dist
from textbooks.train.recipe import Recipe, TrainRecipe
from textbooks.train.schedule import learning_rate

AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class TrainingRun:
    """Everything `textbooks train` resolved before training: what to train, where, and on what."""

    recipe: Recipe
    config: ModelConfig
    run_dir: Path
    device: torch.device
    world: Dist = field(default_factory=Dist)
    checkpoint: Checkpoint | None = None  # the checkpoint to resume from


@dataclass
class TrainState:
    step: int = 0  # optimizer steps done
    tokens_seen: int = 0
    position: DataPosition = field(default_factory=DataPosition)


def configure_optimizer(model: torch.nn.Module, train: TrainRecipe) -> torch.optim.AdamW:
    """AdamW that decays the weight matrices (linear and embedding) only.

    Weight decay is a prior that weights are small, which suits matrices that mix features. Biases
    and LayerNorm gains and shifts are scales and offsets: decaying a LayerNorm gain toward 0 would
    shrink every block's input rather than regularize anything.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": train.weight_decay},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    # fused: one kernel for all parameters, ~5x faster than the default on CPU
    return torch.optim.AdamW(groups, lr=train.lr, betas=(train.beta1, train.beta2), eps=train.eps, fused=True)


def initial_model(run: TrainingRun) -> Phi:
    """The weights to start from: the resumed checkpoint's, train.init_from's, or a fresh init."""
    if run.checkpoint is not None:
        return run.checkpoint.model
    torch.manual_seed(run.recipe.train.seed)  # every rank builds the same initial weights
    model = Phi(run.config)
    if run.recipe.train.init_from:
        source = load_model(resolve_model_dir(Path(run.recipe.train.init_from)))
        model.load_state_dict(source.state_dict())
    return model


def seed_rank(seed: int, rank: int, step: int = 0) -> None:
    """Give each rank its own dropout stream: ranks see different rows and should draw different masks."""
    rank_seed = int(np.random.SeedSequence([seed, rank, step]).generate_state(1)[0])
    torch.manual_seed(rank_seed)
    np.random.seed(rank_seed)
    random.seed(rank_seed)


class Trainer:
    def __init__(self, run: TrainingRun):
        self.run, self.recipe, self.world, self.device = run, run.recipe, run.world, run.device
        train = self.recipe.train
        self.train_data, self.val_data = open_pack(self.recipe.data.path)
        self.order = RowOrder(len(self.train_data), train.seed)
        self.accum = self.recipe.accumulation(self.world.world_size)
        self.model = initial_model(run).to(self.device).train()  # loaded models come in eval mode
        self.parallel = distributed.parallelism(train.parallel, self.world, self.device)
        self.wrapped = self.parallel.wrap(self.model)
        self.forward = torch.compile(self.wrapped) if train.compile else self.wrapped
        self.optimizer = configure_optimizer(self.model, train)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=train.precision == "fp16")
        self.state = self._restore(run.checkpoint) if run.checkpoint else TrainState()
        if run.checkpoint is None:
            seed_rank(train.seed, self.world.rank)
        self.metrics: MetricsLog | None = None

    def _restore(self, checkpoint: Checkpoint) -> TrainState:
        self.parallel.load_optimizer_state(self.model, self.optimizer, checkpoint.optimizer["optimizer"])
        self.scaler.load_state_dict(checkpoint.optimizer["scaler"])
        state = checkpoint.state
        if len(checkpoint.rng) == self.world.world_size:
            set_rng_state(checkpoint.rng[self.world.rank], self.device)
        else:
            print(f"warning: {checkpoint.path} was written by {len(checkpoint.rng)} ranks, this run has "
                  f"{self.world.world_size}: the data order is kept, the dropout streams are reseeded",
                  file=sys.stderr)
            seed_rank(self.recipe.train.seed, self.world.rank, state["step"])
        return TrainState(state["step"], state["tokens_seen"], DataPosition(state["epoch"], state["offset"]))

    def autocast(self) -> torch.autocast:
        precision = self.recipe.train.precision
        return torch.autocast(self.device.type, dtype=AUTOCAST_DTYPES.get(precision), enabled=precision != "fp32")

    def fit(self) -> TrainState:
        """Train to train.max_steps, logging, validating and checkpointing on the recipe's cadence."""
        train = self.recipe.train
        if self.world.is_main:
            remove_partial(self.run.run_dir)
            self.metrics = MetricsLog(self.run.run_dir, self.state.step, train.max_steps, self.recipe.log.tensorboard)
        clock = Throughput()
        while self.state.step < train.max_steps:
            loss, grad_norm, lr = self.train_step()
            clock.add(train.effective_batch * self.train_data.seq_len)
            step, last = self.state.step, self.state.step == train.max_steps
            if self.metrics:
                self.metrics.step_done()
            if step % self.recipe.log.every == 0 or last:
                self.log_step(loss, grad_norm, lr, clock.rate())
            if self.recipe.eval.every and (step % self.recipe.eval.every == 0 or last):
                val_loss = self.evaluate()
                if val_loss is not None and self.metrics:
                    self.metrics.write({"step": self.state.step, "val_loss": val_loss})
                clock.restart()
            if (self.recipe.checkpoint.every and step % self.recipe.checkpoint.every == 0) or last:
                self.save()
                clock.restart()
        if self.metrics:
            self.metrics.close()
        distributed.barrier()  # no rank tears the process group down while rank 0 still writes
        return self.state

    def train_step(self) -> tuple[torch.Tensor, torch.Tensor, float]:
        """One optimizer step over the next global batch; returns (mean loss, grad norm, lr) unsynced."""
        train = self.recipe.train
        lr = learning_rate(self.state.step, train)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        rows, self.state.position = self.order.take(self.state.position, train.effective_batch)
        micro_batches = chunks(rank_share(rows, self.world.rank, self.world.world_size), train.micro_batch)
        loss_sum = torch.zeros((), device=self.device)
        for i, micro_rows in enumerate(micro_batches):
            x, y = batch_tensors(self.train_data, micro_rows, self.device)
            with self.parallel.gradient_sync(self.wrapped, enabled=i == len(micro_batches) - 1):
                with self.autocast():
                    _, loss = self.forward(x, y)
                self.scaler.scale(loss / self.accum).backward()
            loss_sum += loss.detach().float()
        self.scaler.unscale_(self.optimizer)
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), train.grad_clip or float("inf"))
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.state.step += 1
        self.state.tokens_seen += train.effective_batch * self.train_data.seq_len
        return loss_sum / self.accum, grad_norm, lr

    def log_step(self, loss: torch.Tensor, grad_norm: torch.Tensor, lr: float, tokens_per_s: float) -> None:
        # the only host syncs of a step, and only on logging steps
        loss_value = distributed.all_reduce_mean(loss).item()
        grad_norm_value = self.parallel.grad_norm(grad_norm).item()
        if self.metrics:
            self.metrics.write({"step": self.state.step, "loss": loss_value, "lr": lr, "grad_norm": grad_norm_value,
                                "tokens_seen": self.state.tokens_seen, "tokens_per_s": round(tokens_per_s, 1)})

    @torch.no_grad()
    def evaluate(self) -> float | None:
        """Mean next-token loss on the leading rows of the val split (dropout off), or None without one."""
        if self.val_data is None:
            return None
        micro_batch, world = self.recipe.train.micro_batch, self.world
        rows = val_rows(len(self.val_data), self.recipe.eval.batches, micro_batch, world.rank, world.world_size)
        totals = torch.zeros(2, device=self.device)  # (sum of row losses, rows)
        self.wrapped.eval()
        for micro_rows in chunks(rows, micro_batch):
            x, y = batch_tensors(self.val_data, micro_rows, self.device)
            with self.autocast():
                _, loss = self.wrapped(x, y)  # not the compiled forward: eval mode would recompile it
            count = torch.tensor(float(len(micro_rows)), device=self.device)
            totals += torch.stack([loss.float() * count, count])
        self.wrapped.train()
        totals = distributed.all_reduce_sum(totals)
        return (totals[0] / totals[1]).item() if totals[1] > 0 else None

    def save(self) -> None:
        """Write a checkpoint of this step (rank 0 writes; under FSDP every rank helps gather).

        A failed write (CheckpointError) ends every rank, not only rank 0: the others would wait for
        it in their next collective.
        """
        model = self.parallel.savable_model(self.model)
        optimizer = {"optimizer": self.parallel.optimizer_state(self.model, self.optimizer),
                     "scaler": self.scaler.state_dict()}
        rng = distributed.gather_to_main(rng_state(self.device), self.world)
        failure = self._write_checkpoint(model, optimizer, rng) if self.world.is_main else None
        if distributed.broadcast_from_main(failure is not None, self.world):
            self._stop_after_failed_save(failure)

    def _write_checkpoint(self, model: Phi, optimizer: dict, rng: list[dict]) -> CheckpointError | None:
        position = self.state.position
        state = {"step": self.state.step, "tokens_seen": self.state.tokens_seen, "epoch": position.epoch,
                 "offset": position.offset, "recipe_hash": self.recipe.hash(), "world_size": self.world.world_size}
        try:
            save_checkpoint(self.run.run_dir, self.state.step, model, optimizer, state, rng,
                            self.recipe.checkpoint.keep_last, tokenizer=self.train_data.tokenizer_path)
        except CheckpointError as e:
            return e
        return None

    def _stop_after_failed_save(self, failure: CheckpointError | None) -> None:
        """Raise on every rank: rank 0's `failure`, and on the others a note pointing to it."""
        if self.metrics:
            self.metrics.close()  # else the progress bar is drawn again at exit, after the error's line
        if failure:
            raise failure
        # Wait for rank 0 to say why and exit: torchrun stops the other ranks when one exits, so this one
        # leaving first could cut rank 0 off mid-message. Rank 0 leaving ends this barrier (gloo), or
        # torchrun ends this rank (NCCL).
        with contextlib.suppress(RuntimeError):
            distributed.barrier()
        raise CheckpointError(f"rank 0 could not write the checkpoint of step {self.state.step} "
                              "(its message says why); this rank stops with it")


class Throughput:
    """Tokens per second since the last restart (evaluation and checkpoint time excluded)."""

    def __init__(self):
        self.restart()

    def restart(self) -> None:
        self.start, self.tokens = time.perf_counter(), 0

    def add(self, tokens: int) -> None:
        self.tokens += tokens

    def rate(self) -> float:
        rate = self.tokens / max(time.perf_counter() - self.start, 1e-9)
        self.restart()
        return rate


class MetricsLog:
    """metrics.jsonl (one JSON object per record), TensorBoard scalars and the progress bar (rank 0)."""

    def __init__(self, run_dir: Path, start_step: int, max_steps: int, tensorboard: bool):
        self.path, self.tensorboard_dir = run_dir / METRICS, run_dir / "tensorboard"
        keep_records_until(self.path, start_step)
        self.file = open(self.path, "a", encoding="utf-8")
        self.writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter  # imports tensorboard: only when asked for

            quiet_tensorboard_writer_threads()
            with naming_path(self.tensorboard_dir):
                self.writer = SummaryWriter(str(self.tensorboard_dir), purge_step=start_step or None)
        self.bar = tqdm(total=max_steps, initial=start_step, unit="step", desc="train", file=sys.stderr,
                        dynamic_ncols=True)

    def step_done(self) -> None:
        self.bar.update()

    def write(self, record: dict) -> None:
        with naming_path(self.path):
            self.file.write(json.dumps(record) + "\n")
            self.file.flush()  # a killed run keeps every record it logged
        if "loss" in record:
            self.bar.set_postfix(loss=f"{record['loss']:.4f}", tok_s=f"{record['tokens_per_s']:.0f}")
        if self.writer:
            with naming_path(self.tensorboard_dir):
                for key, value in record.items():
                    if key != "step":
                        self.writer.add_scalar(f"val/{key}" if key.startswith("val") else f"train/{key}",
                                               value, record["step"])

    def close(self) -> None:
        self.bar.close()
        with naming_path(self.path):
            self.file.close()
        if self.writer:
            with naming_path(self.tensorboard_dir):
                self.writer.close()


def quiet_tensorboard_writer_threads() -> None:
    """Leave a failed TensorBoard write (a full disk) to the writer's flush and close, which raise it
    in this thread with its path named; its writer thread would also print it as a traceback."""
    previous = threading.excepthook
    if getattr(previous, "quiets_tensorboard", False):
        return

    def hook(args) -> None:
        if type(args.thread).__name__ != "_AsyncWriterThread" or not issubclass(args.exc_type, OSError):
            previous(args)

    hook.quiets_tensorboard = True
    threading.excepthook = hook


def keep_records_until(path: Path, step: int) -> None:
    """Drop metrics a previous, killed run logged after the checkpoint this run resumes from."""
    if not path.exists():
        return
    # complete lines only: the last may have been cut short by the kill
    kept = [row for _, row in read_jsonl(path, complete_lines_only=True) if row["step"] <= step]
    atomic_write_text(path, "".join(json.dumps(row) + "\n" for row in kept))
