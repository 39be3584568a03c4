"""Clip datasets through the library's loaders (`TaskDataset.unannotated` + `eval_batches` / `train_batches`): batch
layout, windows, determinism across workers, and skipped-video reports."""

import logging

import numpy as np
import pytest
import torch
from videowrite import write_video

from unloc.data.clips import BadVideo, FrameDataset, item_generator
from unloc.data.collate import collate_task
from unloc.data.datasets import TaskDataset, eval_batches, train_batches
from unloc.data.sampling import FpsSampling, LinspaceSampling
from unloc.data.transforms import FrameTransform
from unloc.data.video import VideoDecodeError
from unloc.train import TrainConfig

TEST_TF = FrameTransform(crop_size=16, short_side=20)
TRAIN_TF = FrameTransform(crop_size=16, short_side=20, train=True)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """Three 10-fps videos of 30, 45 and 60 frames (3, 4.5, 6 s), 24x32 px, plus a garbage file."""
    root = tmp_path_factory.mktemp("loader")
    rng = np.random.default_rng(0)
    paths = []
    for number, count in enumerate((30, 45, 60)):
        path = root / f"vid{number}.mp4"
        write_video(path, rng.integers(0, 256, (count, 24, 32, 3), dtype=np.uint8), fps=10)
        paths.append(str(path))
    bad = root / "broken.mp4"
    bad.write_bytes(b"not a video" * 50)
    return paths, str(bad)


def batches(clips, batch_size, **kwargs):
    return list(eval_batches(TaskDataset.unannotated(clips), batch_size=batch_size, **kwargs))


def test_linspace_batches(videos):
    paths, _ = videos
    skipped = []
    loaded = batches(FrameDataset(paths, LinspaceSampling(8), TEST_TF), 2, skipped=skipped)
    assert [b.video_ids for b in loaded] == [["vid0", "vid1"], ["vid2"]]
    first = loaded[0]
    assert first.video.shape == (2, 8, 3, 16, 16) and first.video.dtype == torch.float32
    assert first.video_mask.shape == (2, 8) and first.video_mask.all()
    # floor(linspace(0, 29, 8)) / 10 fps
    expected = np.floor(np.linspace(0, 29, 8)) / 10
    assert np.allclose(first.timestamps_sec[0].numpy(), expected, atol=1e-3)
    assert first.duration_sec.tolist() == pytest.approx([3.0, 4.5], abs=1e-3)  # no annotation: the video's own
    assert first.sec_per_unit.tolist() == pytest.approx([29 / 7 / 10, 44 / 7 / 10])  # (N - 1) / ((F - 1) fps)
    assert skipped == []


def test_fps_windows_all_index_every_window(videos):
    paths, _ = videos
    dataset = FrameDataset(paths, FpsSampling(fps=2.0, window=4, mode="all"), TEST_TF)
    # samples: 6, 9, 12 -> windows [0, 4], [0, 4, 8], [0, 4, 8]
    assert dataset.items == [(0, 0), (0, 4), (1, 0), (1, 4), (1, 8), (2, 0), (2, 4), (2, 8)]
    (batch,) = batches(dataset, 8)
    assert batch.window_start.tolist() == [0, 4, 0, 4, 8, 0, 4, 8]
    assert batch.t0_sec.tolist() == [0, 2, 0, 2, 4, 0, 2, 4] and batch.sec_per_unit.tolist() == [0.5] * 8
    assert batch.video_mask.sum(1).tolist() == [4, 2, 4, 4, 1, 4, 4, 4]
    assert batch.timestamps_sec[1].tolist() == pytest.approx([2.0, 2.5, 3.0, 3.5], abs=1e-3)
    assert batch.video[1, 2:].abs().sum() == 0  # padding frames are zeros


def test_random_and_center_windows(videos):
    paths, _ = videos
    centre = FrameDataset(paths, FpsSampling(2.0, 4, "center"), TEST_TF)
    assert len(centre) == 3
    assert [centre[i][1] for i in range(3)] == [1, 2, 4]  # (6-4)//2, (9-4)//2, (12-4)//2
    random = FrameDataset(paths[2:], FpsSampling(2.0, 4, "random"), TEST_TF)
    starts = set()
    for epoch in range(30):
        random.set_epoch(epoch)
        _, start, clip = random[0]
        starts.add(start)
        assert clip.mask.all() and clip.timestamps_sec[0].item() == pytest.approx(start / 2, abs=1e-3)
    assert starts <= set(range(9)) and len(starts) > 3


