"""The feature cache format: keys, atomic writes, and a reader that refuses truncated, corrupt or foreign files."""

import hashlib
import json
import os
import random
import socket
import subprocess
import sys

import pytest
import safetensors.torch
import torch

from unloc.data.feature_spec import checkpoint_identity, feature_key, feature_spec
from unloc.data.features import CacheEntryError, CacheMismatchError, FeatureCache, find_cache
from unloc.data.sampling import FpsSampling, LinspaceSampling
from unloc.data.transforms import FrameTransform

SPEC = feature_spec(tower="ViT-B-16", checkpoint="tag:openai", frame_token="cls", sampling=LinspaceSampling(8),
                    transform=FrameTransform(224, 256))


def entry(t=8, d=6):
    """features (t, d), timestamps (t,), mask (t,), frame_idx (t,) of a made-up video."""
    features = torch.linspace(-2, 2, t * d).reshape(t, d)
    return features, torch.arange(t) * 0.5, torch.ones(t, dtype=torch.bool), torch.arange(t) * 3


def write(cache, video_id="v1", t=8):
    return cache.write(video_id, *entry(t), video_path=f"/videos/{video_id}.mp4", duration_sec=4.0, num_frames=24,
                       fps=6.0)


def test_key_is_canonical_and_sensitive_to_every_input():
    assert feature_key(SPEC) == feature_key(dict(reversed(list(SPEC.items()))))
    assert len(feature_key(SPEC)) == 16
    variants = [
        dict(SPEC, tower="ViT-L-14"),
        dict(SPEC, checkpoint="tag:laion2b"),
        dict(SPEC, frame_token="mean"),
        dict(SPEC, dtype="float32"),
        feature_spec(tower="ViT-B-16", checkpoint="tag:openai", frame_token="cls", sampling=LinspaceSampling(16),
                     transform=FrameTransform(224, 256)),
        feature_spec(tower="ViT-B-16", checkpoint="tag:openai", frame_token="cls", sampling=FpsSampling(2.0),
                     transform=FrameTransform(224, 256)),
        feature_spec(tower="ViT-B-16", checkpoint="tag:openai", frame_token="cls", sampling=LinspaceSampling(8),
                     transform=FrameTransform(224, 240)),
    ]
    keys = {feature_key(v) for v in variants}
    assert len(keys) == len(variants) and feature_key(SPEC) not in keys
    # fps windows are cut when reading, so window length and mode do not split the cache
    assert feature_spec(tower="t", checkpoint="c", frame_token="cls", sampling=FpsSampling(2.0, 512, "random"),
                        transform=FrameTransform(8, 8)) == \
        feature_spec(tower="t", checkpoint="c", frame_token="cls", sampling=FpsSampling(2.0, 64, "all"),
                     transform=FrameTransform(8, 8))


def test_spec_refuses_training_transform_and_unknown_dtype():
    with pytest.raises(ValueError, match="test-time"):
        feature_spec(tower="t", checkpoint="c", frame_token="cls", sampling=LinspaceSampling(8),
                     transform=FrameTransform(8, 8, train=True))
    with pytest.raises(ValueError, match="dtype"):
        feature_spec(tower="t", checkpoint="c", frame_token="cls", sampling=LinspaceSampling(8),
                     transform=FrameTransform(8, 8), dtype="bfloat16")


def test_checkpoint_identity(tmp_path):
    weights = tmp_path / "tower.safetensors"
    weights.write_bytes(b"weights v1")
    assert checkpoint_identity(weights) == "sha256:" + hashlib.sha256(b"weights v1").hexdigest()
    weights.write_bytes(b"weights v2")
    assert checkpoint_identity(str(weights)) == "sha256:" + hashlib.sha256(b"weights v2").hexdigest()
    assert checkpoint_identity("openai") == "tag:openai"
    with pytest.raises(ValueError, match="fixed tower weights"):
        checkpoint_identity(None)


def test_round_trip_and_manifest(tmp_path):
    cache = FeatureCache.create(tmp_path, SPEC)
    assert json.loads((cache.dir / "manifest.json").read_text()) == json.loads(json.dumps(SPEC))
    path = write(cache)
    assert path == tmp_path / feature_key(SPEC) / "v1.safetensors"
    got = cache.read("v1")
    features, times, mask, idx = entry()
    assert got.frames.dtype == torch.float16 and torch.allclose(got.frames.float(), features, atol=2e-3)
    assert torch.equal(got.timestamps_sec, times.double()) and torch.equal(got.mask, mask)
    assert torch.equal(got.frame_idx, idx)
    assert (got.video_path, got.duration_sec, got.num_frames, got.fps) == ("/videos/v1.mp4", 4.0, 24, 6.0)
    reopened = FeatureCache.open(cache.dir).read("v1")  # the directory alone finds the entry again
    assert torch.equal(reopened.frames, got.frames) and torch.equal(reopened.mask, mask)
    assert not list(cache.dir.glob(".*.tmp"))  # the temporary file was renamed away


