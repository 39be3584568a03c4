"""Seeds of an ablation setting run in parallel worker processes give the metrics the serial loop gives, bit for bit
(issue 16 items 7 and 8): each run pins its own thread count, so neither `seed_workers` nor the parent's threads count.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from tests.test_reproducible import TOWER
from unloc.study import ablation
from unloc.study.miniworld.generate import generate_world
from unloc.study.miniworld.sizes import SIZES, override


@pytest.fixture(scope="module")
def params(tmp_path_factory):
    from safetensors.torch import save_file

    from unloc.model.clip_loader import create_clip
    from unloc.model.config import TowerConfig

    root = tmp_path_factory.mktemp("seeds")
    generate_world(root / "world", override(SIZES["tiny"], ["charades_sta.num_videos=12"]), 0, only=("charades_sta",))
    clip = create_clip(TowerConfig(**{**TOWER, "pretrained": None}))
    save_file({k: v.contiguous() for k, v in clip.state_dict().items()}, root / "clip.safetensors")
    world = root / "world" / "charades_sta"
    doc = {
        "vars": {"world": str(root / "world"), "models": str(root), "reports": str(root / "reports"),
                 "features": str(root / "features"), "runs": str(root / "runs")},
        "seeds": [0, 1, 2], "seed_workers": 2,
        "profiles": {"serial": {"seed_workers": 1}, "bad": {"seed_workers": 0}},
        "ablations": {"mr": {"default": {
            "task": {"kind": "mr", "regression_ranges": [[0, 4], [4, None]]},
            "model": {"tower": {**TOWER, "pretrained": str(root / "clip.safetensors")},
                      "fusion": {"layers": 1, "width": 32, "heads": 2, "mlp_dim": 32},
                      "pyramid": {"num_levels": 2}, "head": {"num_conv_layers": 1}},
            "data": {"train": {"annotations": f"{world}/charades_sta_train.txt"},
                     "eval": {"annotations": f"{world}/charades_sta_test.txt"},
                     "video_root": f"{world}/videos", "feature_cache": "{features}",
                     "image": {"crop_size": 32, "short_side": 32}, "sampling": {"num_frames": 8}},
            "train": {"epochs": 2, "global_batch_size": 4, "optimizer": "adamw", "base_lr": 1.0e-3,
                      "warmup_epochs": 0.0, "num_threads": 1, "checkpoint_every_epochs": 0, "keep_checkpoints": 1}}}},
    }
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _without_times(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if not k.endswith("_seconds")}


def test_parallel_seeds_equal_the_serial_loop(params):
    stage = "ablations.mr.default"
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)  # the parent's threads must not reach the runs: each config names its own
        serial = ablation.run_seeds(stage, params, "serial")
    finally:
        torch.set_num_threads(threads)
    reports = params.parent / "reports" / "ablations" / "mr" / "default"
    serial_files = {p.relative_to(reports): p.read_bytes() for p in reports.rglob("*") if p.is_file()
                    and p.name != "metrics.json"}
    parallel = ablation.run_seeds(stage, params, None)
    assert list(parallel) == [0, 1, 2] == list(serial)
    for seed in serial:
        assert _without_times(parallel[seed].metrics) == _without_times(serial[seed].metrics), seed
        assert parallel[seed].metrics["num_queries"] > 0
    assert _without_times(serial[0].metrics) != _without_times(serial[1].metrics)  # the seeds are different runs
    parallel_files = {p.relative_to(reports): p.read_bytes() for p in reports.rglob("*") if p.is_file()
                      and p.name != "metrics.json"}
    assert parallel_files == serial_files and len(serial_files) == 6  # item metrics + config per seed
    written = json.loads((reports / "metrics.json").read_text())["seeds"]
    assert list(written) == ["0", "1", "2"]


def test_seed_workers_must_be_a_positive_integer(params):
    assert ablation.seed_workers(params, None) == 2
    assert ablation.seed_workers(params, "serial") == 1
    with pytest.raises(ValueError, match="seed_workers must be a positive integer, got 0"):
        ablation.seed_workers(params, "bad")


CHILD = """
import multiprocessing, os, time
from concurrent.futures import ProcessPoolExecutor

from unloc.study.ablation import exit_with_parent

if __name__ == "__main__":
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=exit_with_parent,
                               initargs=(os.getpid(), 0.1))
    print(pool.submit(os.getpid).result(), flush=True)
    pool.submit(time.sleep, 120)
    time.sleep(1)
    os._exit(0)  # gone without shutting the pool down, as a stopped kernel
"""


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # an orphan's zombie waits for a reaper that a container may not run


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads process states from /proc")
def test_workers_end_with_the_process_that_started_them(tmp_path):
    script, out = tmp_path / "child.py", tmp_path / "out.txt"
    script.write_text(CHILD)
    with out.open("w") as stdout:  # a file, not a pipe: a pipe would wait for the worker too
        subprocess.run([sys.executable, str(script)], stdout=stdout, check=True, timeout=120)
    worker = int(out.read_text().split()[0])
    deadline = time.monotonic() + 20
    while _running(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _running(worker)
