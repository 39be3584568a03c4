"""A tiny data root in the paper profile's layout (unloc/resources/paper.yaml's header): real annotation rows from
tests/fixtures/annotations in the official files' names, a short synthetic mp4 per video, and a params file whose
`profiles.paper` points at it.

The annotations are the real ones (QVHighlights rows, ActivityNet-1.3 videos with the full 200-class taxonomy); only
the pictures are made up (`videowrite.moving_squares`). OpenAI CLIP cannot be downloaded here, so the params file adds
the documented last delta `profiles.paper.all` (applied after the packaged paper configuration): random-init tiny
towers and fusion, 16 frames of 32 px, one epoch, and no Kinetics checkpoint. Everything else (data paths, file
formats, task, pyramid kind, heads, regression ranges, losses, optimizer) is the paper configuration's.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import yaml
from videowrite import moving_squares, write_video

from unloc.model.config import TINY_ARCH

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "annotations"
VIDEO_FPS = 1.0  # one frame a second: a 150 s QVHighlights clip is 150 frames of 32 x 32
QVH_TRAIN_ROWS = 10  # the first rows of the val excerpt train, the rest evaluate

# the last delta over every paper stage: tiny random towers instead of OpenAI CLIP, and a one-epoch run on CPU
TINY_RUN = {
    "init": {"checkpoint": None},  # no Kinetics-700 pretraining here: the towers' own (random) weights
    "model": {"tower": {"arch": copy.deepcopy(TINY_ARCH), "pretrained": None, "context_length": 16},
              "fusion": {"layers": 1, "width": 32, "heads": 2, "mlp_dim": 64}},
    "data": {"image": {"crop_size": 32, "short_side": 32}, "sampling": {"num_frames": 16}, "num_workers": 0},
    "train": {"epochs": 1, "global_batch_size": 4, "num_workers": 0},
}


def _videos(folder: Path, durations: dict[str, float]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, (name, seconds) in enumerate(sorted(durations.items())):
        frames = max(2, round(seconds * VIDEO_FPS))
        write_video(folder / f"{name}.mp4", moving_squares(frames, 32, 32, seed=i), fps=VIDEO_FPS)


def write_qvhighlights(data: Path) -> None:
    """qvhighlights/highlight_{train,val}_release.jsonl (real rows) and qvhighlights/videos/<vid>.mp4."""
    rows = (FIXTURES / "qvhighlights" / "highlight_val_release.jsonl").read_text().splitlines()
    out = data / "qvhighlights"
    out.mkdir(parents=True)
    (out / "highlight_train_release.jsonl").write_text("\n".join(rows[:QVH_TRAIN_ROWS]) + "\n")
    (out / "highlight_val_release.jsonl").write_text("\n".join(rows[QVH_TRAIN_ROWS:]) + "\n")
    _videos(out / "videos", {r["vid"]: float(r["duration"]) for r in map(json.loads, rows)})


def write_activitynet13(data: Path) -> None:
    """activitynet13/activity_net.v1-3.min.json (real videos, the official layout) and activitynet13/videos/<id>.mp4."""
    source = FIXTURES / "activitynet13" / "activity_net.v1-3.substitute.json"
    out = data / "activitynet13"
    out.mkdir(parents=True)
    shutil.copyfile(source, out / "activity_net.v1-3.min.json")
    database = json.loads(source.read_text())["database"]
    _videos(out / "videos", {vid: float(v["duration"]) for vid, v in database.items() if v["subset"] != "testing"})


def write_paper_params(root: Path) -> Path:
    """root/params.yaml: the repository's params.yaml with `profiles.paper` moved to root (data under root/data,
    reports and caches under root) and the TINY_RUN delta as its `all`."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    paper = params["profiles"]["paper"]
    paper["vars"] = {**paper.get("vars", {}), "paper": str(root / "data"),
                     **{name: str(root / name) for name in ("world", "models", "reports", "features", "runs")}}
    paper["all"] = copy.deepcopy(TINY_RUN)
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path
