"""Every study stage that starts from the video-pretrained checkpoint can load it, and ablations that replace a part
start that part fresh: the check `dvc repro` would otherwise only make after an hour of earlier stages."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from unloc.config import load_config, read_params
from unloc.run.experiment import build_run_model, with_data_classes
from unloc.train import save_weights

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "params.yaml"


def _offline(cfg):
    """The stage's config with random-init towers (no clip_mini file needed) and `init.checkpoint` left as is."""
    tower = dataclasses.replace(cfg.model.tower, pretrained=None)
    model = dataclasses.replace(cfg.model, tower=tower)
    return with_data_classes(dataclasses.replace(cfg, model=model), num_classes=5)


def _pretrained(stage: str, folder: Path) -> Path:
    """Weights of a video-pretraining stage's model, saved the way its stage saves them."""
    cfg = _offline(load_config(stage, PARAMS))
    torch.manual_seed(0)
    model, _ = build_run_model(dataclasses.replace(cfg, init=dataclasses.replace(cfg.init, checkpoint=None)))
    path = folder / "model.safetensors"
    save_weights({k: v.detach().contiguous() for k, v in model.state_dict().items()}, path)
    return path


@pytest.fixture(scope="module")
def video_checkpoint(tmp_path_factory) -> Path:
    return _pretrained("pretrain.video", tmp_path_factory.mktemp("video"))


@pytest.fixture(scope="module")
def video_l_checkpoint(tmp_path_factory) -> Path:
    return _pretrained("pretrain.video_l", tmp_path_factory.mktemp("video_l"))


def _downstream_stages() -> list[str]:
    params = read_params(PARAMS)
    stages = [f"{g}.{n}" for g in ("mr", "tal", "seg") for n in params[g]]
    stages += [f"ablations.{t}.{n}" for t, names in params["ablations"].items() for n in names]
    return [s for s in stages if load_config(s, PARAMS).init.checkpoint]


@pytest.mark.parametrize("stage", _downstream_stages())
def test_stage_loads_the_video_pretrained_checkpoint(stage, video_checkpoint, video_l_checkpoint):
    cfg = _offline(load_config(stage, PARAMS))
    checkpoint = video_l_checkpoint if "/video_l/" in cfg.init.checkpoint else video_checkpoint  # its own size
    cfg = dataclasses.replace(cfg, init=dataclasses.replace(cfg.init, checkpoint=str(checkpoint)))
    model, _ = build_run_model(cfg)  # raises, naming the tensors, when shapes disagree
    assert model is not None


def test_unpaired_text_tower_does_not_inherit_the_paired_weights(video_checkpoint):
    from safetensors.torch import load_file

    saved = load_file(str(video_checkpoint))
    cfg = _offline(load_config("ablations.tal.text_unpaired", PARAMS))
    cfg = dataclasses.replace(cfg, init=dataclasses.replace(cfg.init, checkpoint=str(video_checkpoint)))
    model, _ = build_run_model(cfg)
    text = {k: v for k, v in model.state_dict().items() if k.startswith("text_tower.")}
    matrices = {k: v for k, v in text.items() if v.dim() >= 2 and k in saved}  # LayerNorm ones and zero biases agree anyway
    assert matrices and all(not torch.equal(v, saved[k]) for k, v in matrices.items())
