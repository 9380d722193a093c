"""One GAN trained by several processes: torchrun and DistributedDataParallel.

    torchrun --nproc_per_node N -m artgan train DATA ...    # what `artgan train --nproc N` runs

Every process (rank) holds the whole model and draws its own crops, latents and
augmentations; DDP averages the gradients, so the weights stay identical on every rank and
one step sees N x batch images. gloo on CPUs, NCCL on GPUs (one GPU per process: the
process's local rank). Rank 0 alone writes checkpoints, stats, samples, the gallery and the
progress bar. What depends on the clock or on rank 0's measurements (a minutes budget,
early stopping) and a Ctrl-C on any rank are agreed on before each step (an all-reduce), so
every rank stops at the same step.

Outside torchrun (or with one process) :func:`init_world` returns a world of one and none
of this costs anything. ``ARTGAN_DEBUG_RANKS=DIR`` makes each rank write ``DIR/rankN.json``
(pid, restart, a hash of its first batch, a hash of its weights at the end): the tests use
it to check that the ranks saw different crops and ended with the same weights.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import warnings
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from .device import DeviceError, resolve_device

ENV_DEBUG = "ARTGAN_DEBUG_RANKS"


def under_torchrun() -> bool:
    """Started by torchrun (or another launcher that sets RANK and WORLD_SIZE)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def restart_count() -> int:
    """How often torchrun has restarted this job (``--max-restarts``): 0 the first time."""
    try:
        return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") or 0)
    except ValueError:
        return 0


