"""Data-parallel training across processes: launching and process-group helpers.

The official code trains data-parallel with a global batch of 64 split over devices and averages gradients across
them before clipping (reference/unloc-official.md section 4); moment retrieval gathers every caption of the global
batch so that other videos' captions serve as negatives (section 7, item 8). Here each process is one rank of a
torch.distributed group (nccl on GPU, gloo on CPU); `launch` starts the ranks itself with torch.multiprocessing when
not already under torchrun, so a notebook or the CLI can train on several processes.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

_TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class WorldInfo:
    """Where this process stands: global rank, rank on its node, number of processes."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1


def world_info() -> WorldInfo:
    """This process's rank and the world size (rank 0 of 1 when no process group is initialised)."""
    if not (dist.is_available() and dist.is_initialized()):
        return WorldInfo()
    rank = dist.get_rank()
    return WorldInfo(rank=rank, local_rank=int(os.environ.get("LOCAL_RANK", str(rank))), world_size=dist.get_world_size())


def is_main() -> bool:
    """True on rank 0, the only rank that writes checkpoints, history and the progress bar."""
    return world_info().rank == 0


def barrier() -> None:
    """Wait for every rank (a no-op in a single process)."""
    if world_info().world_size > 1:
        if dist.get_backend() == "nccl":
            dist.barrier(device_ids=[torch.cuda.current_device()])
        else:
            dist.barrier()


def default_device() -> torch.device:
    """cuda:<local rank> when CUDA is available, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda", world_info().local_rank % torch.cuda.device_count())
    return torch.device("cpu")


def all_reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    """Mean of `tensor` over ranks (a copy; the input is left untouched)."""
    out = tensor.detach().clone()
    world = world_info().world_size
    if world > 1:
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        out /= world
    return out


def all_gather_objects(obj: Any) -> list[Any]:
    """Every rank's `obj`, in rank order (a one-element list in a single process)."""
    world = world_info().world_size
    if world == 1:
        return [obj]
    out: list[Any] = [None] * world
    dist.all_gather_object(out, obj)
    return out


def wrap_ddp(model: nn.Module, device: torch.device, *, find_unused_parameters: bool = False) -> nn.Module:
    """DistributedDataParallel around `model` (already on `device`); the model itself in a single process."""
    if world_info().world_size == 1:
        return model
    device_ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(
        model, device_ids=device_ids, find_unused_parameters=find_unused_parameters
    )


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a DDP wrapper (or the module itself)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def under_torchrun() -> bool:
    """True when torchrun (or any launcher setting its variables) started this process."""
    return all(v in os.environ for v in _TORCHRUN_VARS)


def init_distributed(backend: str | None = None) -> WorldInfo:
    """Join the process group described by the environment (RANK, WORLD_SIZE, MASTER_ADDR/PORT, LOCAL_RANK).

    Args:
        backend: 'nccl' | 'gloo'; default nccl when CUDA is available, else gloo.

    Returns:
        This process's `WorldInfo`.
    """
    if dist.is_initialized():
        return world_info()
    backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if backend == "nccl":
        if local_rank >= torch.cuda.device_count():
            raise RuntimeError(f"rank with LOCAL_RANK={local_rank} has no GPU ({torch.cuda.device_count()} visible)")
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend=backend)
    return world_info()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _spawned_rank(local_rank, fn, args, world_size, port, backend, results) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(local_rank), LOCAL_RANK=str(local_rank),
        WORLD_SIZE=str(world_size),
    )
    # the ranks share this machine's cores; torch would give each of them all of them
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // world_size))
    init_distributed(backend)
    try:
        result = fn(*args)
        if local_rank == 0:
            # plain pickle copies tensors; torch's queue would share their memory, which dies with this process
            results.put(pickle.dumps(("result", result)))
    except Exception as err:
        if local_rank == 0:  # passed to the parent, which raises it again (e.g. a ResumeError for the CLI)
            # an unpicklable one is left out: the failed process's traceback then tells the story
            with contextlib.suppress(pickle.PicklingError, TypeError, AttributeError):
                results.put(pickle.dumps(("error", err)))
        raise
    finally:
        dist.destroy_process_group()


def launch(fn: Callable[..., Any], world_size: int, *args: Any, backend: str | None = None) -> Any:
    """Run `fn(*args)` on `world_size` ranks and return rank 0's result.

    Under torchrun the environment already describes the group: this process joins it, runs `fn` and returns its own
    result. Otherwise, with world_size > 1, it spawns `world_size` processes on this machine (MASTER_ADDR=127.0.0.1,
    a free port), which need `fn` and `args` to be picklable (a module-level function). With world_size == 1 it simply
    calls `fn`.

    Args:
        fn: the per-rank entry point, e.g. one that builds the model and calls `fit`.
        world_size: number of processes (must equal WORLD_SIZE under torchrun).
        *args: passed to `fn` on every rank.
        backend: 'nccl' | 'gloo'; default nccl with CUDA, else gloo.

    Returns:
        What `fn` returned on rank 0 (passed back by pickling, so keep it small: e.g. a state dict on the CPU).

    Raises:
        The exception rank 0 raised, if it can be pickled (chained to torch's report of the failed process).
    """
    if under_torchrun():
        env_world = int(os.environ["WORLD_SIZE"])
        if env_world != world_size:
            raise ValueError(f"launch(world_size={world_size}) but torchrun started WORLD_SIZE={env_world} processes")
        init_distributed(backend)
        return fn(*args)
    if world_size == 1:
        return fn(*args)
    nccl = (backend or ("nccl" if torch.cuda.is_available() else "gloo")) == "nccl"
    if nccl and torch.cuda.device_count() < world_size:
        raise RuntimeError(f"launch(world_size={world_size}) with nccl needs {world_size} GPUs, "
                           f"{torch.cuda.device_count()} visible")
    ctx = mp.get_context("spawn")
    results = ctx.SimpleQueue()
    procs = mp.start_processes(
        _spawned_rank, args=(fn, args, world_size, _free_port(), backend, results), nprocs=world_size,
        join=False, start_method="spawn",
    )
    payload = None
    try:
        while True:  # drain while waiting: a large result would otherwise block rank 0 on a full pipe
            if payload is None and not results.empty():
                payload = results.get()
            if procs.join(timeout=0.05):
                break
    except mp.ProcessRaisedException as failure:
        if payload is None and not results.empty():
            payload = results.get()
        kind, value = pickle.loads(payload) if payload is not None else (None, None)
        if kind == "error":
            raise value from failure
        raise
    if payload is None and not results.empty():
        payload = results.get()
    return pickle.loads(payload)[1] if payload is not None else None
