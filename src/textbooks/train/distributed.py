"""Where training runs: the device, and torchrun's ranks (one process per device, ranks from the environment).

DDP keeps a full model on every rank and all-reduces gradients once per optimizer step, never on
accumulation micro-steps. FSDP (`train.parallel: fsdp`) shards parameters, gradients and optimizer
state per transformer block, for models whose training state does not fit on one device (phi-1's
1.3B parameters take ~21 GB as fp32 weights, gradients and AdamW moments).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from textbooks.model.phi import Phi
from textbooks.train.recipe import RecipeError, TrainRecipe


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def resolve_device_type(train: TrainRecipe) -> str:
    """The device type, cuda or cpu, that train.device asks for ("auto": CUDA when there is one)."""
    wanted = train.device
    if wanted == "auto":
        wanted = "cuda" if torch.cuda.is_available() else "cpu"
    if wanted == "cuda" and not torch.cuda.is_available():
        raise RecipeError("train.device is cuda, but no CUDA device is available (use --train.device cpu)")
    if wanted == "cpu" and train.precision == "fp16":
        raise RecipeError("train.precision fp16 needs a CUDA device; on CPU use --train.precision fp32 or bf16")
    return wanted


def init_distributed(device_type: str) -> tuple[Dist, torch.device]:
    """Join torchrun's process group (NCCL on CUDA, gloo on CPU) when there is one; this rank's device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        world = Dist()
    else:
        world = Dist(int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"]), world_size)
        if device_type == "cuda":
            torch.cuda.set_device(world.local_rank)
        if not dist.is_initialized():
            # torch.distributed.nn's collectives take group.WORLD as a default argument, evaluated on
            # import: imported after the group exists (DDP's constructor imports it, via torch._dynamo),
            # they would keep it alive past shutdown(). Imported first, their default is None.
            importlib.import_module("torch.distributed.nn")
            dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    device = torch.device("cuda", world.local_rank) if device_type == "cuda" else torch.device("cpu")
    return world, device


def set_threads(device: torch.device) -> None:
    """Share the cores this process may use among the ranks on this machine, unless OMP_NUM_THREADS is set.

    torch's default counts the machine's cores, even those a container or `taskset` keeps from us.
    """
    if device.type != "cpu" or "OMP_NUM_THREADS" in os.environ:
        return
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    cores = min(torch.get_num_threads(), allowed)
    torch.set_num_threads(max(1, cores // int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def shutdown() -> None:
    """Free the process group now, while the interpreter is whole: gloo's worker threads are joined here.

    Left to interpreter exit, a worker that lets go of the last collective's tensors late (on a busy
    machine) needs the GIL to free them, and CPython ends such a thread inside a C++ destructor:
    std::terminate, and a finished run exits with SIGABRT. So nothing may hold the group past
    destroy_process_group (see init_distributed). Under FSDP, DTensor's caches still hold it.
    """
    if dist.is_initialized():
        gc.collect()  # first free DDP's reducer, which holds on to the process group
        dist.destroy_process_group()


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    if dist.is_initialized():
        dist.all_reduce(tensor)
    return tensor


def all_reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    return all_reduce_sum(tensor) / (dist.get_world_size() if dist.is_initialized() else 1)


def gather_to_main(obj, world: Dist) -> list | None:
    """Every rank's `obj`, as a list on rank 0 (None elsewhere)."""
    if world.world_size == 1:
        return [obj]
    gathered = [None] * world.world_size if world.is_main else None
    dist.gather_object(obj, gathered, dst=0)
    return gathered


def broadcast_from_main(obj, world: Dist):
    """Rank 0's `obj`, on every rank."""
    if world.world_size == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


class SingleProcess:
    """How the model is wrapped, synchronized and checkpointed; one process needs nothing of it."""

    def wrap(self, model: Phi) -> nn.Module:
        return model

    def gradient_sync(self, wrapped: nn.Module, enabled: bool) -> contextlib.AbstractContextManager:
        """Context of a micro-step's forward and backward; gradients are all-reduced only when `enabled`."""
        return contextlib.nullcontext()

    def grad_norm(self, norm: torch.Tensor) -> torch.Tensor:
        return norm

    def savable_model(self, model: Phi) -> Phi:
        """A module holding the full weights, for rank 0 to save."""
        return model

    def optimizer_state(self, model: Phi, optimizer: torch.optim.Optimizer) -> dict:
        return optimizer.state_dict()

    def load_optimizer_state(self, model: Phi, optimizer: torch.optim.Optimizer, state: dict) -> None:
        optimizer.load_state_dict(state)


class DataParallel(SingleProcess):
    def __init__(self, device: torch.device):
        self.device = device

    def wrap(self, model: Phi) -> nn.Module:
        # the rotary buffers are computed identically on every rank: broadcasting them each forward is waste
        return DistributedDataParallel(model, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                                       forward_sync_buffers=False)

    def gradient_sync(self, wrapped: DistributedDataParallel, enabled: bool) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext() if enabled else wrapped.no_sync()


class FullyShardedParallel(SingleProcess):
    """FSDP2 (`fully_shard`), one unit per block. Its modules are imported only here: ~1 s of start-up."""

    def wrap(self, model: Phi) -> nn.Module:
        from torch.distributed.fsdp import fully_shard

        for block in model.blocks:
            fully_shard(block)
        return fully_shard(model)

    def gradient_sync(self, wrapped: nn.Module, enabled: bool) -> contextlib.AbstractContextManager:
        wrapped.set_requires_gradient_sync(enabled)
        return contextlib.nullcontext()

    def grad_norm(self, norm: torch.Tensor) -> torch.Tensor:
        return norm.full_tensor()  # a replicated DTensor

    def savable_model(self, model: Phi) -> Phi:
        """Gathers the shards onto rank 0's CPU (every rank must call this); other ranks get an empty shell."""
        from torch.distributed.checkpoint.state_dict import get_model_state_dict

        state = get_model_state_dict(model, options=self._full_state())
        with torch.device("meta"):
            full = Phi(model.config)
        if state:
            full.load_state_dict(state, assign=True)
        return full

    def optimizer_state(self, model: Phi, optimizer: torch.optim.Optimizer) -> dict:
        from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

        return get_optimizer_state_dict(model, optimizer, options=self._full_state())

    def load_optimizer_state(self, model: Phi, optimizer: torch.optim.Optimizer, state: dict) -> None:
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

        set_optimizer_state_dict(model, optimizer, state, options=StateDictOptions(full_state_dict=True))

    @staticmethod
    def _full_state():
        from torch.distributed.checkpoint.state_dict import StateDictOptions

        return StateDictOptions(full_state_dict=True, cpu_offload=True)


def parallelism(parallel: str, world: Dist, device: torch.device) -> SingleProcess:
    """The strategy for train.parallel on this world."""
    if world.world_size == 1:
        return SingleProcess()
    return FullyShardedParallel() if parallel == "fsdp" else DataParallel(device)
