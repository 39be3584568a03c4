"""A non-finite loss is the trainer's to stop on, not the task's: the tasks call the losses with `check=False`, and the
trainer's check on the rank-mean values stops every rank at the same step. A loss that raised on its own would stop
one rank of a DDP run while the others wait in the all-reduce."""

import math

import pytest
import torch
from tasks_common import FEATURE_DIM, TEMPLATES, make_batch, one_thread, tiny_model, tokenizer  # noqa: F401

from unloc.tasks import TaskConfig, build_task
from unloc.train import NonFiniteLossError, TrainConfig, fit, launch, world_info

CLASSES = ["red circle growing", "blue square spinning", "green star moving up"]
CONFIGS = {"tal": TaskConfig(regression_ranges=((0.0, 4.0), (4.0, 8.0), (8.0, None)), prompt_mode="first"),
           "seg": TaskConfig(kind="seg", prompt_mode="first"),
           "video_pretrain": TaskConfig(kind="video_pretrain", prompt_mode="first")}


def _nan_batch(videos: int = 2, nan: bool = True):
    features = torch.randn(videos, 16, FEATURE_DIM)
    if nan:
        features[0, 3] = float("nan")
    return make_batch(features, [[(1.0, 3.0, i % 3)] for i in range(videos)], [0.5] * videos)


def _task(kind):
    return build_task(CONFIGS[kind], class_names=CLASSES, tokenizer=tokenizer(), templates=TEMPLATES)


@pytest.mark.parametrize("kind", sorted(CONFIGS))
def test_the_task_returns_a_non_finite_loss_instead_of_raising(kind):
    torch.manual_seed(0)
    out = _task(kind).step(tiny_model(segmentation=kind == "seg"), _nan_batch())
    assert not math.isfinite(float(out["loss"].detach()))


def test_the_trainer_stops_naming_the_step_and_the_terms(tmp_path):
    torch.manual_seed(0)
    cfg = TrainConfig(epochs=1, global_batch_size=2, warmup_epochs=0.0)
    with pytest.raises(NonFiniteLossError, match=r"^non-finite loss at step 1 \(micro-step 1/1\): .*loss=nan") as err:
        fit(tiny_model(), _task("tal").step, cfg, out_dir=tmp_path, batches=lambda epoch: [_nan_batch()], progress=False)
    assert err.value.__cause__ is None  # the trainer's own check, not a loss function's exception
    assert err.value.step == 1 and math.isnan(err.value.components["loss"])


def _one_rank_diverges(out_dir: str) -> None:
    """Rank 1's only video is NaN, rank 0's is fine: both must stop at step 1 (rank 0's error reaches the parent)."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    batch = _nan_batch(videos=1, nan=world_info().rank == 1)
    cfg = TrainConfig(epochs=1, global_batch_size=2, world_size=2, warmup_epochs=0.0)
    fit(tiny_model(), _task("tal").step, cfg, out_dir=out_dir, batches=lambda epoch: [batch], progress=False,
        find_unused_parameters=True)


@pytest.mark.slow
def test_under_ddp_every_rank_stops_when_one_rank_diverges(tmp_path):
    with pytest.raises(NonFiniteLossError, match=r"step 1 .*loss=nan"):
        launch(_one_rank_diverges, 2, str(tmp_path))
