"""A stage reruns bit for bit: other thread defaults, other DataLoader workers, same metrics, weights and predictions.

Issue 16 item 8: reruns of `mr@charades_b` gave three different results. The source was the pair gather of mid fusion
(`frames[video_idx]`): on the CPU its backward (`index_put_` with accumulation) adds rows atomically in whatever order
the threads arrive, unless torch's deterministic algorithms are on; and float reductions split by the intra-op thread
count, which `train.num_threads` pins. The gathered caption tokens here (64 pairs x 16 tokens x 64) are above torch's
parallel grain size and every caption row is written by both threads, so without the fix two runs differ in the last
bits after a step or two.
"""

import json
import os
import subprocess
import sys

import pytest
import yaml

from unloc.study.miniworld.generate import generate_world
from unloc.study.miniworld.sizes import SIZES, override

TIMINGS = ("train_seconds", "eval_seconds")
TOWER = {"arch": {"embed_dim": 32,
                  "vision_cfg": {"image_size": 32, "patch_size": 16, "layers": 1, "width": 32, "head_width": 16},
                  "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}},
         "freeze_image": True, "freeze_text": True}


@pytest.fixture(scope="module")
def params(tmp_path_factory):
    from safetensors.torch import save_file

    from unloc.model.clip_loader import create_clip
    from unloc.model.config import TowerConfig

    root = tmp_path_factory.mktemp("world")
    generate_world(root, override(SIZES["tiny"], ["charades_sta.num_videos=16"]), 0, only=("charades_sta",))
    clip = create_clip(TowerConfig(**{**TOWER, "pretrained": None}))
    save_file({k: v.contiguous() for k, v in clip.state_dict().items()}, root / "clip.safetensors")
    doc = {"mr": {
        "task": {"kind": "mr", "regression_ranges": [[0, 4], [4, None]]},
        "model": {"tower": {**TOWER, "pretrained": str(root / "clip.safetensors")},
                  "fusion": {"layers": 1, "width": 64, "heads": 2, "mlp_dim": 64, "text_input": "all"}, "pyramid": {"num_levels": 2},
                  "head": {"num_conv_layers": 1, "cls_bias_init": 0.0}},
        "data": {"train": {"annotations": f"{root}/charades_sta/charades_sta_train.txt"},
                 "eval": {"annotations": f"{root}/charades_sta/charades_sta_test.txt"},
                 "video_root": f"{root}/charades_sta/videos", "feature_cache": f"{root}/features",
                 "image": {"crop_size": 32, "short_side": 32}, "sampling": {"num_frames": 16}},
        "train": {"epochs": 2, "global_batch_size": 8, "optimizer": "adamw", "base_lr": 1.0e-3,
                  "warmup_epochs": 0.0, "num_threads": 2, "checkpoint_every_epochs": 0, "keep_checkpoints": 1}}}
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _run(params, out, omp_threads: str, workers: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": omp_threads, "MKL_NUM_THREADS": omp_threads}
    cmd = [sys.executable, "-m", "unloc.cli", "train", "--params", str(params), "--stage", "mr", "--out", str(out),
           "--no-progress", "--set", f"train.num_workers={workers}", "--set", f"data.num_workers={workers}"]
    subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    metrics = json.loads((out / "metrics.json").read_text())
    return {k: v for k, v in metrics.items() if k not in TIMINGS}


def test_stage_reruns_bit_for_bit_under_other_threads_and_workers(params, tmp_path):
    first = _run(params, tmp_path / "a", "1", 0)  # torch would default to 1 thread; the config pins 2
    second = _run(params, tmp_path / "b", "2", 2)
    assert first == second and first["num_queries"] > 0
    for name in ("model.safetensors", "predictions.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    history = [(tmp_path / run / "train" / "history.jsonl").read_text().splitlines() for run in "ab"]
    losses = [[json.loads(line)["loss"] for line in lines] for lines in history]
    assert losses[0] == losses[1] and len(losses[0]) >= 2
    times = [json.loads((tmp_path / run / "times.json").read_text()) for run in "ab"]
    assert set(times[0]) == {"extract", "train", "predict", "eval"} and min(times[0].values()) >= 0
    assert times[0]["extract"] > times[1]["extract"]  # the first run filled the feature cache, the second reads it


def test_equal_weights_give_equal_files(tmp_path):
    """safetensors writes its metadata map in random order (safetensors#584): one key keeps the bytes fixed."""
    import torch

    from unloc.train.weights import read_weights, save_weights

    state = {"a": torch.arange(6.0).reshape(2, 3), "b": torch.ones(4)}
    state["tied"] = state["a"]  # an alias: its entry goes into the metadata
    files = [save_weights(state, tmp_path / f"w{i}.safetensors").read_bytes() for i in range(8)]
    assert all(f == files[0] for f in files)
    back = read_weights(tmp_path / "w0.safetensors")
    assert torch.equal(back["tied"], state["a"]) and torch.equal(back["b"], state["b"])