def test_same_training_batches_for_any_number_of_workers(videos):
    paths, _ = videos

    def run(workers, epoch):
        dataset = TaskDataset.unannotated(FrameDataset(paths, LinspaceSampling(4), TRAIN_TF, seed=7))
        cfg = TrainConfig(global_batch_size=1, num_workers=workers)
        return [(b.video_ids, b.video) for b in train_batches(dataset, cfg, seed=1)(epoch)]

    serial, parallel = run(0, 2), run(2, 2)
    assert [ids for ids, _ in serial] == [ids for ids, _ in parallel]
    assert all(torch.equal(a, b) for (_, a), (_, b) in zip(serial, parallel))
    reference = FrameDataset(paths, LinspaceSampling(4), TRAIN_TF, seed=7)
    for epoch in (2, 1):  # each epoch's loader (in fresh workers) draws that epoch's crops
        reference.set_epoch(epoch)
        for ids, video in run(1, epoch):
            assert torch.equal(video[0], reference[reference.video_ids.index(ids[0])][2].frames)


def test_epochs_change_random_draws(videos):
    paths, _ = videos
    dataset = FrameDataset(paths[:1], LinspaceSampling(4), TRAIN_TF)
    draws = []
    for epoch in range(4):
        dataset.set_epoch(epoch)
        draws.append(dataset[0][2].frames)
    assert any(not torch.equal(draws[0], d) for d in draws[1:])
    dataset.set_epoch(0)
    assert torch.equal(dataset[0][2].frames, draws[0])
    assert item_generator(0, 1, 2).initial_seed() == item_generator(0, 1, 2).initial_seed()


@pytest.mark.parametrize("workers", [0, 2])
def test_skip_bad_reports_the_file_at_the_end(videos, workers, caplog):
    paths, bad = videos
    dataset = FrameDataset([paths[0], bad, paths[1]], LinspaceSampling(4), TEST_TF, skip_bad=True)
    skipped = []
    with caplog.at_level(logging.WARNING, logger="unloc.data.datasets"):
        ids = [video_id for batch in batches(dataset, 2, num_workers=workers, skipped=skipped)
               for video_id in batch.video_ids]
    assert ids == ["vid0", "vid1"]
    assert [s.path for s in skipped] == [bad]
    assert bad in caplog.text and "1 video(s) skipped" in caplog.text


def test_all_bad_batch_is_not_yielded_but_reported(videos):
    paths, bad = videos
    skipped = []
    loaded = batches(FrameDataset([bad, bad, paths[0]], LinspaceSampling(4), TEST_TF, skip_bad=True), 2,
                     skipped=skipped)
    assert [b.video_ids for b in loaded] == [["vid0"]]
    assert [s.path for s in skipped] == [bad, bad]


def test_skip_bad_with_window_index(videos):
    paths, bad = videos
    dataset = FrameDataset([bad, paths[0]], FpsSampling(2.0, 4, "all"), TEST_TF, skip_bad=True)
    assert isinstance(dataset[0], BadVideo) and dataset[0].path == bad
    with pytest.raises(VideoDecodeError, match="broken.mp4"):
        FrameDataset([bad], FpsSampling(2.0, 4, "all"), TEST_TF)


@pytest.mark.parametrize("workers", [0, 2])
def test_without_skip_the_error_names_the_file(videos, workers):
    paths, bad = videos
    # in a worker, torch re-raises with the original message (as a RuntimeError when the type needs two arguments)
    with pytest.raises(RuntimeError, match="broken.mp4"):
        batches(FrameDataset([paths[0], bad], LinspaceSampling(4), TEST_TF), 1, num_workers=workers)


def test_unexpected_errors_name_the_file_too(videos):
    paths, _ = videos

    def broken_transform(frames, generator):
        raise ValueError("boom")

    dataset = FrameDataset(paths[:1], LinspaceSampling(4), TEST_TF, skip_bad=True)
    dataset.transform = broken_transform
    with pytest.raises(RuntimeError, match=r"vid0.mp4 failed: ValueError: boom"):
        dataset[0]


def test_collate_and_dataset_guards():
    empty = collate_task([BadVideo("a.mp4", "x")])
    assert len(empty) == 0 and empty.skipped == [BadVideo("a.mp4", "x")]
    with pytest.raises(ValueError, match="video ids"):
        FrameDataset(["a.mp4"], LinspaceSampling(4), TEST_TF, video_ids=["a", "b"])
