"""Data-parallel training of one cell over N processes (torchrun); docs/architecture.md, "DDP".

``torchrun --nproc_per_node N -m surf_bench run ...`` starts N copies of the same command. Each
process (rank) builds the same networks from the cell seed (rank 0's weights are broadcast to the
others, so they start identical), reads the same data order and takes its contiguous slice of every
global batch of ``train.batch_size`` mixtures. After each backward pass the gradients are averaged
over the ranks (one all-reduce of a flat buffer, as DistributedDataParallel does), so every rank
takes the same optimiser step and the EMA teacher, updated from identical weights, stays identical
on every rank. The step's loss and stop request are all-reduced with it, so the NaN guard and a
Ctrl-C / SIGTERM act on every rank at the same step.

Rank 0 alone locks the cell, writes checkpoints and results and scores the model; the other ranks
write nothing. Per-rank random streams (noise ends, t, remixing permutations) are seeded from
(cell seed, rank). What differs from one process with the same global batch: the ranks' random
draws, and the remixing methods remix within each rank's slice. Exact resume holds for rank 0's
streams; the other ranks restart theirs from (cell seed, rank, step).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from ..errors import UsageError
from .cells import INIT_WAIT_SECONDS


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.size > 1

    @property
    def writer(self) -> bool:
        """Rank 0: locks, checkpoints, results, scoring."""
        return self.rank == 0


_world = World()


def world() -> World:
    return _world


def from_env(environ=os.environ) -> World:
    """The world torchrun describes in WORLD_SIZE / RANK / LOCAL_RANK (one process without them)."""
    try:
        size = int(environ.get("WORLD_SIZE", "1"))
        rank = int(environ.get("RANK", "0"))
        local = int(environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise UsageError("WORLD_SIZE, RANK and LOCAL_RANK must be integers (torchrun sets them)") from None
    if size < 1 or not 0 <= rank < size:
        raise UsageError(f"RANK={rank} with WORLD_SIZE={size} is not a valid process group")
    return World(rank, size, local)


def start(device: str) -> tuple[World, str]:
    """Join torchrun's process group (gloo on CPU, NCCL on CUDA); returns (world, this rank's device)."""
    global _world
    candidate = from_env()
    if not candidate.active:
        return _world, device
    if device.startswith("cuda"):
        device = f"cuda:{candidate.local_rank}"
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        # Long enough for rank 0 to wait for a busy init cell (cells.INIT_WAIT_SECONDS) while the
        # other ranks wait in a broadcast.
        wait = INIT_WAIT_SECONDS + 3600
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo", timeout=timedelta(seconds=wait))
    _world = candidate
    return _world, device


def stop() -> None:
    global _world
    if dist.is_initialized():
        dist.destroy_process_group()
    _world = World()


def broadcast_object(value):
    """Rank 0's ``value`` on every rank (decisions such as "is this cell already trained")."""
    if not _world.active:
        return value
    box = [value if _world.writer else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    if _world.active:
        dist.barrier()


def check_same(value, what: str) -> None:
    """Every rank must hold rank 0's ``value`` (e.g. the step a resumed run starts from)."""
    if not _world.active:
        return
    expected = broadcast_object(value)
    if value != expected:
        raise UsageError(f"rank {_world.rank} has {what} {value!r} but rank 0 has {expected!r}: every process must "
                         "see the same --out folder (a shared file system)")


def broadcast_modules(modules: dict) -> None:
    """Every parameter and buffer of rank 0's modules onto the other ranks."""
    if not _world.active:
        return
    for module in modules.values():
        for tensor in [*module.parameters(), *module.buffers()]:
            dist.broadcast(tensor.data, src=0)


def average_gradients(parameters) -> None:
    """grad <- mean over ranks of grad, in one all-reduce of a flat buffer."""
    if not _world.active:
        return
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= _world.size
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def reduce_step(loss: float, stop_requested: bool, device="cpu") -> tuple[float, bool]:
    """(mean loss over ranks, whether any rank was asked to stop); ``device``: the loss's (NCCL
    reduces CUDA tensors only)."""
    if not _world.active:
        return loss, stop_requested
    values = torch.tensor([loss, float(stop_requested)], dtype=torch.float64, device=device)
    dist.all_reduce(values)
    return float(values[0]) / _world.size, bool(values[1] > 0)


def shard(index: torch.Tensor, batch_size: int) -> torch.Tensor:
    """This rank's contiguous slice of a global batch of indices."""
    if not _world.active:
        return index
    if batch_size % _world.size:
        raise UsageError(f"train.batch_size={batch_size} does not split over {_world.size} processes; use a "
                         f"multiple of {_world.size}")
    per_rank = batch_size // _world.size
    return index[_world.rank * per_rank:(_world.rank + 1) * per_rank]


def rank_seed(seed: int, step: int = 0) -> int:
    """Seed of a rank > 0's random streams from (cell seed, rank, step); rank 0 keeps the cell's own."""
    return (seed * 1_000_003 + _world.rank * 7919 + step) % 2**63
