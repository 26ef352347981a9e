"""Training one candidate on several processes (``torchrun``): DDP, the data sharded, rank 0 in charge.

A large candidate can use every GPU of a node: ``torchrun --nproc-per-node N
-m nas search ...`` starts N copies of the command; rank 0 runs the search
(strategy, ledger, progress) and, before each training, tells the others
which point to train (:class:`Followers`); every rank then trains the same
seeded model on its share of each batch and DDP averages the gradients.

The shards are cut from the very batches one process would draw: the same
seeded permutation, each global batch split into ``world`` contiguous parts.
Gradients are then those of the one-process training, up to batch norm,
whose statistics are per process on CPU (gloo) and synchronised on CUDA
(``SyncBatchNorm``); the fingerprint records the process count for that
reason.  Nothing here runs unless ``WORLD_SIZE`` > 1.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from spaces.errors import NasError


@dataclass(frozen=True)
class ProcessGroup:
    """This process's place in a ``torchrun`` launch."""

    rank: int
    world_size: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def from_environment(environ: dict[str, str] | None = None) -> ProcessGroup | None:
    """The launch ``torchrun`` describes in the environment, or None for a single process."""
    environ = dict(os.environ if environ is None else environ)
    try:
        world = int(environ.get("WORLD_SIZE", "1"))
        rank = int(environ.get("RANK", "0"))
        local = int(environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise NasError("WORLD_SIZE, RANK and LOCAL_RANK must be whole numbers (launch with torchrun)") from None
    if world <= 1:
        return None
    if not 0 <= rank < world:
        raise NasError(f"RANK {rank} is outside WORLD_SIZE {world} (launch with torchrun)")
    return ProcessGroup(rank, world, local)


def current() -> ProcessGroup | None:
    """The initialised process group, if this process trains as part of one."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() <= 1:
        return None
    return from_environment() or ProcessGroup(dist.get_rank(), dist.get_world_size(), dist.get_rank())


def initialise(group: ProcessGroup, device_kind: str) -> None:
    """Join the process group: NCCL between GPUs, gloo on CPU; each rank on its own GPU."""
    import datetime

    import torch
    import torch.distributed as dist

    if dist.is_initialized():
        return
    if device_kind == "cuda":
        torch.cuda.set_device(group.local_rank)
    try:
        dist.init_process_group("nccl" if device_kind == "cuda" else "gloo", timeout=datetime.timedelta(minutes=30))
    except (RuntimeError, ValueError) as error:
        raise NasError(
            f"cannot join the torchrun process group: {str(error).splitlines()[0]}; launch with torchrun"
        ) from None


def leave(*, together: bool) -> None:
    """Leave the process group before the interpreter shuts down.

    A gloo group still alive at exit lets its C++ threads be torn down under
    it (``terminate called without an active exception``, SIGABRT) often
    enough to fail a finished search. ``together`` first waits for every rank,
    so no rank tears its side down while another still reads from it; a rank
    that is gone already (its connection closed) ends the wait, as does a
    Ctrl-C, after which no rank waits (``together=False``).
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return
    if together:
        try:
            dist.barrier()
        except RuntimeError:
            pass  # another rank left first; leaving is all that is left to do
    dist.destroy_process_group()


def rank_device(device: str, group: ProcessGroup | None) -> str:
    """Under torchrun each rank trains on its own GPU (``cuda:LOCAL_RANK``); CPU stays CPU."""
    if group is None or not device.startswith("cuda"):
        return device
    return f"cuda:{group.local_rank}"


def shard_batches(
    count: int, batch_size: int, *, seed: int, drop_last: bool, group: ProcessGroup | None
) -> Iterator[list[int]]:
    """This rank's part of each batch of one shuffled epoch over ``count`` items.

    The permutation is the one ``DataLoader(shuffle=True, generator=seed)``
    draws, and the batches are its batches: with one process this yields
    exactly what that loader would.
    """
    import torch

    world, rank = (1, 0) if group is None else (group.world_size, group.rank)
    if batch_size % world:
        raise NasError(
            f"the batch of {batch_size} clips does not split evenly over {world} processes; "
            f"use a batch size divisible by {world}"
        )
    generator = torch.Generator().manual_seed(seed)
    torch.empty((), dtype=torch.int64).random_(generator=generator)  # the DataLoader draws its base seed first
    order = torch.randperm(count, generator=generator).tolist()
    share = batch_size // world
    for start in range(0, count, batch_size):
        batch = order[start : start + batch_size]
        if len(batch) < batch_size and (drop_last or len(batch) < world):
            return
        part = len(batch) // world
        yield (
            batch[rank * part : (rank + 1) * part]
            if len(batch) < batch_size
            else batch[rank * share : (rank + 1) * share]
        )


def mean_over_ranks(value: float) -> float:
    """The mean of ``value`` over every rank (the global batch's loss from the per-rank ones)."""
    import torch
    import torch.distributed as dist

    tensor = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(tensor)
    return float(tensor.item()) / dist.get_world_size()


def max_over_ranks(value: float) -> float:
    """The largest ``value`` of any rank: ranks agree on when a wall-clock budget is spent."""
    import torch
    import torch.distributed as dist

    tensor = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return float(tensor.item())


def broadcast(payload: Any = None) -> Any:
    """Rank 0's ``payload`` on every rank."""
    import torch.distributed as dist

    box = [payload]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(payload: Any) -> list[Any]:
    """Every rank's ``payload``, in rank order, on every rank."""
    import torch.distributed as dist

    boxes: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(boxes, payload)
    return boxes


def wrap(model, device: str):
    """The model under DDP (batch norm synchronised across GPUs; per process on CPU,
    where gloo has no SyncBatchNorm)."""
    import warnings

    import torch
    from torch.nn.parallel import DistributedDataParallel

    # Channels-last 1x1x1 kernels: equal layouts that DDP's stride check calls different (harmless, said every step).
    warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
    if device.startswith("cuda"):
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return DistributedDataParallel(model, device_ids=[torch.device(device).index])
    return DistributedDataParallel(model)


def share_buffers_of_rank_zero(module) -> None:
    """Batch-norm running statistics drift apart per rank; evaluation uses rank 0's everywhere."""
    import torch.distributed as dist

    for buffer in module.buffers():
        dist.broadcast(buffer.data, src=0)