class World:
    """The processes training together: ``rank`` of ``size``, on ``device``. A world of one
    (the default) makes every collective an identity."""

    def __init__(
        self, device: torch.device, rank: int = 0, size: int = 1, local_rank: int = 0, owns_group: bool = False
    ) -> None:
        self.device, self.rank, self.size, self.local_rank = device, rank, size, local_rank
        self._owns_group = owns_group
        # NCCL reduces CUDA tensors, gloo CPU tensors.
        self.comm_device = device if device.type == "cuda" else torch.device("cpu")

    @property
    def main(self) -> bool:
        """Rank 0: the process that writes files and talks to the terminal."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def wrap(self, module: nn.Module) -> nn.Module:
        """``module`` in DDP (gradients averaged over the ranks in backward, BN buffers of
        rank 0 broadcast at each forward); itself in a world of one."""
        if not self.distributed:
            return module
        from torch.nn.parallel import DistributedDataParallel

        # Channels-last weights of 1x1 convolutions have strides DDP's buckets do not mirror:
        # it copies those gradients and warns once per run; the copy is a few kB.
        warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=ids)

    def sum(self, t: torch.Tensor) -> torch.Tensor:
        """The sum of ``t`` over the ranks (a new tensor on ``t``'s device)."""
        if not self.distributed:
            return t
        out = t.detach().to(self.comm_device, copy=True)
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        return out.to(t.device)

    def agree(self, code: int) -> int:
        """The largest ``code`` any rank gives: one decision for all (0 = go on)."""
        if not self.distributed:
            return code
        t = torch.tensor([code], dtype=torch.int64, device=self.comm_device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return int(t.item())

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` (picklable) on every rank."""
        if not self.distributed:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0, device=self.comm_device)
        return box[0]

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj`` (picklable), in rank order, on every rank."""
        if not self.distributed:
            return [obj]
        out: list[Any] = [None] * self.size
        dist.all_gather_object(out, obj)
        return out

    def sync_buffers(self, modules: Iterable[nn.Module]) -> None:
        """Copy rank 0's buffers (BatchNorm statistics) into every rank's ``modules``: each
        rank's forward passes update them with its own batch, and the EMA copies them."""
        if not self.distributed:
            return
        bufs = [b for m in modules for b in m.buffers()]
        if not bufs:
            return
        # One collective for all: float64 holds float32 values and integer counters exactly.
        flat = torch.cat([b.detach().reshape(-1).to(self.comm_device, torch.float64) for b in bufs])
        dist.broadcast(flat, src=0)
        i = 0
        with torch.no_grad():
            for b in bufs:
                n = b.numel()
                b.copy_(flat[i : i + n].view_as(b).to(b.device, b.dtype))
                i += n

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def close(self) -> None:
        """Leave the process group if :func:`init_world` created it."""
        if self._owns_group and dist.is_initialized():
            dist.destroy_process_group()
            self._owns_group = False


def init_world(device: str | torch.device | None = "cpu") -> World:
    """The world this process trains in. Under torchrun with several processes: join the
    process group (gloo for the CPU, NCCL for CUDA) and take this rank's device (``auto``
    and ``cuda`` mean the GPU of the local rank). Otherwise a world of one on ``device``."""
    if not under_torchrun() or int(os.environ["WORLD_SIZE"]) <= 1:
        return World(resolve_device(device))
    rank, size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    text = str(device if device is not None else "auto").strip().lower()
    if text.startswith("cuda:"):
        raise DeviceError(f"under torchrun each process uses the GPU of its local rank; give cuda, not {text}")
    dev = resolve_device(text, local_rank=local)
    if dev.type == "mps":
        raise DeviceError("several processes train on CPUs (gloo) or CUDA GPUs (NCCL), not on MPS; use cpu")
    owns = False
    if not dist.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        # Rank 0 measures quality and writes checkpoints while the others wait in the next
        # collective: allow minutes, not seconds.
        timeout = timedelta(minutes=30)
        backend = "nccl" if dev.type == "cuda" else "gloo"
        if restart_count() > 0 and os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True":
            # torchrun shares its rendezvous store with the workers and keeps it across
            # restarts (torch 2.5-2.13): without a prefix per restart the new processes read
            # the old ones' addresses and cannot connect (pytorch/pytorch#135712, #167288).
            store = dist.TCPStore(
                os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), size, is_master=False, timeout=timeout
            )
            prefixed = dist.PrefixStore(f"artgan/restart_{restart_count()}", store)
            dist.init_process_group(backend, store=prefixed, rank=rank, world_size=size, timeout=timeout)
        else:
            dist.init_process_group(backend, timeout=timeout)
        owns = True
    return World(dev, rank, size, local, owns)


def rank_seed(seed: int, rank: int, stream: int) -> int:
    """A seed for ``rank``'s random ``stream`` (1: data, 2: latents and augmentation). Rank 0
    keeps the seeds a single process uses, so a run of one process is what it always was."""
    base = {1: seed + 1, 2: seed}[stream]
    return base if rank == 0 else (seed * 1_000_003 + rank * 7_919 + stream * 104_729) % (2**63)


# ---- the debug record (ARTGAN_DEBUG_RANKS)

_record: dict[str, Any] = {}


def debug_record(world: World, **fields: Any) -> None:
    """Add ``fields`` to this rank's ``rankN.json`` when ``ARTGAN_DEBUG_RANKS`` names a folder."""
    folder = os.environ.get(ENV_DEBUG)
    if not folder:
        return
    if not _record:
        _record.update(rank=world.rank, world=world.size, pid=os.getpid(), restart=restart_count())
    _record.update(fields)
    path = Path(folder) / f"rank{world.rank}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(_record))
    os.replace(tmp, path)


def debugging() -> bool:
    return bool(os.environ.get(ENV_DEBUG))


def fingerprint(tensors: Iterable[torch.Tensor]) -> str:
    """sha256 (16 hex digits) of the tensors' values, in order."""
    h = hashlib.sha256()
    for t in tensors:
        h.update(t.detach().to("cpu").contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


# ---- a job torchrun restarts (--max-restarts) continues the run it started


def _marker(out: Path) -> Path | None:
    run_id = os.environ.get("TORCHELASTIC_RUN_ID")
    return out / f".torchrun-{run_id}" if run_id else None


def remember_run(out: Path, run_dir: Path) -> None:
    """Note which run folder this torchrun job created, for its restarts (rank 0)."""
    marker = _marker(out)
    if marker is not None:
        marker.write_text(str(run_dir.resolve()) + "\n")


def restarted_run(out: Path) -> Path | None:
    """The run folder a restarted torchrun job created before it was restarted, if any."""
    marker = _marker(out)
    if marker is None or restart_count() == 0 or not marker.is_file():
        return None
    path = Path(marker.read_text().strip())
    return path if path.is_dir() else None


def forget_run(out: Path) -> None:
    """The job finished: its restarts have nothing to continue."""
    marker = _marker(out)
    if marker is not None:
        marker.unlink(missing_ok=True)


# ---- `artgan train --nproc N`


def launch(nproc: int, args: list[str]) -> int:
    """Run ``artgan <args>`` in ``nproc`` processes on this machine under torchrun; returns
    its exit code. Each process gets an equal share of the CPU cores (OMP_NUM_THREADS)
    unless that is set already."""
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc)]
    cmd += ["-m", "artgan", *args]
    return subprocess.call(cmd, env=env)


__all__ = [
    "World",
    "init_world",
    "under_torchrun",
    "restart_count",
    "rank_seed",
    "launch",
    "debug_record",
    "fingerprint",
]
