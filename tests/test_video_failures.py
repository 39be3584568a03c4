"""Missing and undecodable training videos are named with the reason (issue 15, item 9), on both paths: the feature
cache (extraction remembers why a video has no features, the dataset report says it) and decoded frames (the training
loader names each video it had to replace). The counted-skip policy stays: the run goes on without them."""

import logging
import shutil
from dataclasses import replace

import pytest
import torch
import yaml
from tasks_common import one_thread, tokenizer  # noqa: F401
from test_experiment import TINY_MODEL
from torch import nn

from unloc.config import load_config
from unloc.data.build import build_task_dataset
from unloc.data.cache_failures import NO_FILE, NOT_EXTRACTED, UNREADABLE, failure_path, missing_reasons
from unloc.data.config import ImageConfig, SamplingConfig, SplitSource, TaskDataConfig
from unloc.data.datasets import train_batches
from unloc.data.extract import extract_features, fill_feature_cache
from unloc.data.feature_spec import feature_spec
from unloc.data.features import FeatureCache
from unloc.data.sampling import LinspaceSampling
from unloc.data.transforms import FrameTransform
from unloc.study.miniworld import SIZES, generate_world
from unloc.train import TrainConfig

F = 4
TF = FrameTransform(crop_size=32, short_side=37)


class MeanColour(nn.Module):
    """frames (c, 3, 32, 32) -> (c, 3): enough of an encoder to fill a cache."""

    def forward(self, frames):
        return frames.mean(dim=(2, 3))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("failures")
    generate_world(root, SIZES["tiny"], seed=0, only=("anet13",))
    return root


@pytest.fixture
def damaged(world, tmp_path):
    """A copy of the anet13 videos with one truncated (undecodable) and one deleted: (folder, truncated, deleted)."""
    videos = tmp_path / "videos"
    shutil.copytree(world / "anet13/videos", videos)
    truncated, deleted = sorted(videos.iterdir())[:2]
    truncated.write_bytes(truncated.read_bytes()[:3000])
    deleted.unlink()
    return videos, truncated, deleted


def data_config(world, videos, **changes):
    annotations = str(world / "anet13/activity_net.v1-3.min.json")
    return replace(TaskDataConfig(train=SplitSource(annotations, None), eval=SplitSource("", None),
                                  video_root=str(videos), sampling=SamplingConfig(num_frames=F),
                                  image=ImageConfig(crop_size=32, short_side=37)), **changes)


def annotation_id(path):
    return path.stem.removeprefix("v_")


def test_the_cache_remembers_why_a_video_has_no_features(world, damaged, tmp_path):
    videos, truncated, deleted = damaged
    spec = feature_spec(tower="mean-colour", checkpoint="tag:test", frame_token="cls", sampling=LinspaceSampling(F),
                        transform=TF, dtype="float32")
    cache = FeatureCache.create(tmp_path / "cache", spec)
    files = {p.stem: str(p) for p in sorted(videos.iterdir())}
    report = extract_features(files, cache, MeanColour(), LinspaceSampling(F), TF, progress=False)
    assert [path for path, _ in report.failed] == [str(truncated)] and len(report.encoded) == len(files) - 1
    assert failure_path(cache, truncated.stem).is_file()
    not_extracted = max(videos.iterdir())
    cache.path(not_extracted.stem).unlink()

    ds = build_task_dataset(data_config(world, videos, feature_cache=str(cache.dir)), "tal", "train",
                            tokenizer=tokenizer())
    counts, examples = ds.report.counts, ds.report.examples
    assert (counts[UNREADABLE], counts[NO_FILE], counts[NOT_EXTRACTED]) == (1, 1, 1)
    (unreadable,) = examples[UNREADABLE]
    reason = dict(report.failed)[str(truncated)]
    assert unreadable == f"{annotation_id(truncated)} ({truncated}: {reason})" and reason  # id, file and why
    assert examples[NO_FILE] == [f"{annotation_id(deleted)} (none under {videos})"]
    assert examples[NOT_EXTRACTED] == [annotation_id(not_extracted)]
    assert "videos not in the feature cache: " not in ds.report.summary()  # the old catch-all is gone
    assert len(ds) == len(files) - 2

    # the file is replaced by a readable one: the old reason no longer applies, and extraction clears it
    shutil.copyfile(not_extracted, truncated)
    ids = [annotation_id(truncated)]
    assert missing_reasons(cache, ids, videos) == {ids[0]: (NOT_EXTRACTED, ids[0])}
    again = extract_features(files, cache, MeanColour(), LinspaceSampling(F), TF, progress=False)
    assert truncated.stem in again.encoded and not failure_path(cache, truncated.stem).exists()