def _rewrite_with(path, mutate):
    tensors = safetensors.torch.load_file(path)
    with safetensors.safe_open(path, "pt") as handle:
        meta = handle.metadata()
    tensors, meta = mutate(tensors, meta)
    path.write_bytes(safetensors.torch.save(tensors, metadata=meta))


@pytest.mark.parametrize("damage", ["truncated", "flipped_byte", "garbage", "empty", "json_list_header", "no_checksum", "wrong_count",
                                    "foreign_key", "wrong_video", "missing_tensor"])
def test_reader_refuses_damaged_files(tmp_path, damage):
    cache = FeatureCache.create(tmp_path, SPEC)
    path = write(cache)
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) - 7])
    elif damage == "flipped_byte":
        path.write_bytes(data[:-5] + bytes([data[-5] ^ 0xFF]) + data[-4:])  # inside the frame_idx / features data
    elif damage == "garbage":
        path.write_bytes(random.Random(0).randbytes(300))
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "json_list_header":
        path.write_bytes(b"\x02" + bytes(7) + b"[]")
    elif damage == "no_checksum":
        _rewrite_with(path, lambda t, m: (t, {k: v for k, v in m.items() if k != "checksum"}))
    elif damage == "wrong_count":
        _rewrite_with(path, lambda t, m: (t, dict(m, num_samples="7")))
    elif damage == "foreign_key":
        _rewrite_with(path, lambda t, m: (t, dict(m, key="0" * 16)))
    elif damage == "wrong_video":
        _rewrite_with(path, lambda t, m: (t, dict(m, video_id="v2")))
    elif damage == "missing_tensor":
        _rewrite_with(path, lambda t, m: ({k: v for k, v in t.items() if k != "mask"}, m))
    with pytest.raises(CacheEntryError) as info:
        cache.read("v1")
    assert str(path) in str(info.value)
    assert not cache.is_valid("v1")


def test_interrupted_write_leaves_no_valid_file(tmp_path, monkeypatch):
    cache = FeatureCache.create(tmp_path, SPEC)

    def crash(src, dst):
        raise KeyboardInterrupt  # killed between writing the temporary file and renaming it

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        write(cache, "v9")
    monkeypatch.undo()
    assert not cache.path("v9").exists() and not cache.is_valid("v9")
    assert not list(cache.dir.glob(".v9.safetensors.*.tmp"))  # the temporary is removed, never read


def test_stale_temp_files_of_dead_writers_are_removed(tmp_path):
    cache = FeatureCache.create(tmp_path, SPEC)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    host = socket.gethostname().split(".")[0]
    stale = cache.dir / f".v1.safetensors.{host}.{dead.stdout.strip()}.0123abcd.tmp"
    live = cache.dir / f".v2.safetensors.{host}.{os.getppid()}.0123abcd.tmp"  # a writer that still runs
    stale.write_bytes(b"half")
    live.write_bytes(b"half")
    assert cache.remove_stale_temp_files() == 1
    assert not stale.exists() and live.exists()


def test_video_ids_must_name_files(tmp_path):
    cache = FeatureCache(tmp_path, SPEC)
    for bad in ("", ".hidden", "a/b"):
        with pytest.raises(ValueError):
            cache.path(bad)


def test_find_cache_explains_a_mismatch(tmp_path):
    FeatureCache.create(tmp_path, SPEC)
    assert find_cache(tmp_path, SPEC).key == feature_key(SPEC)
    with pytest.raises(CacheMismatchError) as info:
        find_cache(tmp_path, dict(SPEC, frame_token="mean"))
    assert "frame_token: cached 'cls' != wanted 'mean'" in str(info.value)
    with pytest.raises(CacheMismatchError, match="different spec"):
        bogus = FeatureCache(tmp_path, SPEC)
        (bogus.dir / "manifest.json").write_text(json.dumps(dict(SPEC, tower="other")))
        FeatureCache.create(tmp_path, SPEC)
    with pytest.raises(CacheMismatchError, match="not a feature cache"):
        FeatureCache.open(tmp_path)
