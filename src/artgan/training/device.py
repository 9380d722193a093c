"""Where networks run and in which float type: ``--device`` and ``--precision``.

``auto`` picks CUDA, then Apple's MPS, then the CPU. Precision is float32 on the CPU,
always: bf16 autocast measured 25-45x slower than fp32 on CPUs without native bf16
(docs/benchmarks/speed.md), so asking for it there is an error, not a silent slowdown.
On CUDA, mixed precision is autocast: bf16 by default where the GPU supports it (Ampere
and newer), else fp32; fp16 only when asked, with a gradient scaler. Weights, optimiser
moments, the EMA and the R1 penalty stay float32 (training/steps.py).

Random numbers that decide *what* is drawn (latents, crops, noise maps) come from CPU
generators and are moved to the device, so a seed means the same thing on every device;
a GPU's kernels still round differently, so outputs match the CPU's only to a tolerance.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
from torch import nn

PRECISIONS = ("fp32", "bf16", "fp16")
_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class DeviceError(ValueError):
    """A device or precision this machine cannot provide. ``option`` is the setting it is
    about (``"device"`` or ``"precision"``), so the command line can name its flag."""

    def __init__(self, message: str, option: str = "device") -> None:
        self.option = option
        super().__init__(message)


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(spec: str | torch.device | None = "auto", *, local_rank: int | None = None) -> torch.device:
    """``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"`` -> a device this machine has.

    ``local_rank`` (a process's index on its machine, under torchrun) picks the GPU for
    ``auto`` and ``cuda``. Raises :class:`DeviceError` with what to do instead.
    """
    text = str(spec if spec is not None else "auto").strip().lower()
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank or 0)
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if text == "cpu":
        return torch.device("cpu")
    if text == "mps":
        if not _mps_available():
            raise DeviceError("Apple's MPS is not available on this machine; use auto or cpu")
        return torch.device("mps")
    if text == "cuda" or text.startswith("cuda:"):
        index: int | None = None
        if text != "cuda":
            try:
                index = int(text.split(":", 1)[1])
            except ValueError:
                raise DeviceError("expected cuda or cuda:N with N a GPU number, e.g. cuda:0") from None
        if not torch.cuda.is_available():
            why = "this torch is a CPU-only build" if torch.version.cuda is None else "no NVIDIA GPU or driver found"
            raise DeviceError(f"CUDA is not available here ({why}); use auto or cpu")
        count = torch.cuda.device_count()
        if index is None:
            index = local_rank or 0
        if not 0 <= index < count:
            raise DeviceError(f"this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}")
        return torch.device("cuda", index)
    raise DeviceError(f"unknown device {text!r}; give auto, cpu, cuda, cuda:N or mps")


def describe(device: torch.device) -> str:
    """``cpu (2 threads)``, ``cuda:0 (NVIDIA A100-SXM4-40GB)``: for messages."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        n = torch.get_num_threads()
        return f"cpu ({n} thread{'s' if n > 1 else ''})"
    return str(device)


def resolve_precision(spec: str | None, device: torch.device) -> str:
    """The precision to run at on ``device``: ``spec`` checked, or the device's default
    (None or ``"auto"``: bf16 on GPUs that support it, else fp32)."""
    if spec in (None, "auto"):
        return "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"
    if spec not in PRECISIONS:
        raise DeviceError(f"unknown precision {spec!r}; give {', '.join(PRECISIONS)}", "precision")
    if spec == "fp32":
        return spec
    if device.type == "cpu":
        raise DeviceError(
            "the CPU runs fp32 only: bf16 and fp16 autocast measured 25-45x slower than fp32 on CPUs "
            "without native support; use fp32, or a GPU (--device cuda)",
            "precision",
        )
    if device.type != "cuda":
        raise DeviceError(f"mixed precision is only supported on CUDA, not {device.type}; use fp32", "precision")
    if spec == "bf16" and not torch.cuda.is_bf16_supported():
        raise DeviceError(f"{describe(device)} has no bf16 support; use fp16 or fp32", "precision")
    return spec


@dataclass(frozen=True)
class Precision:
    """Mixed precision on one device: an autocast context and, for fp16, a gradient scaler.
    ``Precision("fp32", ...)`` does nothing at all (plain float32)."""

    name: str = "fp32"
    device_type: str = "cpu"

    @classmethod
    def on(cls, spec: str | None, device: torch.device) -> Precision:
        """:func:`resolve_precision` as a Precision for ``device``."""
        return cls(resolve_precision(spec, device), device.type)

    @property
    def dtype(self) -> torch.dtype | None:
        """The autocast dtype, or None for float32."""
        return _DTYPES[self.name]

    def autocast(self, enabled: bool = True) -> contextlib.AbstractContextManager[Any]:
        """A context that runs eligible ops (convolutions, matmuls) in ``dtype``; a no-op for
        fp32 or with ``enabled`` False (e.g. a step that must stay float32)."""
        if self.dtype is None or not enabled:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def scaler(self) -> torch.amp.GradScaler | None:
        """fp16's loss scaler (its small exponent range underflows gradients without one); None otherwise."""
        return torch.amp.GradScaler(self.device_type) if self.name == "fp16" else None


def to_device(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A CPU batch onto ``device``: through pinned memory and asynchronously on CUDA (the
    copy overlaps the work already queued); unchanged on the CPU."""
    if device.type == "cpu":
        return x
    if device.type == "cuda":
        return x.pin_memory().to(device, non_blocking=True)
    return x.to(device)


def _move(obj: Any, device: torch.device) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_move(o, device) for o in obj)
    return obj


M = TypeVar("M", bound=nn.Module)


def inputs_follow(module: M, device: torch.device) -> M:
    """Move ``module`` to ``device`` and have its forward move tensor arguments (also in
    lists and tuples) to wherever the module is first. For models whose own helpers draw
    noise on the CPU from a seeded generator (texgan's ``render``, stylenet's
    ``stylize_image``): the numbers stay the CPU's, the work moves. Nothing is hooked on
    the CPU; a copy moved back to the CPU takes CPU inputs again."""
    module.to(device)
    if device.type != "cpu":

        def hook(m: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
            here = next(m.parameters()).device
            return _move(args, here), {k: _move(v, here) for k, v in kwargs.items()}

        module.register_forward_pre_hook(hook, with_kwargs=True)
    return module


def cpu_copy(module: M) -> M:
    """``module`` itself on the CPU, else a CPU copy of it: for measurements and previews that
    compare with CPU tensors (metrics run on the CPU)."""
    import copy

    first = next(module.parameters(), None)
    if first is None or first.device.type == "cpu":
        return module
    return copy.deepcopy(module).to("cpu")


__all__ = [
    "PRECISIONS",
    "DeviceError",
    "Precision",
    "resolve_device",
    "resolve_precision",
    "describe",
    "to_device",
    "inputs_follow",
    "cpu_copy",
]
