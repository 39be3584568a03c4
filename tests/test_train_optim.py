"""LR schedule values worked by hand, per-module multipliers, frozen parameters, clipping, config validation."""

from __future__ import annotations

import math

import pytest
import torch
from test_train_toys import NoisyRegression, make_toy, mse_step, toy_config
from torch import nn

from unloc.train import LrSchedule, TrainConfig, build_optimizer, build_param_groups, fit
from unloc.train.optim import apply_lr, clip_gradients


def test_warmup_is_linear_from_zero():
    s = LrSchedule(total_steps=40, warmup_steps=10, kind="constant", base_lr=0.01)
    assert [s.factor(k) for k in (0, 1, 5, 9, 10, 39)] == [0.0, 0.1, 0.5, 0.9, 1.0, 1.0]
    group = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([{"params": [group], "base_lr": 0.02}], lr=0.0)
    assert apply_lr(optimizer, s, 5) == pytest.approx(0.005)  # the rate of multiplier 1
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.01)  # this group's base_lr x the factor


def test_cosine_reaches_zero_at_the_end():
    s = LrSchedule(total_steps=40, warmup_steps=10, kind="cosine")
    assert s.factor(10) == pytest.approx(1.0)
    assert s.factor(25) == pytest.approx(0.5)  # half-way through the 30 decay steps: (1 + cos(pi/2)) / 2
    assert s.factor(20) == pytest.approx(0.5 * (1 + math.cos(math.pi / 3)))
    assert s.factor(40) == pytest.approx(0.0, abs=1e-12) and s.factor(45) == pytest.approx(0.0, abs=1e-12)
    # warmup multiplies the decay (scenic's factor product): during warmup the cosine is still at 1
    assert s.factor(4) == pytest.approx(0.4)


def test_step_schedule_drops_by_gamma_at_each_boundary():
    cfg = TrainConfig(epochs=4, warmup_epochs=0.5, schedule="step", step_epochs=(2, 3), step_gamma=0.1)
    s = LrSchedule.from_config(cfg, steps_per_epoch=10)
    assert (s.warmup_steps, s.drop_steps, s.total_steps) == (5, (20, 30), 40)
    assert [s.factor(k) for k in (19, 20, 29)] == pytest.approx([1.0, 0.1, 0.1])
    assert s.factor(30) == pytest.approx(0.01)


def test_warmup_steps_truncate_like_the_configs():
    s = LrSchedule.from_config(TrainConfig(warmup_epochs=2.5, epochs=20), steps_per_epoch=155)
    assert s.warmup_steps == 387  # int(2.5 * 155) = int(387.5)


def test_multipliers_land_in_groups_and_frozen_params_are_left_out():
    model = make_toy(0)  # towers frozen
    cfg = TrainConfig(base_lr=0.01, lr_multipliers={"fusion": 10, "heads": 10}, weight_decay=0.05)
    opt = build_optimizer(model, cfg)
    lr_of = {id(p): g["base_lr"] for g in opt.param_groups for p in g["params"]}
    decay_of = {id(p): g["weight_decay"] for g in opt.param_groups for p in g["params"]}
    for name, p in model.named_parameters():
        if name.startswith("towers"):
            assert id(p) not in lr_of
        else:
            assert lr_of[id(p)] == pytest.approx(0.1)
            assert decay_of[id(p)] == (0.05 if p.ndim >= 2 else 0.0)
    assert isinstance(opt, torch.optim.SGD) and opt.defaults["momentum"] == 0.9
    assert sum(len(g["params"]) for g in opt.param_groups) == 4  # fusion + heads weight and bias


def test_longest_prefix_wins_and_unmatched_prefix_warns():
    model = nn.ModuleDict({"heads": nn.ModuleDict({"cls": nn.Linear(2, 2), "reg": nn.Linear(2, 2)})})
    with pytest.warns(UserWarning, match="pyramid"):
        groups = build_param_groups(model, base_lr=1.0, lr_multipliers={"heads": 10, "heads.cls": 3, "pyramid": 10},
                                    weight_decay=0.0)
    lr_of = {id(p): g["lr"] for g in groups for p in g["params"]}
    assert lr_of[id(model["heads"]["cls"].weight)] == 3 and lr_of[id(model["heads"]["reg"].weight)] == 10
    # "heads" must not capture a sibling that merely starts with the same letters
    other = nn.ModuleDict({"headsX": nn.Linear(2, 2)})
    with pytest.warns(UserWarning):
        (g,) = build_param_groups(other, base_lr=1.0, lr_multipliers={"heads": 10}, weight_decay=0.0)
    assert g["lr"] == 1.0


