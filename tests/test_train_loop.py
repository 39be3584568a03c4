"""The training loop: kill-and-resume is bit-identical, NaN stops cleanly, records, frozen parts, accumulation."""

from __future__ import annotations

import json
import math

import pytest
import torch
from test_train_toys import NoisyRegression, make_toy, mse_step, toy_config

from unloc.ops.losses import check_finite
from unloc.train import NonFiniteLossError, fit, latest_checkpoint, load_weights, seed_everything
from unloc.train import checkpoint as ckpt_mod
from unloc.train.runlog import read_jsonl


class Killed(Exception):
    """Stands in for a killed process."""


def _run(out_dir, *, kill_at=None, resume=False, **changes):
    """Train the toy (dropout + jittered data, so the generators matter) and return the model and history."""
    seed_everything(0)
    model = make_toy(0)
    seed_everything(7)  # the training generators, distinct from the model init
    hist = fit(model, mse_step, toy_config(**changes), out_dir=out_dir, dataset=NoisyRegression(), resume=resume,
               on_step_end=_killer(kill_at), progress=False)
    return model, hist


def _killer(kill_at):
    """An on_step_end callback that 'kills' the run right after update `kill_at` (and its checkpoint)."""

    def on_step_end(step, record):
        if step == kill_at:
            raise Killed(step)

    return on_step_end