def test_a_stage_filling_its_cache_names_each_video_it_skips(world, damaged, tmp_path, caplog):
    videos, truncated, deleted = damaged
    from safetensors.torch import save_file

    from unloc.model.build import build_image_tower
    from unloc.model.clip_loader import create_clip
    from unloc.model.config import TowerConfig

    weights = tmp_path / "tiny_clip.safetensors"
    clip = create_clip(TowerConfig(**{**TINY_MODEL["tower"], "pretrained": None}))
    save_file({k: v.contiguous() for k, v in clip.state_dict().items()}, weights)
    annotations = str(world / "anet13/activity_net.v1-3.min.json")
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"tal": {
        "model": {**TINY_MODEL, "tower": {**TINY_MODEL["tower"], "pretrained": str(weights), "freeze_image": True}},
        "task": {"kind": "tal", "regression_ranges": [[0, 4], [4, None]]},
        "data": {"train": {"annotations": annotations, "split": None}, "eval": {"split": None},
                 "video_root": str(videos), "feature_cache": str(tmp_path / "features"),
                 "image": {"crop_size": 32, "short_side": 32}, "sampling": {"num_frames": F}}}}))
    cfg = load_config("tal", params)
    with caplog.at_level(logging.WARNING, logger="unloc.data.extract"):
        reports = fill_feature_cache(cfg.data, cfg.model.tower, build_image_tower(cfg.model.tower).eval(),
                                     progress=False)
    assert [len(r.failed) for r in reports] == [1, 1]  # the eval role (same videos) tries the unreadable one again
    warnings = [r.getMessage() for r in caplog.records if "could not be encoded" in r.getMessage()]
    assert len(warnings) == 2 and "(eval)" in warnings[1].splitlines()[0]
    lines = warnings[0].splitlines()
    assert lines[0].startswith("2 video(s) of ") and "(train)" in lines[0]
    assert f"  {annotation_id(deleted)}: no video file under {videos}" in lines
    assert any(line.startswith(f"  {truncated}: ") and len(line) > len(f"  {truncated}: ") for line in lines)


def test_training_on_frames_names_each_replaced_video_once(world, damaged, caplog):
    videos, truncated, _ = damaged
    ds = build_task_dataset(data_config(world, videos), "tal", "train", tokenizer=tokenizer())
    cfg = TrainConfig(epochs=2, global_batch_size=1, warmup_epochs=0.0)
    batches = train_batches(ds, cfg, seed=0)
    with caplog.at_level(logging.WARNING, logger="unloc.data.datasets"):
        for epoch in range(2):
            seen = [video_id for batch in batches(epoch) for video_id in batch.video_ids]
            assert len(seen) == len(ds) and annotation_id(truncated) not in seen  # replaced, batches keep their size
    warnings = [r.getMessage() for r in caplog.records if r.name == "unloc.data.datasets"]
    assert len(warnings) == 1, warnings  # once per run, not once per epoch
    assert warnings[0].startswith(f"training video {truncated} could not be read and is replaced")
    assert warnings[0].split("so far): ")[1].strip()  # and why
    assert torch.is_tensor(next(iter(batches(0))).video)
