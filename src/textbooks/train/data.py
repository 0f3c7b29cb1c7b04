"""Which rows of the pack each optimizer step reads, and the tensors made of them.

Each epoch visits the train rows in a permutation seeded by (seed, epoch). Steps take the next
`effective_batch` rows of that endless sequence of permutations (a batch may straddle two epochs),
so the position in the data is just (epoch, offset). A resumed run, or a run on more ranks, reads
exactly the rows an uninterrupted single-process run reads: rank r takes the r-th contiguous share
of each global batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from textbooks.records import read_manifest
from textbooks.tokens import TokenDataset


@dataclass(frozen=True)
class DataPosition:
    epoch: int = 0
    offset: int = 0  # rows of this epoch's permutation already read


class RowOrder:
    """The endless row order of training: one seeded permutation of the train rows per epoch."""

    def __init__(self, num_rows: int, seed: int):
        self.num_rows = num_rows
        self.seed = seed
        self._epoch, self._permutation = -1, np.empty(0, dtype=np.int64)

    def permutation(self, epoch: int) -> np.ndarray:
        if epoch != self._epoch:
            self._epoch = epoch
            self._permutation = np.random.default_rng([self.seed, epoch]).permutation(self.num_rows)
        return self._permutation

    def take(self, position: DataPosition, count: int) -> tuple[np.ndarray, DataPosition]:
        """The next `count` row indices from `position`, and the position after them."""
        parts, epoch, offset = [], position.epoch, position.offset
        while count:
            part = self.permutation(epoch)[offset:offset + count]
            parts.append(part)
            count -= len(part)
            offset += len(part)
            if offset == self.num_rows:
                epoch, offset = epoch + 1, 0
        return np.concatenate(parts), DataPosition(epoch, offset)


def rank_share(rows: np.ndarray, rank: int, world_size: int) -> np.ndarray:
    """Rank `rank`'s contiguous share of a global batch."""
    return np.split(rows, world_size)[rank]


def val_rows(num_rows: int, batches: int, micro_batch: int, rank: int, world_size: int) -> np.ndarray:
    """The same leading `batches` x `micro_batch` rows of the val split at every evaluation, on any
    number of ranks, dealt out so that each rank gets as many (under FSDP each forward is a collective)."""
    count = min(num_rows, batches * micro_batch)
    return np.arange(count - count % world_size)[rank::world_size]


def chunks(rows: np.ndarray, size: int) -> list[np.ndarray]:
    return [rows[i:i + size] for i in range(0, len(rows), size)]


def batch_tensors(dataset: TokenDataset, rows: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and next-token targets (B, S) of the given rows: input = row[:-1], target = row[1:]."""
    block = torch.from_numpy(np.stack([dataset[int(i)] for i in rows]))  # (B, S + 1)
    x, y = block[:, :-1].contiguous(), block[:, 1:].contiguous()
    if device.type == "cuda":  # pinned memory lets the copy overlap compute; on CPU it would only cost
        return x.pin_memory().to(device, non_blocking=True), y.pin_memory().to(device, non_blocking=True)
    return x, y


def open_pack(path: str | Path) -> tuple[TokenDataset, TokenDataset | None]:
    """The train split and, when the pack has one with rows, the val split."""
    manifest = read_manifest(path)
    train = TokenDataset(path, split="train")
    if len(train) == 0:
        raise ValueError(f"pack {path} has no train rows")
    has_val = manifest.get("splits", {}).get("val", {}).get("rows", 0) > 0
    return train, TokenDataset(path, split="val") if has_val else None
