"""Kinetics-700 video pretraining at paper scale (paper §3.4): its configs, one training step of each, and the task
configs starting from its checkpoint by default (everything but heads and pyramid loads, with no shape mismatch)."""

import copy

import pytest
import torch
from tasks_common import make_batch, one_thread  # noqa: F401  (one_thread: autouse)

from unloc.config.paper import load_paper_config
from unloc.model.build import build_model, build_tokenizer
from unloc.model.config import TINY_ARCH
from unloc.tasks import build_task
from unloc.train import load_weights, save_weights

TASK_CONFIGS = {"anet_tal_b": "b", "anet_tal_l": "l", "anet_captions_b": "b", "anet_captions_l": "l",
                "charades_b": "b", "qvh_b": "b", "qvh_l": "l", "coin_l": "l"}


@pytest.mark.parametrize("size, arch, token, width", [("b", "ViT-B-16", "frame_cls", 512), ("l", "ViT-L-14", "gap", 768)])
def test_kinetics_configs_have_the_official_model_sizes_and_the_chosen_recipe(size, arch, token, width):
    cfg = load_paper_config(f"kinetics700_{size}", paper_root="/k")
    m = cfg.model
    assert (cfg.task.kind, cfg.init.checkpoint) == ("video_pretrain", None)
    assert (m.tower.arch, m.tower.frame_token, m.fusion.width, m.fusion.layers) == (arch, token, width, 6)
    assert (m.tower.freeze_image, m.tower.freeze_text) == (False, True)
    assert m.text_projection == ("clip" if size == "l" else "learned")
    assert (cfg.data.train.annotations, cfg.data.eval.annotations, cfg.data.video_root) == (
        "/k/kinetics700/train.csv", "/k/kinetics700/validate.csv", "/k/kinetics700/videos")
    assert (cfg.data.sampling.num_frames, cfg.data.sampling.fps) == (128, 0.0)
    assert (cfg.train.optimizer, cfg.train.base_lr, cfg.train.global_batch_size, cfg.train.epochs) == ("sgd", 0.01,
                                                                                                        64, 10)
    assert m.chunk_size == 400 and m.checkpoint_chunks and m.head.cls_bias_init == -6.6


@pytest.mark.parametrize("name", sorted(TASK_CONFIGS))
def test_task_configs_start_from_the_kinetics_checkpoint_by_default(name):
    cfg = load_paper_config(name)
    assert cfg.init.checkpoint == f"runs/kinetics700_{TASK_CONFIGS[name]}/model.safetensors"
    assert cfg.init.ignore == ("heads", "pyramid")
    assert load_paper_config(name, **{"init.checkpoint": None}).init.checkpoint is None  # raw CLIP on request
    assert load_paper_config(f"anet_tal_zs75_{name[-1]}").init == load_paper_config(f"anet_tal_{name[-1]}").init


def _tiny(name: str, **extra):
    """The config `name` with its structure (tokens, pyramid, heads, text path) but tiny towers and fusion."""
    cfg = load_paper_config(name, model={"tower": {"arch": copy.deepcopy(TINY_ARCH), "pretrained": None},
                                         "fusion": {"width": 32, "heads": 2, "mlp_dim": 64}, **extra})
    return cfg, build_model(cfg.model)


@pytest.mark.parametrize("name", sorted(TASK_CONFIGS))
def test_the_kinetics_weights_load_into_every_task_model(tmp_path, name):
    torch.manual_seed(0)
    size = TASK_CONFIGS[name]
    _, pretrained = _tiny(f"kinetics700_{size}")
    save_weights(pretrained, tmp_path / "kinetics.safetensors")
    cfg, model = _tiny(name)
    report = load_weights(model, tmp_path / "kinetics.safetensors", strict=False, ignore_prefixes=cfg.init.ignore)
    own = model.state_dict()
    fusion = [k for k in own if k.startswith("fusion.")]
    assert fusion and set(fusion) <= set(report.loaded)
    assert "image_tower.visual.conv1.weight" in report.loaded and "image_proj.weight" in report.loaded
    assert not [k for k in report.loaded if k.startswith(("heads", "pyramid"))]
    if cfg.model.tower.frame_token == "frame_cls" and size == "b":  # the per-frame tokens transfer as they are
        assert "image_tower.frame_cls" in report.loaded
        assert torch.equal(model.image_tower.frame_cls, pretrained.image_tower.frame_cls)
    for key in report.loaded:
        assert torch.equal(own[key], pretrained.state_dict()[key]), key


@pytest.mark.parametrize("size", ["b", "l"])
def test_one_pretraining_step_on_frames_trains_the_image_tower(size):
    torch.manual_seed(1)
    cfg, model = _tiny(f"kinetics700_{size}")
    tokenizer = build_tokenizer(cfg.model.tower)
    task = build_task(cfg.task, class_names=["abseiling", "air drumming", "zumba"], tokenizer=tokenizer)
    batch = make_batch(torch.randn(2, 4, 3, 32, 32), [[(0.0, 3.0, 1)], [(0.0, 3.0, 2)]], [1.0, 1.0])
    model.train()
    out = task.step(model, batch)
    out["loss"].backward()
    assert torch.isfinite(out["loss"]) and 0.0 <= float(out["top1"]) <= 1.0
    assert model.image_tower.visual.conv1.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.text_tower.parameters())  # frozen text tower
    if size == "b":
        assert model.image_tower.frame_cls.grad.abs().sum() > 0


def test_a_missing_kinetics_checkpoint_stops_the_run_in_one_line(tmp_path, capsys, monkeypatch):
    from unloc.cli import main

    monkeypatch.chdir(tmp_path)  # no runs/kinetics700_b here
    assert main(["train", "--paper", "charades_b", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "init.checkpoint runs/kinetics700_b/model.safetensors does not exist" in err
    assert "--set init.checkpoint=null" in err and not (tmp_path / "run").exists()
