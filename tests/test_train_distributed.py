"""Data parallelism: sharding of the global order, 2 gloo processes = 1 process."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from test_train_toys import NoisyRegression, make_toy, mse_step, toy_config

from unloc.train import (
    EpochShardSampler,
    NonFiniteLossError,
    ResumeError,
    TrainConfig,
    fit,
    is_main,
    launch,
    world_info,
)
from unloc.train.distributed import all_gather_objects
from unloc.train.sampler import epoch_order


def _shard_steps(rank, world, accum, *, start=0, epoch=0, n=37, batch=8):
    s = EpochShardSampler(n, global_batch_size=batch, seed=3, rank=rank, world_size=world, grad_accum_steps=accum)
    s.set_epoch(epoch)
    s.set_start_step(start)
    idx = list(s)
    assert len(idx) == len(s)
    return np.array(idx).reshape(-1, accum, batch // (world * accum))  # (step, micro, sample)


@pytest.mark.parametrize("world, accum", [(1, 1), (2, 1), (2, 2), (4, 2)])
def test_ranks_split_each_global_batch_of_one_order(world, accum):
    order = epoch_order(37, 3, 0)
    shards = [_shard_steps(r, world, accum) for r in range(world)]
    assert all(s.shape[0] == 37 // 8 for s in shards)  # the last partial batch is dropped
    for step in range(37 // 8):
        # micro-step m of rank r holds chunk m * world + r of the global batch
        chunks = [shards[r][step, m] for m in range(accum) for r in range(world)]
        assert np.array_equal(np.concatenate(chunks), order[step * 8 : (step + 1) * 8])


def test_order_is_a_function_of_seed_and_epoch_and_resumes_mid_epoch():
    assert np.array_equal(_shard_steps(1, 2, 1, epoch=2), _shard_steps(1, 2, 1, epoch=2))
    assert not np.array_equal(_shard_steps(0, 1, 1, epoch=0), _shard_steps(0, 1, 1, epoch=1))
    assert np.array_equal(_shard_steps(1, 2, 2, start=3), _shard_steps(1, 2, 2)[3:])
    assert sorted(epoch_order(37, 3, 5).tolist()) == list(range(37))


def test_single_process_helpers():
    assert world_info().world_size == 1 and is_main()
    assert all_gather_objects("x") == ["x"]
    assert launch(sum, 1, [1, 2, 3]) == 6


def _cfg(world_size, accum):
    return toy_config(epochs=2, world_size=world_size, grad_accum_steps=accum, checkpoint_every_epochs=0)


def _rank_entry(out_dir: str) -> dict:
    """Runs on each of 2 spawned ranks: train with DDP, then gather every rank's number."""
    info = world_info()
    model = make_toy(0, dropout=0.0)
    hist = fit(model, mse_step, _cfg(2, 2), out_dir=out_dir, dataset=NoisyRegression(jitter=0.0), progress=False)
    return {"weights": {k: v.clone() for k, v in model.state_dict().items()}, "steps": hist.steps,
            "ranks": all_gather_objects(info.rank), "main": is_main()}


def test_two_gloo_processes_equal_one_process(tmp_path):
    out = launch(_rank_entry, 2, str(tmp_path / "ddp"))
    assert out["main"]
    single = make_toy(0, dropout=0.0)
    ref = fit(single, mse_step, _cfg(1, 1), out_dir=tmp_path / "one", dataset=NoisyRegression(jitter=0.0), progress=False)
    for name, value in single.state_dict().items():
        torch.testing.assert_close(out["weights"][name], value, atol=1e-6, rtol=1e-5, msg=name)
    assert [r["step"] for r in out["steps"]] == [r["step"] for r in ref.steps]
    assert [r["loss"] for r in out["steps"]] == pytest.approx([r["loss"] for r in ref.steps], rel=1e-5)
    assert (tmp_path / "ddp" / "history.jsonl").is_file()  # written by rank 0 only (same file, no duplicates)
    assert len((tmp_path / "ddp" / "history.jsonl").read_text().splitlines()) == 10

    assert out["ranks"] == [0, 1]


def test_config_world_size_must_divide_the_batch():
    with pytest.raises(ValueError, match="divisible"):
        TrainConfig(global_batch_size=6, world_size=4)


def _refuse_to_resume(note: str) -> None:
    raise ResumeError(f"cannot resume: {note}", "missing")


def test_launch_raises_rank_0s_error_in_the_parent():
    """So that `unloc train --world-size 2` turns a ResumeError or NonFiniteLossError into one line, as with one rank."""
    with pytest.raises(ResumeError, match="^cannot resume: gone$") as err:
        launch(_refuse_to_resume, 2, "gone")
    assert err.value.reason == "missing" and "_refuse_to_resume" in str(err.value.__cause__)  # the rank's traceback
    error = NonFiniteLossError("non-finite loss at step 3: loss=nan", step=3, components={"loss": float("nan")},
                               checkpoint=Path("ckpt/step-000000002"))
    back = pickle.loads(pickle.dumps(error))
    assert str(back) == str(error) and (back.step, back.checkpoint) == (3, error.checkpoint)
