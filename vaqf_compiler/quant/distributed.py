"""Single process or torchrun: process group, device, collectives.

Under `torchrun` (RANK, WORLD_SIZE and LOCAL_RANK set) `init_distributed`
joins the process group — gloo on CPU, nccl on CUDA, rendezvous through
torchrun's MASTER_ADDR/MASTER_PORT — and each process uses `cuda:LOCAL_RANK`
(CUDA) or the CPU. Without those variables it is one process, world size 1,
and nothing distributed is touched. Rank 0 prints and writes files; all ranks
train and evaluate (counts are all-reduced).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from vaqf_compiler.errors import VaqfError

TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


@dataclass(frozen=True)
class DistEnv:
    rank: int
    world: int
    local_rank: int
    device: torch.device
    distributed: bool  # a process group was initialised

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_int(name: str) -> int:
    value = os.environ[name]
    try:
        return int(value)
    except ValueError:
        raise VaqfError(f"environment variable {name}={value!r} is not an integer") from None


def init_distributed(device: str) -> DistEnv:
    """Join torchrun's process group if started by it; pick the device ('cpu' or 'cuda')."""
    if device not in ("cpu", "cuda"):
        raise VaqfError(f"unknown device {device!r}; choose cpu or cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise VaqfError("--device cuda asked for, but CUDA is not available (torch.cuda.is_available() is False)")
    under_torchrun = all(v in os.environ for v in TORCHRUN_VARIABLES)
    rank, world, local = (_env_int(v) for v in TORCHRUN_VARIABLES) if under_torchrun else (0, 1, 0)
    if device == "cuda":
        if local >= torch.cuda.device_count():
            raise VaqfError(f"LOCAL_RANK {local} but only {torch.cuda.device_count()} CUDA device(s) on this machine")
        torch.cuda.set_device(local)
        dev = torch.device("cuda", local)
    else:
        dev = torch.device("cpu")
    if not under_torchrun or world == 1:
        return DistEnv(rank, world, local, dev, distributed=False)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device == "cuda" else "gloo")
    return DistEnv(rank, world, local, dev, distributed=True)


def shutdown(env: DistEnv) -> None:
    if env.distributed and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(env: DistEnv, values: list[float]) -> list[float]:
    """Element-wise sum of `values` over all ranks (identity for one process)."""
    if not env.distributed:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=env.device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()


def broadcast_object(env: DistEnv, obj: object) -> object:
    """Rank 0's `obj` on every rank (pickled; for small control data and checkpoints)."""
    if not env.distributed:
        return obj
    box = [obj if env.is_main else None]
    dist.broadcast_object_list(box, src=0, device=env.device if env.device.type == "cuda" else None)
    return box[0]


def barrier(env: DistEnv) -> None:
    if env.distributed:
        dist.barrier()
