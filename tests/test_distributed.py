"""Devices, precision and training in several processes (torchrun + DDP, gloo on the CPU).

The two-process tests start real torchrun jobs on tiny 16 px models; tests marked ``gpu``
need CUDA and are skipped without it.
"""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from artgan.cli import build_parser
from artgan.cli.train import forwarded_args
from artgan.training.checkpoint import list_checkpoints, load_state, resolve_model_folder
from artgan.training.device import DeviceError, Precision, resolve_device, resolve_precision

SRC = Path(__file__).resolve().parents[1] / "src"
NO_CUDA = not torch.cuda.is_available()
gpu = pytest.mark.skipif(NO_CUDA, reason="needs a CUDA GPU")

# 100 steps of 2 x 4 images; checkpoints every 5 steps, so a kill lands between two.
KIMG = "0.8"
TINY = [
    "--resolution", "16", "--width", "8", "--batch", "4", "--kimg", KIMG, "--checkpoint-kimg", "0.04",
    "--snapshot-kimg", "10", "--metric-kimg", "0", "--threads", "1", "--no-progress", "--seed", "7",
]  # fmt: skip


def _env(debug: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(SRC), "ARTGAN_DEBUG_RANKS": str(debug), "OMP_NUM_THREADS": "1"}


def _ranks(debug: Path) -> list[dict]:
    return [json.loads((debug / f"rank{r}.json").read_text()) for r in (0, 1)]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    from conftest import painting

    root = tmp_path_factory.mktemp("ddp") / "art"
    root.mkdir()
    for i in range(8):
        painting(i, (32, 40)).save(root / f"p{i}.png")
    return root


