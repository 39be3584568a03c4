"""Task datasets on a tiny generated mini-world: frames and cached features, zero-shot relabelling, captions,
fixed-rate windows stitched back over whole videos, unreadable and missing videos, and a `fit` run on them."""

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
import safetensors.torch
import torch
from tasks_common import one_thread, tiny_model, tokenizer  # noqa: F401

from unloc.cli import main as unloc_main
from unloc.data.build import build_task_dataset
from unloc.data.collate import collate_task
from unloc.data.config import ImageConfig, SamplingConfig, SplitSource, TaskDataConfig
from unloc.data.datasets import eval_batches, train_batches
from unloc.data.formats import read_annotations
from unloc.data.sampling import fps_sample_times
from unloc.data.video import VideoFile
from unloc.model.build import build_image_tower
from unloc.model.clip_loader import create_clip
from unloc.model.config import TINY_ARCH, TowerConfig
from unloc.ops.segments import linspace_sec_per_unit
from unloc.study.miniworld import SIZES, generate_world
from unloc.tasks import TaskConfig, build_task, predict_all
from unloc.train import TrainConfig, fit

F = 16
IMAGE = ImageConfig(crop_size=32, short_side=37)  # `unloc extract-features` default short side for a 32 px crop


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("miniworld")
    generate_world(root, SIZES["tiny"], seed=0, only=("anet13", "charades_sta", "coin"))
    return root


def tal_config(world, **changes):
    cfg = TaskDataConfig(train=SplitSource(str(world / "anet13/activity_net.v1-3.min.json"), "training"),
                         eval=SplitSource("", "validation"), video_root=str(world / "anet13/videos"),
                         sampling=SamplingConfig(num_frames=F), image=IMAGE)
    return replace(cfg, **changes)


def check_class_batch(batch, ds, ann):
    """Shapes, units and labels of a class-task batch against the annotation file and the decoder."""
    b = len(batch)
    assert batch.video.shape[:2] == (b, F) and batch.video_mask.all() and torch.isfinite(batch.video).all()
    for i, video_id in enumerate(batch.video_ids):
        video = VideoFile(next((ann.path.parent / "videos").glob(f"*{video_id}.mp4")))
        assert batch.sec_per_unit[i].item() == pytest.approx(linspace_sec_per_unit(video.num_frames, video.fps, F))
        record = ann.videos[video_id]
        assert batch.duration_sec[i].item() == record.duration_sec
        kept = batch.labels[i] >= 0
        got = sorted((ds.class_names[int(c)], round(float(s) * batch.sec_per_unit[i].item(), 4))
                     for c, (s, _) in zip(batch.labels[i][kept], batch.segments[i][kept]))
        want = sorted((seg.label, round(seg.start_sec, 4)) for seg in record.segments if seg.label in ds.class_names)
        assert got == want


def test_tal_frames_batch_is_well_formed(world):
    ds = build_task_dataset(tal_config(world), "tal", "train", tokenizer=tokenizer())
    ann = read_annotations(world / "anet13/activity_net.v1-3.min.json", split="training")
    assert ds.class_names == list(ann.classes) and len(ds) == len(ann.videos)
    batch = collate_task([ds[i] for i in range(len(ds))])
    assert batch.video.shape[2:] == (3, 32, 32) and batch.text is None and not batch.skipped
    check_class_batch(batch, ds, ann)


def test_zero_shot_split_relabels_training_to_seen_and_evaluation_to_unseen(world, tmp_path):
    path = world / "anet13/activity_net.v1-3.min.json"
    train_names = sorted({s.label for v in read_annotations(path, split="training").videos.values() for s in v.segments})
    eval_names = sorted({s.label for v in read_annotations(path, split="validation").videos.values() for s in v.segments})
    seen, unseen = train_names[::2], train_names[1::2] + [n for n in eval_names if n not in train_names]
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"seen": seen, "unseen": unseen}))
    cfg = tal_config(world, class_split=str(split), eval=SplitSource(str(path), None))  # eval on every video
    train = build_task_dataset(cfg, "tal", "train", tokenizer=tokenizer())
    test = build_task_dataset(cfg, "tal", "eval", tokenizer=tokenizer())
    assert train.class_names == seen and test.class_names == unseen
    check_class_batch(collate_task([train[i] for i in range(len(train))]), train, read_annotations(path))
    check_class_batch(collate_task([test[i] for i in range(len(test))]), test, read_annotations(path))
    assert train.report.counts["segments of other classes"] > 0
    task = build_task(TaskConfig(regression_ranges=((0, 4), (4, 8), (8, None)), prompt_mode="first"),
                      class_names=train.class_names, eval_class_names=test.class_names, tokenizer=tokenizer())
    detections = predict_all(task, tiny_model(), eval_batches(test, batch_size=2))["results"]
    assert set(detections) == {e.video_id for e in test.entries}
    assert {d["label"] for dets in detections.values() for d in dets} <= set(unseen)