def test_all_frozen_model_is_an_error():
    model = nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameter"):
        build_param_groups(model, base_lr=1.0, lr_multipliers={}, weight_decay=0.0)


def test_adamw_option_and_apply_lr():
    model = make_toy(0)
    cfg = TrainConfig(optimizer="adamw", base_lr=0.001, momentum=0.9, lr_multipliers={"fusion": 10, "heads": 10})
    opt = build_optimizer(model, cfg)
    assert isinstance(opt, torch.optim.AdamW) and opt.defaults["betas"] == (0.9, 0.999)
    s = LrSchedule(total_steps=10, warmup_steps=4, base_lr=0.001)
    assert apply_lr(opt, s, 2) == pytest.approx(0.0005)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.005])  # fusion and heads: one 10x group


def test_clip_gradients_scales_to_global_norm_one():
    params = [nn.Parameter(torch.zeros(2)), nn.Parameter(torch.zeros(1)), nn.Parameter(torch.zeros(3))]
    params[0].grad, params[1].grad = torch.tensor([3.0, 0.0]), torch.tensor([4.0])  # global norm 5; params[2]: none
    norm = clip_gradients(params, 1.0)
    assert float(norm) == pytest.approx(5.0)
    assert torch.cat([params[0].grad, params[1].grad]).norm() == pytest.approx(1.0, abs=1e-5)
    assert params[0].grad.tolist() == pytest.approx([0.6, 0.0], abs=1e-5)
    small = [nn.Parameter(torch.zeros(1))]
    small[0].grad = torch.tensor([0.5])
    assert float(clip_gradients(small, 1.0)) == 0.5 and small[0].grad.item() == 0.5  # below the cap: untouched


def test_trainer_applies_clipping_and_multiplied_lr(tmp_path):
    """One update of plain SGD on a huge loss: the step equals lr x unit-norm gradient."""
    model = make_toy(0, dropout=0.0)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}

    def huge(model, batch):
        return {"loss": mse_step(model, batch)["loss"] * 1e4}

    cfg = toy_config(epochs=1, warmup_epochs=0, schedule="constant", base_lr=0.01,
                     lr_multipliers={"fusion": 10.0, "heads": 10.0})
    hist = fit(model, huge, cfg, out_dir=tmp_path, dataset=NoisyRegression(n=8), progress=False)
    assert hist.steps[0]["grad_norm"] > 100 and hist.steps[0]["lr"] == pytest.approx(0.01)
    deltas = [(model.state_dict()[n] - before[n]) / 0.1 for n in before if not n.startswith("towers")]
    assert torch.cat([d.flatten() for d in deltas]).norm() == pytest.approx(1.0, abs=1e-4)
    assert all(torch.equal(model.state_dict()[n], before[n]) for n in before if n.startswith("towers"))


@pytest.mark.parametrize("changes, match", [
    ({"optimizer": "adam"}, "optimizer"),
    ({"schedule": "linear"}, "schedule"),
    ({"precision": "fp16"}, "precision"),
    ({"global_batch_size": 10, "world_size": 4}, "divisible"),
    ({"step_epochs": (3, 1)}, "ascending"),
    ({"epochs": 0}, "epochs"),
    ({"lr_multipliers": {"": 2}}, "lr_multipliers"),
])
def test_config_rejects_bad_values(changes, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**changes)


def test_config_defaults_are_the_official_recipe():
    cfg = TrainConfig()
    assert (cfg.optimizer, cfg.momentum, cfg.weight_decay, cfg.base_lr) == ("sgd", 0.9, 0.0, 0.01)
    assert (cfg.global_batch_size, cfg.clip_grad_norm, cfg.precision) == (64, 1.0, "fp32")
    assert cfg.lr_multipliers == {"fusion": 10.0, "pyramid": 10.0, "heads": 10.0}
    assert TrainConfig(global_batch_size=64, world_size=2, grad_accum_steps=4).micro_batch_size == 8