def _same_weights(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def _without_timing(records):
    return [{k: v for k, v in r.items() if k not in ("time_sec", "samples_per_sec")} for r in records]


@pytest.mark.parametrize("kill_at, every_steps, resumed_from, workers", [
    (7, 0, 5, 0),  # killed in epoch 1: resumes at the epoch-0 boundary checkpoint
    (8, 3, 6, 0),  # killed at step 8: resumes mid-epoch from the step-6 checkpoint
    (7, 0, 5, 1),  # a loader worker draws the jitter: seeded by (seed, epoch), so epoch boundaries are exact too
])
def test_kill_and_resume_is_bit_identical(tmp_path, kill_at, every_steps, resumed_from, workers):
    changes = {"checkpoint_every_steps": every_steps, "num_workers": workers}
    ref_model, ref = _run(tmp_path / "ref", **changes)
    with pytest.raises(Killed):
        _run(tmp_path / "run", kill_at=kill_at, **changes)
    ckpt = latest_checkpoint(tmp_path / "run" / "checkpoints")
    assert ckpt.name == f"step-{resumed_from:09d}"
    model, hist = _run(tmp_path / "run", resume=True, **changes)
    assert _same_weights(model, ref_model)
    assert _without_timing(hist.steps) == _without_timing(ref.steps)  # the history file reads as one run
    assert _without_timing(read_jsonl(tmp_path / "run" / "history.jsonl")) == _without_timing(ref.steps)
    assert [e["epoch"] for e in read_jsonl(tmp_path / "run" / "epochs.jsonl")] == [0, 1, 2]
    assert hist.epochs[1]["loss"] == pytest.approx(ref.epochs[1]["loss"], abs=0, rel=1e-12)


def test_resume_without_generator_restore_would_differ(tmp_path, monkeypatch):
    """Guards the test above: dropout and jitter do draw from the generators, so their restore matters."""
    ref_model, _ = _run(tmp_path / "ref")
    with pytest.raises(Killed):
        _run(tmp_path / "run", kill_at=7)
    monkeypatch.setattr(ckpt_mod, "restore_rng_state", lambda state: None)
    model, _ = _run(tmp_path / "run", resume=True)
    assert not _same_weights(model, ref_model)


def test_resume_of_a_finished_run_changes_nothing(tmp_path):
    model, hist = _run(tmp_path)
    again, hist2 = _run(tmp_path, resume=True)
    assert _same_weights(model, again) and len(hist2.steps) == 15 and hist2.checkpoint == hist.checkpoint


def test_resume_refuses_a_changed_config(tmp_path):
    with pytest.raises(Killed):
        _run(tmp_path, kill_at=6)
    with pytest.raises(ValueError, match=r"base_lr: 0\.05 -> 0\.1"):
        _run(tmp_path, resume=True, base_lr=0.1)


@pytest.mark.parametrize("bad_key", ["loss", "abs_err"])
def test_nan_stops_at_the_step_without_a_nan_checkpoint(tmp_path, bad_key):
    calls = []

    def nan_at_third(model, batch):
        out = mse_step(model, batch)
        calls.append(1)
        if len(calls) == 3:
            out[bad_key] = out[bad_key] * float("nan")
        return out

    model = make_toy(0)
    with pytest.raises(NonFiniteLossError, match=rf"step 3\b.*{bad_key}=nan") as err:
        fit(model, nan_at_third, toy_config(checkpoint_every_steps=1), out_dir=tmp_path, dataset=NoisyRegression(),
            progress=False)
    assert err.value.step == 3 and math.isnan(err.value.components[bad_key])
    assert str(err.value).endswith(f"the update was not applied; last checkpoint: {tmp_path / 'checkpoints'}"
                                   f"/step-000000002") and "\n" not in str(err.value)
    assert all(torch.isfinite(p).all() for p in model.parameters())  # the update was not applied
    last = latest_checkpoint(tmp_path / "checkpoints")
    assert last.name == "step-000000002"
    fresh = make_toy(1)
    load_weights(fresh, last)
    assert _same_weights(fresh, model)  # the checkpoint holds the (finite) weights after step 2
    assert [r["step"] for r in read_jsonl(tmp_path / "history.jsonl")] == [1, 2]


def test_a_loss_function_that_raises_on_nan_is_reported_with_the_step(tmp_path):
    """unloc.ops.losses checks its own terms and raises FloatingPointError naming the term: the loop adds the step."""

    def nan_features_at_fourth(model, batch, calls=[]):  # noqa: B006 (counts calls)
        calls.append(1)
        out = mse_step(model, batch)
        terms = {"cls_loss": out["loss"] * (float("nan") if len(calls) == 4 else 1.0), "box_loss": out["abs_err"]}
        check_finite(terms)
        return {"loss": terms["cls_loss"] + terms["box_loss"]}

    model = make_toy(0)
    with pytest.raises(NonFiniteLossError, match=r"^non-finite loss at step 4 \(micro-step 1/1\): loss term "
                       r"'cls_loss' is not finite\b[^;]*; the update was not applied; no checkpoint written yet$") as err:
        fit(model, nan_features_at_fourth, toy_config(), out_dir=tmp_path, dataset=NoisyRegression(), progress=False)
    assert err.value.step == 4 and isinstance(err.value.__cause__, FloatingPointError)
    assert [r["step"] for r in read_jsonl(tmp_path / "history.jsonl")] == [1, 2, 3]


def test_non_finite_gradient_stops_too(tmp_path):
    def sqrt_of_zero(model, batch):
        out = mse_step(model, batch)
        out["loss"] = out["loss"] + torch.sqrt((model.heads.weight * 0).sum())  # finite value, NaN gradient
        return out

    with pytest.raises(NonFiniteLossError, match="gradient norm .* step 1"):
        fit(make_toy(0), sqrt_of_zero, toy_config(), out_dir=tmp_path, dataset=NoisyRegression(), progress=False)
    assert latest_checkpoint(tmp_path / "checkpoints") is None


def test_history_and_epoch_records(tmp_path):
    def eval_fn(model, epoch):
        assert not model.training
        return {"mse": 1.0 / (epoch + 1)}

    model = make_toy(0)
    hist = fit(model, mse_step, toy_config(epochs=2), out_dir=tmp_path, dataset=NoisyRegression(), eval_fn=eval_fn,
               progress=False)
    lines = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text().splitlines()]
    assert len(lines) == 10 and [r["step"] for r in lines] == list(range(1, 11))
    assert set(lines[0]) == {"step", "epoch", "lr", "loss", "abs_err", "grad_norm", "samples_per_sec", "time_sec"}
    assert lines[0]["lr"] == 0.0 and lines[1]["lr"] == pytest.approx(0.05 / 5)  # warmup from 0 over 5 steps
    epochs = [json.loads(line) for line in (tmp_path / "epochs.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in epochs] == [0, 1] and epochs[1]["eval/mse"] == 0.5
    assert epochs[0]["loss"] == pytest.approx(sum(r["loss"] for r in lines[:5]) / 5)
    assert hist.epochs == epochs and hist.steps == lines


def test_frozen_parts_stay_in_eval_mode_and_unchanged(tmp_path):
    model = make_toy(0)
    tower_before = model.towers[0].weight.detach().clone()
    modes = []

    def step(model, batch):
        modes.append((model.towers.training, model.towers[1].training, model.fusion.training))
        return mse_step(model, batch)

    fit(model, step, toy_config(epochs=1), out_dir=tmp_path, dataset=NoisyRegression(), progress=False)
    assert set(modes) == {(False, False, True)}
    assert torch.equal(model.towers[0].weight, tower_before)
    modes.clear()
    fit(make_toy(0, freeze_tower=False), step, toy_config(epochs=1), out_dir=tmp_path, dataset=NoisyRegression(),
        frozen_modules=("fusion",), progress=False)
    assert set(modes) == {(True, True, False)}


def test_gradient_accumulation_equals_the_full_batch(tmp_path):
    def run(accum):
        model = make_toy(0, dropout=0.0)
        fit(model, mse_step, toy_config(grad_accum_steps=accum), out_dir=tmp_path / str(accum),
            dataset=NoisyRegression(jitter=0.0), progress=False)
        return model

    one, four = run(1), run(4)
    for a, b in zip(one.parameters(), four.parameters()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def test_batch_factory_with_resume(tmp_path):
    data = NoisyRegression(jitter=0.0)

    def batches(epoch):
        order = torch.randperm(40, generator=torch.Generator().manual_seed(epoch))
        return [(data.x[order[i : i + 4]], data.y[order[i : i + 4]]) for i in range(0, 40, 4)]

    def run(out, **kw):
        model = make_toy(0)
        seed_everything(1)
        fit(model, mse_step, toy_config(grad_accum_steps=2, checkpoint_every_steps=2), out_dir=out, batches=batches,
            progress=False, **kw)
        return model

    ref = run(tmp_path / "ref")
    with pytest.raises(Killed):
        run(tmp_path / "run", on_step_end=_killer(9))
    assert _same_weights(run(tmp_path / "run", resume=True), ref)


def test_world_size_mismatch_is_explained(tmp_path):
    with pytest.raises(ValueError, match="launch"):
        fit(make_toy(0), mse_step, toy_config(world_size=2), out_dir=tmp_path, dataset=NoisyRegression(), progress=False)


def test_too_small_dataset_is_explained(tmp_path):
    with pytest.raises(ValueError, match="cannot fill one global batch of 8"):
        fit(make_toy(0), mse_step, toy_config(), out_dir=tmp_path, dataset=NoisyRegression(n=5), progress=False)