@pytest.fixture(scope="module")
def feature_setup(world, tmp_path_factory):
    """A cache written by `unloc extract-features` with a saved tiny CLIP, and that tower's config."""
    tmp = tmp_path_factory.mktemp("features")
    arch_file, weights = tmp / "tiny.json", tmp / "tiny.safetensors"
    arch_file.write_text(json.dumps(TINY_ARCH))
    safetensors.torch.save_file(create_clip(TowerConfig(arch=TINY_ARCH, pretrained=None)).state_dict(), weights)
    code = unloc_main(["extract-features", "--videos", str(world / "anet13/videos"), "--cache", str(tmp / "cache"),
                       "--arch", str(arch_file), "--pretrained", str(weights), "--frames", str(F), "--workers", "0",
                       "--device", "cpu", "--no-progress"])
    assert code == 0
    return tmp / "cache", TowerConfig(arch=TINY_ARCH, pretrained=str(weights), freeze_image=True)


def test_cached_features_give_the_same_batch_as_decoded_frames(world, feature_setup):
    cache_root, tower = feature_setup
    cfg = tal_config(world, feature_cache=str(cache_root))
    feats = build_task_dataset(cfg, "tal", "eval", tokenizer=tokenizer(), tower=tower)
    frames = build_task_dataset(cfg, "tal", "eval", tokenizer=tokenizer(), tower=replace(tower, freeze_image=False))
    fb, vb = collate_task([feats[i] for i in range(len(feats))]), collate_task([frames[i] for i in range(len(frames))])
    assert fb.video.shape == (len(fb), F, 32) and vb.video.dim() == 5
    for name in ("sec_per_unit", "t0_sec", "timestamps_sec", "duration_sec", "segments", "labels"):
        assert torch.allclose(getattr(fb, name), getattr(vb, name)), name
    assert fb.video_ids == vb.video_ids
    encoder = build_image_tower(tower).eval()
    with torch.no_grad():
        encoded = encoder(vb.video.flatten(0, 1)).reshape(fb.video.shape)
    assert torch.allclose(fb.video, encoded, atol=2e-2)  # cached as float16
    check_class_batch(fb, feats, read_annotations(world / "anet13/activity_net.v1-3.min.json"))
    same_dir = build_task_dataset(replace(cfg, feature_cache=str(next(cache_root.iterdir()))), "tal", "eval",
                                  tokenizer=tokenizer())  # a cache directory needs no tower
    assert torch.equal(collate_task([same_dir[0]]).video, fb.video[:1])