@pytest.fixture(scope="module")
def straight(data: Path) -> tuple[Path, Path, subprocess.CompletedProcess]:
    """(run, debug folder, process) of `artgan train --nproc 2`, run to the end without a stop."""
    out, debug = data.parent / "straight", data.parent / "debug-straight"
    cmd = [sys.executable, "-m", "artgan", "train", str(data), "--nproc", "2", "--out", str(out), *TINY]
    proc = subprocess.run(cmd, env=_env(debug), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    (run,) = out.iterdir()
    return run, debug, proc


def test_two_processes_draw_different_crops_and_end_with_the_same_weights(straight):
    run, debug, proc = straight
    r0, r1 = _ranks(debug)
    assert r0["world"] == r1["world"] == 2
    assert r0["first_batch"] != r1["first_batch"], "each rank draws its own crops"
    assert r0["weights"] == r1["weights"], "G, D and G_ema identical on both ranks"
    assert r0["p"] == r1["p"], "ADA's statistics are all-reduced: one augmentation probability"
    # Global batch 2 x 4: the counters count both ranks' images.
    assert r0["nimg"] == 800 and r0["step"] == 100
    assert "batch 4 per process x 2 processes = 8 per step" in proc.stderr
    # One writer: one run folder, one path printed, one set of checkpoint files.
    assert proc.stdout.strip() == str(run)
    assert proc.stderr.count("run folder:") == 1
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names == ["ckpt-000000720", "ckpt-000000760", "ckpt-000000800", "latest"], names
    assert sorted(p.name for p in resolve_model_folder(run).iterdir()) == [
        "D.safetensors",
        "G.safetensors",
        "G_ema.safetensors",
        "config.json",
        "state.pt",
    ]
    state = load_state(resolve_model_folder(run))
    assert int(state["nimg"]) == 800 and state["rng_torch_ranks"].shape[0] == 2
    summary = json.loads((run / "summary.json").read_text())
    assert summary["processes"] == 2 and summary["kimg"] == 0.8 and summary["step"] == 100
    rows = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    kimgs = [r["kimg"] for r in rows if "loss/D" in r]
    assert kimgs == sorted(set(kimgs)) and kimgs[-1] == 0.8, "one writer: no row twice"
    assert not list(run.parent.glob(".torchrun-*")), "the restart marker goes once the job is done"


def test_kill_a_rank_and_torchrun_resumes_exactly(data, straight):
    """SIGKILL one rank mid-run under `torchrun --max-restarts 1`: the latest checkpoint
    loads, the restarted job resumes from it, and ends with exactly the weights of the run
    that was never stopped."""
    out, debug = data.parent / "killed", data.parent / "debug-killed"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    cmd += ["--max-restarts", "1", "-m", "artgan", "train", str(data), "--out", str(out), *TINY]
    proc = subprocess.Popen(cmd, env=_env(debug), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 300
        victim = None
        while time.time() < deadline and proc.poll() is None:
            runs = list(out.glob("0*")) if out.is_dir() else []
            if runs and list_checkpoints(runs[0] / "checkpoints") and (debug / "rank1.json").is_file():
                victim = json.loads((debug / "rank1.json").read_text())["pid"]
                break
            time.sleep(0.02)
        assert victim is not None, "no checkpoint before the deadline"
        os.kill(victim, signal.SIGKILL)
        (run,) = out.glob("0*")
        killed_at = int(load_state(resolve_model_folder(run))["nimg"])
        assert killed_at < 800, "killed mid-run"
        from artgan import Generator

        Generator.from_pretrained(run)  # the latest checkpoint loads right after the kill
        stdout, stderr = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "torchrun restarted the job (restart 1): continuing its run" in stderr
    r0, r1 = _ranks(debug)
    assert r0["restart"] == r1["restart"] == 1 and r1["pid"] != victim
    assert 0 < r0["start_nimg"] < 800 and r0["start_nimg"] % 40 == 0, "resumed from a checkpoint"
    assert r0["weights"] == r1["weights"] and (r0["nimg"], r0["step"]) == (800, 100)
    assert list(out.glob("0*")) == [run], "the restart continued the run, no new folder"
    # Counters and weights go on exactly as in the run that never stopped.
    a, b = resolve_model_folder(straight[0]), resolve_model_folder(run)
    assert a.name == b.name == "ckpt-000000800"
    for f in ("G.safetensors", "D.safetensors", "G_ema.safetensors"):
        ta, tb = load_file(str(a / f)), load_file(str(b / f))
        for k in ta:
            if "running" in k or "num_batches" in k:
                continue  # G_ema's BN statistics are recalibrated at each save
            torch.testing.assert_close(ta[k], tb[k], rtol=0, atol=0, msg=f"{f}:{k}")
    sa, sb = (load_state(x) for x in (a, b))
    assert float(sa["ada"]["p"]) == float(sb["ada"]["p"]) and int(sb["step"]) == 100
    rows = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    kimgs = [r["kimg"] for r in rows if "loss/D" in r]
    assert kimgs == sorted(set(kimgs)) and kimgs[-1] == 0.8, "rows after the checkpoint were dropped, not doubled"


def test_nproc_passes_every_option_on():
    parser = build_parser()
    given = ["train", "art", "--nproc", "2", "--kimg", "0.5", "--augment", "color,cutout", "--no-reuse-fakes"]
    given += ["--augment-p", "0.25", "--device", "cpu", "--out", "elsewhere", "--no-progress", "--threads", "1"]
    a = parser.parse_args(given)
    args = forwarded_args(a)
    assert "--nproc" not in args and args[:2] == ["train", "art"]
    b = parser.parse_args(args)
    for name in [*a.option_fields, "data", "out", "device", "no_progress", "precision", "resume"]:
        assert getattr(a, name) == getattr(b, name), name
    assert b.nproc is None


def test_devices_resolve_or_say_what_to_do():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(DeviceError, match="unknown device 'tpu'"):
        resolve_device("tpu")
    with pytest.raises(DeviceError, match="cuda:N"):
        resolve_device("cuda:x")
    if NO_CUDA:
        with pytest.raises(DeviceError, match="CUDA is not available here.*use auto or cpu"):
            resolve_device("cuda:0")


def test_the_cpu_runs_fp32_only():
    cpu = torch.device("cpu")
    assert resolve_precision(None, cpu) == "fp32" and resolve_precision("fp32", cpu) == "fp32"
    for name in ("bf16", "fp16"):
        with pytest.raises(DeviceError, match="25-45x slower") as exc:
            resolve_precision(name, cpu)
        assert exc.value.option == "precision"
    amp = Precision.on(None, cpu)
    assert amp.dtype is None and amp.scaler() is None


def test_the_api_takes_a_device(tmp_path):
    """from_pretrained(device=...) on the CPU gives the pixels it always gave; a device this
    machine lacks is a clear error before anything loads."""
    from artgan import Generator
    from artgan.config import ModelConfig
    from artgan.models import build_generator
    from artgan.training.checkpoint import save_model_folder

    cfg = ModelConfig(resolution=16, width=8, max_width=32, z_dim=16)
    from artgan.config import TrainConfig

    save_model_folder(tmp_path / "m", nimg=0, config=TrainConfig(model=cfg), G_ema=build_generator(cfg))
    a = Generator.from_pretrained(tmp_path / "m")(n=3, seed=1, output="tensor")
    b = Generator.from_pretrained(tmp_path / "m", device="cpu", precision="fp32")(n=3, seed=1, output="tensor")
    assert torch.equal(a, b) and b.device.type == "cpu"
    with pytest.raises(DeviceError, match="precision|fp32"):
        Generator.from_pretrained(tmp_path / "m", device="cpu", precision="bf16")
    if NO_CUDA:
        with pytest.raises(DeviceError, match="CUDA"):
            Generator.from_pretrained(tmp_path / "m", device="cuda")


# ---- CUDA only (skipped without a GPU)


@pytest.mark.gpu
@gpu
@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_generator_on_cuda_matches_the_cpu(tmp_path, precision):
    from artgan import Generator
    from artgan.config import ModelConfig, TrainConfig
    from artgan.models import build_generator
    from artgan.training.checkpoint import save_model_folder

    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    cfg = ModelConfig(resolution=32, width=8, max_width=32, z_dim=16)
    save_model_folder(tmp_path / "m", nimg=0, config=TrainConfig(model=cfg), G_ema=build_generator(cfg))
    cpu = Generator.from_pretrained(tmp_path / "m")(n=4, seed=0, output="tensor")
    gpu_imgs = Generator.from_pretrained(tmp_path / "m", device="cuda", precision=precision)(
        n=4, seed=0, output="tensor"
    )
    assert gpu_imgs.device.type == "cpu" and gpu_imgs.dtype == torch.float32
    # fp32 convolutions use TF32 on Ampere and newer (cuDNN's default): not bit-equal either.
    tol = {"fp32": 5e-3, "bf16": 0.1, "fp16": 0.02}[precision]
    assert (gpu_imgs - cpu).abs().max() < tol


@pytest.mark.gpu
@gpu
@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_training_on_cuda_in_each_precision(data, tmp_path, precision):
    from artgan.config import ModelConfig, TrainConfig
    from artgan.training.loop import train

    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    cfg = TrainConfig(
        model=ModelConfig(resolution=16, width=8, max_width=32, z_dim=16),
        data=str(data),
        batch=8,
        kimg=0.032,
        r1_interval=2,  # an R1 step among the few
        metric_kimg=0.016,
        metric_n=32,
        grid=2,
    )
    run = train(cfg, tmp_path, progress=False, device="cuda", precision=precision)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["device"] == "cuda" and summary["precision"] == precision and summary["kimg"] == 0.032
    state = load_state(resolve_model_folder(run))
    assert "rng_cuda_ranks" in state
    resumed = train(replace(cfg, kimg=0.048), tmp_path, resume=run, progress=False, device="cuda")
    assert int(load_state(resolve_model_folder(resumed))["nimg"]) == 48


@pytest.mark.gpu
@gpu
def test_texture_and_stylizer_train_and_run_on_cuda(tmp_path):
    from artgan import Stylizer, TextureSynth
    from artgan.config import StylizerConfig, TextureConfig
    from artgan.imaging import tensor_to_pil
    from conftest import painting

    swatch = tmp_path / "swatch.png"
    painting(1, (64, 64)).save(swatch)
    synth = TextureSynth.fit(swatch, config=TextureConfig(steps=3, minutes=None), out=tmp_path / "tex", device="cuda")
    assert synth(size=(64, 96), seed=2, output="tensor").device.type == "cpu"  # the GPU's default precision
    on_gpu = TextureSynth.from_pretrained(tmp_path / "tex", device="cuda", precision="fp32")
    cpu = TextureSynth.from_pretrained(tmp_path / "tex")
    a, b = on_gpu(size=(64, 96), seed=2, output="tensor"), cpu(size=(64, 96), seed=2, output="tensor")
    assert (a - b).abs().max() < 5e-3, "the same seed draws the same noise on both devices"
    st = Stylizer.fit(
        swatch, [swatch], config=StylizerConfig(steps=3, minutes=None), out=tmp_path / "st", device="cuda"
    )
    y = st(tensor_to_pil(torch.zeros(3, 40, 48)), output="tensor")
    assert y.shape == (3, 40, 48) and y.device.type == "cpu"
