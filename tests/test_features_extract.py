"""Feature extraction: same features as the frame pipeline, resume after a kill, recompute of damaged files,
reading clips back from the cache, and the `unloc extract-features` command line."""

import json
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
from torch import nn
from videowrite import write_video

from unloc.cli import build_parser, main
from unloc.data.clips import BadVideo, FeatureDataset, FrameDataset
from unloc.data.datasets import TaskDataset, eval_batches
from unloc.data.extract import extract_features, find_videos
from unloc.data.feature_spec import feature_spec
from unloc.data.features import CacheEntryError, FeatureCache
from unloc.data.sampling import FpsSampling, LinspaceSampling
from unloc.data.transforms import FrameTransform

TF = FrameTransform(crop_size=16, short_side=20)


class CountingEncoder(nn.Module):
    """frames (c, 3, 16, 16) -> (c, 8); counts calls and frames."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(12, 8))
        self.calls, self.frames = 0, 0

    def forward(self, frames):
        self.calls += 1
        self.frames += len(frames)
        return self.net(frames)


@pytest.fixture(scope="module")
def video_dir(tmp_path_factory):
    """Four 10-fps videos (20, 30, 40, 50 frames) of 24x32 px and one broken file."""
    root = tmp_path_factory.mktemp("extract")
    rng = np.random.default_rng(0)
    for number, count in enumerate((20, 30, 40, 50)):
        write_video(root / f"v{number}.mp4", rng.integers(0, 256, (count, 24, 32, 3), dtype=np.uint8), fps=10)
    (root / "broken.mp4").write_bytes(b"\x00" * 500)
    return root


def make_cache(tmp_path, sampling):
    spec = feature_spec(tower="counting", checkpoint="tag:test", frame_token="cls", sampling=sampling,
                        transform=TF, dtype="float32")
    return FeatureCache.create(tmp_path / "cache", spec)


def good_videos(video_dir):
    return {f"v{n}": str(video_dir / f"v{n}.mp4") for n in range(4)}


def test_cached_features_equal_encoding_the_loader_frames(video_dir, tmp_path):
    sampling = LinspaceSampling(6)
    cache, encoder = make_cache(tmp_path, sampling), CountingEncoder()
    report = extract_features(good_videos(video_dir), cache, encoder, sampling, TF, batch_size=4, progress=False)
    assert report.encoded == ["v0", "v1", "v2", "v3"] and not report.failed
    frames = FrameDataset(list(good_videos(video_dir).values()), sampling, TF)
    for number in range(4):
        _, _, clip = frames[number]
        cached = cache.read(f"v{number}")
        with torch.no_grad():
            assert torch.allclose(cached.frames, encoder.net(clip.frames), atol=1e-5)
        assert torch.equal(cached.timestamps_sec, clip.timestamps_sec)
        assert torch.equal(cached.frame_idx, clip.frame_idx)
    assert encoder.calls == 4 * 2  # 6 frames per video in chunks of 4 + 2


def test_killed_extraction_resumes_without_redoing_finished_videos(video_dir, tmp_path):
    sampling = FpsSampling(2.0)  # 2, 3, 4, 5 s -> 4, 6, 8, 10 samples
    cache, first = make_cache(tmp_path, sampling), CountingEncoder()

    def kill_after_two(video_id):
        if video_id == "v1":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        extract_features(good_videos(video_dir), cache, first, sampling, TF, batch_size=3, progress=False,
                         on_video_done=kill_after_two)
    assert first.frames == 4 + 6 and cache.is_valid("v0") and cache.is_valid("v1") and not cache.is_valid("v2")
    second = CountingEncoder()
    report = extract_features(good_videos(video_dir), cache, second, sampling, TF, batch_size=3, progress=False)
    assert report.reused == ["v0", "v1"] and report.encoded == ["v2", "v3"]
    assert second.frames == 8 + 10  # only the unfinished videos were encoded


def test_damaged_file_is_recomputed(video_dir, tmp_path):
    sampling = LinspaceSampling(4)
    cache = make_cache(tmp_path, sampling)
    extract_features(good_videos(video_dir), cache, CountingEncoder(), sampling, TF, progress=False)
    before = cache.read("v2").frames
    path = cache.path("v2")
    path.write_bytes(path.read_bytes()[:-10])  # truncated, e.g. by a full disk outside our atomic write
    again = CountingEncoder()
    report = extract_features(good_videos(video_dir), cache, again, sampling, TF, progress=False)
    assert report.encoded == ["v2"] and again.frames == 4
    assert torch.equal(cache.read("v2").frames, before)


def test_entry_of_a_replaced_video_is_stale_and_recomputed(video_dir, tmp_path):
    sampling = LinspaceSampling(4)
    cache = make_cache(tmp_path, sampling)
    videos = {}
    for video_id, path in good_videos(video_dir).items():  # copies: the module's videos stay as they are
        videos[video_id] = tmp_path / Path(path).name
        videos[video_id].write_bytes(Path(path).read_bytes())
    extract_features(videos, cache, CountingEncoder(), sampling, TF, progress=False)
    with open(videos["v1"], "ab") as handle:  # another file under the same name (here: trailing bytes)
        handle.write(b"\0" * 16)
    with pytest.raises(CacheEntryError, match="changed since extraction"):
        cache.read("v1")
    assert cache.is_valid("v2") and not cache.is_valid("v1", videos["v1"])
    again = CountingEncoder()
    report = extract_features(videos, cache, again, sampling, TF, progress=False)
    assert report.encoded == ["v1"] and again.frames == 4 and cache.is_valid("v1")


def test_bad_video_is_reported_and_not_cached(video_dir, tmp_path):
    sampling = LinspaceSampling(4)
    cache = make_cache(tmp_path, sampling)
    videos = dict(good_videos(video_dir), broken=str(video_dir / "broken.mp4"))
    report = extract_features(videos, cache, CountingEncoder(), sampling, TF, progress=False, num_workers=2)
    assert sorted(report.encoded) == ["v0", "v1", "v2", "v3"]
    assert [path for path, _ in report.failed] == [videos["broken"]]
    assert "FAILED" in report.summary() and "broken.mp4" in report.summary()
    assert not cache.path("broken").exists()


def test_workers_write_the_same_features(video_dir, tmp_path):
    sampling = FpsSampling(2.0)
    serial, parallel = make_cache(tmp_path / "a", sampling), make_cache(tmp_path / "b", sampling)
    extract_features(good_videos(video_dir), serial, CountingEncoder(), sampling, TF, batch_size=2, progress=False)
    extract_features(good_videos(video_dir), parallel, CountingEncoder(), sampling, TF, batch_size=2,
                     num_workers=2, progress=False)
    for video_id in good_videos(video_dir):
        assert torch.equal(serial.read(video_id).frames, parallel.read(video_id).frames)


def test_feature_dataset_windows_match_frame_windows(video_dir, tmp_path):
    stream = FpsSampling(2.0)
    cache = make_cache(tmp_path, stream)
    extract_features(good_videos(video_dir), cache, CountingEncoder(), stream, TF, progress=False)
    windows = FpsSampling(2.0, window=2, mode="all")
    features = FeatureDataset(cache, list(good_videos(video_dir)), windows)
    frames = FrameDataset(list(good_videos(video_dir).values()), windows, TF)
    assert features.items == frames.items  # same windows from the cached stream as from the video
    (feat_batch,) = eval_batches(TaskDataset.unannotated(features), batch_size=len(features))
    (frame_batch,) = eval_batches(TaskDataset.unannotated(frames), batch_size=len(frames))
    assert feat_batch.video.shape == (len(features), 2, 8)
    assert torch.equal(feat_batch.video_mask, frame_batch.video_mask)
    assert torch.allclose(feat_batch.timestamps_sec, frame_batch.timestamps_sec)
    for name in ("duration_sec", "sec_per_unit", "t0_sec", "window_start"):  # the same time map on both paths
        assert torch.equal(getattr(feat_batch, name), getattr(frame_batch, name)), name
    assert feat_batch.video[~feat_batch.video_mask].abs().sum() == 0
    with pytest.raises(ValueError, match="does not match the cache"):
        FeatureDataset(cache, ["v0"], LinspaceSampling(4))


def test_feature_dataset_missing_entry(video_dir, tmp_path):
    sampling = LinspaceSampling(4)
    cache = make_cache(tmp_path, sampling)
    extract_features({"v0": str(video_dir / "v0.mp4")}, cache, CountingEncoder(), sampling, TF, progress=False)
    skipping = FeatureDataset(cache, ["v0", "v3"], sampling, skip_bad=True)
    assert isinstance(skipping[1], BadVideo) and skipping[1].path.endswith("v3.safetensors")
    assert skipping[0][2].frames.shape == (4, 8)
    with pytest.raises(CacheEntryError, match="v3.safetensors"):
        FeatureDataset(cache, ["v3"], sampling)[0]


def test_find_videos_and_ids_file(video_dir, tmp_path):
    assert sorted(find_videos(video_dir)) == ["broken", "v0", "v1", "v2", "v3"]
    ids = tmp_path / "ids.txt"
    ids.write_text("# subset\nv1\n\nv3\n")
    assert list(find_videos(video_dir, ids)) == ["v1", "v3"]
    ids.write_text("v1\nv9\n")
    with pytest.raises(ValueError, match=r"ids.txt:2: no video named 'v9'"):
        find_videos(video_dir, ids)
    twins = tmp_path / "twins"
    twins.mkdir()
    (twins / "a.mp4").write_bytes(b"")
    (twins / "a.mkv").write_bytes(b"")
    with pytest.raises(ValueError, match="share the id 'a'"):
        find_videos(twins)


def test_unnameable_files_are_skipped_and_counted_not_fatal(video_dir, tmp_path):
    """'..mp4' (id '.') and hidden files cannot name a cache file: each is listed with the reason, the rest encoded."""
    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("v0.mp4", "..mp4", ".hidden.mp4", "v1.mp4"):
        (folder / name).write_bytes((video_dir / ("v1.mp4" if name == "v1.mp4" else "v0.mp4")).read_bytes())
    videos = find_videos(folder)
    assert sorted(videos) == [".", ".hidden", "v0", "v1"]
    cache = make_cache(tmp_path, LinspaceSampling(4))
    report = extract_features(videos, cache, CountingEncoder(), LinspaceSampling(4), TF, progress=False)
    assert sorted(report.encoded) == ["v0", "v1"] and not report.reused
    assert sorted(report.failed) == [(str(folder / "..mp4"), "skipped: video id '.' cannot name a cache file"),
                                     (str(folder / ".hidden.mp4"),
                                      "skipped: video id '.hidden' cannot name a cache file")]
    assert "FAILED " + str(folder / "..mp4") + ": skipped:" in report.summary()
    assert "encoded 2, already cached 0, failed 2" in report.summary()


def test_cli_parses_extract_features(tmp_path):
    common = ["extract-features", "--videos", str(tmp_path), "--cache", str(tmp_path / "c"), "--arch", "ViT-B-16",
              "--pretrained", "openai"]
    args = build_parser("extract-features").parse_args([*common, "--frames", "128", "--batch-size", "32"])
    assert (args.frames, args.fps, args.batch_size, args.frame_token, args.dtype) == (128, None, 32, "cls", "float16")
    with pytest.raises(SystemExit):  # --frames and --fps exclude each other
        build_parser("extract-features").parse_args([*common, "--frames", "8", "--fps", "2"])


def test_cli_end_to_end_with_a_local_checkpoint(video_dir, tmp_path, capsys):
    # the model stack (open_clip) is imported here only, so the other tests stay light
    from unloc.model.build import build_image_tower
    from unloc.model.clip_loader import create_clip
    from unloc.model.config import TINY_ARCH, TowerConfig

    arch_file, weights = tmp_path / "tiny.json", tmp_path / "tiny.safetensors"
    arch_file.write_text(json.dumps(TINY_ARCH))
    safetensors.torch.save_file(create_clip(TowerConfig(arch=TINY_ARCH, pretrained=None)).state_dict(), weights)
    ids = tmp_path / "ids.txt"
    ids.write_text("v0\nv1\n")
    argv = ["extract-features", "--videos", str(video_dir), "--ids-file", str(ids), "--cache", str(tmp_path / "c"),
            "--arch", str(arch_file), "--pretrained", str(weights), "--frames", "5", "--workers", "0",
            "--device", "cpu", "--no-progress", "--dtype", "float32"]
    assert main(argv) == 0
    assert "encoded 2, already cached 0, failed 0" in capsys.readouterr().out
    (cache_dir,) = (tmp_path / "c").iterdir()
    cache = FeatureCache.open(cache_dir)
    assert cache.spec["checkpoint"].startswith("sha256:") and cache.spec["tower"] == TINY_ARCH
    tower = build_image_tower(TowerConfig(arch=TINY_ARCH, pretrained=str(weights), freeze_image=True)).eval()
    transform = FrameTransform(crop_size=32, short_side=37, mean=tower.mean, std=tower.std)
    _, _, clip = FrameDataset([str(video_dir / "v1.mp4")], LinspaceSampling(5), transform)[0]
    with torch.no_grad():
        assert torch.allclose(cache.read("v1").frames, tower(clip.frames), atol=1e-4)
    assert main(argv) == 0  # a second run finds everything cached
    assert "encoded 0, already cached 2, failed 0" in capsys.readouterr().out