def test_fit_trains_on_task_batches(world, feature_setup, tmp_path):
    cache_root, tower = feature_setup
    ds = build_task_dataset(tal_config(world, feature_cache=str(cache_root)), "tal", "train", tokenizer=tokenizer(),
                            tower=tower)
    task = build_task(TaskConfig(regression_ranges=((0, 4), (4, 8), (8, None))), class_names=ds.class_names,
                      tokenizer=tokenizer())
    cfg = TrainConfig(epochs=2, global_batch_size=2, base_lr=0.01, warmup_epochs=0)
    history = fit(tiny_model(), task.step, cfg, out_dir=tmp_path / "run", batches=train_batches(ds, cfg, seed=0),
                  progress=False)
    assert len(history.steps) == 2 * (len(ds) // 2) and all(np.isfinite(s["loss"]) for s in history.steps)


def test_caption_items_per_video_and_per_query(world):
    cfg = TaskDataConfig(train=SplitSource(str(world / "charades_sta/charades_sta_train.txt")),
                         video_root=str(world / "charades_sta/videos"), sampling=SamplingConfig(num_frames=F),
                         image=IMAGE)
    ann = read_annotations(world / "charades_sta/charades_sta_train.txt")
    by_qid = {q.query_id: q for q in ann.queries}
    per_video = build_task_dataset(cfg, "mr", "train", tokenizer=tokenizer())
    assert len(per_video) == len({q.video_id for q in ann.queries})
    draws = []
    for epoch in range(6):
        per_video.set_epoch(epoch)
        draws.append([per_video[i].query_ids[0] for i in range(len(per_video))])
    per_video.set_epoch(0)
    assert draws[0] == [per_video[i].query_ids[0] for i in range(len(per_video))]  # deterministic
    assert len({tuple(d) for d in draws}) > 1  # one random caption per video, redrawn per epoch
    per_query = build_task_dataset(replace(cfg, mr_items="query"), "mr", "train", tokenizer=tokenizer())
    evaluation = build_task_dataset(cfg, "mr", "eval", tokenizer=tokenizer())
    assert len(per_query) == len(ann.queries) and len(evaluation) == len(per_video)
    batch = collate_task([evaluation[i] for i in range(len(evaluation))])
    assert sorted(batch.query_ids) == sorted(by_qid) and batch.text.shape == (len(ann.queries), 16)
    for j, qid in enumerate(batch.query_ids):
        query, row = by_qid[qid], int(batch.text_video_idx[j])
        assert batch.video_ids[row] == query.video_id
        assert batch.windows_sec[j][batch.windows_mask[j]].tolist() == [list(w) for w in query.windows]
        spans = batch.segments[row][batch.labels[row] == j] * batch.sec_per_unit[row]
        assert torch.allclose(spans.double(), torch.tensor(query.windows, dtype=torch.float64), atol=1e-4)
    assert torch.equal(batch.text[:1], tokenizer()([by_qid[batch.query_ids[0]].text]))


def test_segmentation_windows_cover_every_sample_exactly_once(world):
    cfg = TaskDataConfig(train=SplitSource(str(world / "coin/COIN.json"), "training"), eval=SplitSource("", None),
                         video_root=str(world / "coin/videos"), sampling=SamplingConfig(fps=2.0, window=12),
                         image=IMAGE, max_segments=28)
    train = build_task_dataset(cfg, "seg", "train", tokenizer=tokenizer())
    item = train[0]
    assert item.frames.shape == (12, 3, 32, 32) and item.sec_per_unit == 0.5 and item.t0_sec == item.window_start / 2
    test = build_task_dataset(cfg, "seg", "eval", tokenizer=tokenizer(), class_names=train.class_names)
    task = build_task(TaskConfig(kind="seg", prompt_mode="middle"), class_names=test.class_names, tokenizer=tokenizer())
    stitched = predict_all(task, tiny_model(segmentation=True), eval_batches(test, batch_size=3))
    assert set(stitched) == {e.video_id for e in test.entries}
    for video_id, out in stitched.items():
        video = VideoFile(next((world / "coin/videos").glob(f"{video_id}.mp4")))
        expected = fps_sample_times(video.duration_sec, 2.0)
        assert out["scores"].shape == (len(expected), len(test.class_names))
        # the frame on screen at each sample time started at most one frame period earlier
        assert np.all((out["timestamps_sec"] <= expected + 1e-6) & (out["timestamps_sec"] > expected - 1 / video.fps))


def test_unreadable_and_missing_videos_are_counted(world, tmp_path):
    videos = tmp_path / "videos"
    shutil.copytree(world / "anet13/videos", videos)
    broken = sorted(videos.iterdir())
    broken[0].write_bytes(b"not a video")
    broken[1].unlink()
    cfg = tal_config(world, video_root=str(videos), eval=SplitSource("", None))
    test = build_task_dataset(cfg, "tal", "eval", tokenizer=tokenizer())
    assert test.report.counts["videos without a file"] == 1 and len(test) == 5
    skipped = []
    ids = [vid for batch in eval_batches(test, batch_size=2, skipped=skipped) for vid in batch.video_ids]
    assert len(ids) == 4 and [s.path for s in skipped] == [str(broken[0])]
    train = build_task_dataset(replace(cfg, train=SplitSource(cfg.train.annotations, None)), "tal", "train",
                               tokenizer=tokenizer())
    index = next(i for i, e in enumerate(train.entries) if broken[0].stem.endswith(e.video_id))
    item = train[index]
    assert [s.path for s in item.skipped] == [str(broken[0])] and item.video_id == train.entries[(index + 1) % len(train)].video_id
    assert collate_task([item]).skipped == item.skipped
    with pytest.raises(FileNotFoundError, match="1 videos of .* have no file"):
        build_task_dataset(replace(cfg, skip_bad=False), "tal", "eval", tokenizer=tokenizer())


def test_segment_cap_and_split_file_errors_are_reported(world, tmp_path):
    capped = build_task_dataset(tal_config(world, max_segments=1), "tal", "train", tokenizer=tokenizer())
    ann = read_annotations(world / "anet13/activity_net.v1-3.min.json", split="training")
    extra = sum(max(len(v.segments) - 1, 0) for v in ann.videos.values())
    assert extra > 0 and capped.report.counts["segments past max_segments=1 (official: the first are kept)"] == extra
    first = {v.video_id: v.segments[0] for v in ann.videos.values()}
    for i in range(len(capped)):
        item = capped[i]
        assert item.labels.tolist() == [first[item.video_id].class_idx]
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"seen": [ann.classes[0], "no such class"], "unseen": [ann.classes[1]]}))
    with pytest.raises(ValueError, match=f"{split}: class 'no such class'"):
        build_task_dataset(tal_config(world, class_split=str(split)), "tal", "train", tokenizer=tokenizer())
