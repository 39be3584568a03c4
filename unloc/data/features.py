"""A cache of per-frame image-tower features, keyed by everything that determines them.

With a frozen image tower (the paper's best moment-retrieval setting, §4.3), each video's frames give the same
tokens every epoch, so `unloc extract-features` encodes them once. A cache directory is `<root>/<key>/`, where `key`
hashes the tower, checkpoint, frame token, sampling and preprocessing (`unloc.data.feature_spec`); it holds
`manifest.json` (the spec) and one `<video_id>.safetensors` per video with `features` (t, d) and, per row,
`timestamps_sec`, `mask` and the video's `frame_idx`, so features always map back to the video's own timeline, and
the source video's size in bytes, so an entry whose video was replaced by another of the same name (a regenerated or
re-encoded file) reads as stale. Files are written to a temporary name, fsynced and renamed, and carry metadata
(sizes, key, checksum) that the reader checks, so an interrupted run never leaves a file that reads as valid.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path

import safetensors
import safetensors.torch
import torch

from unloc.data.feature_spec import FORMAT, FORMAT_VERSION, feature_key
from unloc.data.video import Clip
from unloc.train.atomic import atomic_write_bytes, remove_stale_temporaries

SUFFIX = ".safetensors"
_META_FIELDS = ("format", "version", "key", "video_id", "num_samples", "dim", "dtype", "checksum", "video_path",
                "duration_sec", "video_num_frames", "video_fps", "video_bytes")


class CacheEntryError(RuntimeError):
    """A cached file that is missing, truncated, corrupt or from another cache key; `path` names it."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"feature cache entry {self.path} is unusable: {reason}")

    def __reduce__(self):
        return (type(self), (self.path, self.reason))


class CacheMismatchError(ValueError):
    """No cache under a root was built with the requested settings."""


def file_bytes(path: str | os.PathLike) -> int:
    """Size of a file in bytes; -1 when there is no such file."""
    try:
        return os.stat(path).st_size
    except OSError:
        return -1


def _checksum(*tensors: torch.Tensor) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for tensor in tensors:
        digest.update(tensor.contiguous().numpy().tobytes())
    return digest.hexdigest()


def _header_metadata(data: bytes) -> dict:
    """The `__metadata__` of a safetensors blob (8-byte little-endian header length, then JSON)."""
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return meta if isinstance(meta, dict) else {}


class FeatureCache:
    """The cache directory of one feature spec: `<root>/<feature_key(spec)>/`.

    Args:
        root: cache root shared by all specs.
        spec: `feature_spec(...)` output.
    """

    def __init__(self, root: str | os.PathLike, spec: dict):
        self.root, self.spec, self.key = Path(root), spec, feature_key(spec)
        self.dir = self.root / self.key

    @classmethod
    def create(cls, root: str | os.PathLike, spec: dict) -> FeatureCache:
        """Make the directory and its manifest (or check an existing manifest matches the spec)."""
        cache = cls(root, spec)
        cache.dir.mkdir(parents=True, exist_ok=True)
        manifest = cache.dir / "manifest.json"
        if manifest.exists():
            if json.loads(manifest.read_text()) != json.loads(json.dumps(spec)):
                raise CacheMismatchError(f"{manifest} holds a different spec under the same key {cache.key}")
        else:
            atomic_write_bytes(manifest, json.dumps(spec, indent=2, sort_keys=True).encode())
        return cache

    @classmethod
    def open(cls, cache_dir: str | os.PathLike) -> FeatureCache:
        """An existing cache directory, from its manifest."""
        manifest = Path(cache_dir) / "manifest.json"
        if not manifest.is_file():
            raise CacheMismatchError(f"{cache_dir} is not a feature cache (no manifest.json)")
        cache = cls(Path(cache_dir).parent, json.loads(manifest.read_text()))
        if cache.dir.resolve() != Path(cache_dir).resolve():
            raise CacheMismatchError(f"{manifest} does not hash to its directory name (got key {cache.key})")
        return cache

    def path(self, video_id: str) -> Path:
        if not video_id or video_id.startswith(".") or "/" in video_id or os.sep in video_id:
            raise ValueError(f"video id {video_id!r} cannot name a cache file")
        return self.dir / f"{video_id}{SUFFIX}"

    def write(self, video_id: str, features: torch.Tensor, timestamps_sec: torch.Tensor, mask: torch.Tensor,
              frame_idx: torch.Tensor, *, video_path: str, duration_sec: float, num_frames: int, fps: float) -> Path:
        """Store one video atomically.

        Args:
            video_id: file name stem.
            features: (t, d) per-frame tokens; stored as the spec's dtype.
            timestamps_sec: (t,) time of each frame.
            mask: (t,) True = real frame.
            frame_idx: (t,) index of each sampled frame in the video.
            video_path, duration_sec, num_frames, fps: facts about the source video, kept in the metadata (with
                the file's size, when it exists).
        """
        features = features.detach().to("cpu", getattr(torch, self.spec["dtype"])).contiguous()
        timestamps_sec = timestamps_sec.detach().to("cpu", torch.float64).contiguous()
        mask = mask.detach().to("cpu", torch.bool).contiguous()
        frame_idx = frame_idx.detach().to("cpu", torch.int64).contiguous()
        shapes = [tuple(t.shape) for t in (timestamps_sec, mask, frame_idx)]
        if features.ndim != 2 or any(shape != (len(features),) for shape in shapes):
            raise ValueError(f"bad shapes: features {tuple(features.shape)}, others {shapes}")
        meta = {"format": FORMAT, "version": str(FORMAT_VERSION), "key": self.key, "video_id": video_id,
                "num_samples": str(features.shape[0]), "dim": str(features.shape[1]), "dtype": self.spec["dtype"],
                "checksum": _checksum(features, timestamps_sec, mask, frame_idx), "video_path": str(video_path),
                "duration_sec": repr(float(duration_sec)), "video_num_frames": str(int(num_frames)),
                "video_fps": repr(float(fps)), "video_bytes": str(file_bytes(video_path))}
        tensors = {"features": features, "timestamps_sec": timestamps_sec, "mask": mask, "frame_idx": frame_idx}
        path = self.path(video_id)
        atomic_write_bytes(path, safetensors.torch.save(tensors, metadata=meta))
        return path

    def read(self, video_id: str, video_path: str | os.PathLike | None = None) -> Clip:
        """Load and validate one video's entry (its `frames` are the (t, d) features in the stored dtype); raises
        `CacheEntryError` naming the file when it is unusable.

        Args:
            video_path: the video the entry should describe (default: the path recorded at extraction); when that
                file exists and its size differs from the recorded one, the entry is stale.
        """
        path = self.path(video_id)
        if not path.is_file():
            raise CacheEntryError(path, "not extracted yet (file missing)")
        data = path.read_bytes()
        try:
            meta, tensors = _header_metadata(data), safetensors.torch.load(data)
        except (safetensors.SafetensorError, ValueError, struct.error, UnicodeDecodeError) as err:
            raise CacheEntryError(path, f"not a readable safetensors file ({err})") from err
        missing = [name for name in _META_FIELDS if name not in meta]
        if missing or meta["format"] != FORMAT or meta["version"] != str(FORMAT_VERSION):
            raise CacheEntryError(path, f"incomplete or foreign metadata (missing {missing})")
        if meta["key"] != self.key or meta["video_id"] != video_id:
            raise CacheEntryError(path, f"written for key {meta['key']} / video {meta['video_id']}")
        count, dim = int(meta["num_samples"]), int(meta["dim"])
        columns = [tensors.get(name) for name in ("timestamps_sec", "mask", "frame_idx")]
        features = tensors.get("features")
        if features is None or features.shape != (count, dim) or \
                any(column is None or column.shape != (count,) for column in columns):
            raise CacheEntryError(path, f"tensors do not match the recorded size ({count}, {dim})")
        if _checksum(features, *columns) != meta["checksum"]:
            raise CacheEntryError(path, "checksum mismatch (corrupt data)")
        source = meta["video_path"] if video_path is None else video_path
        now, then = file_bytes(source), int(meta["video_bytes"])
        if now >= 0 and then >= 0 and now != then:
            raise CacheEntryError(path, f"video {source} changed since extraction ({now} bytes, extracted from {then})")
        return Clip(features, *columns, meta["video_path"], float(meta["duration_sec"]),
                    int(meta["video_num_frames"]), float(meta["video_fps"]))

    def is_valid(self, video_id: str, video_path: str | os.PathLike | None = None) -> bool:
        """True when the entry exists and passes every check of `read`."""
        try:
            self.read(video_id, video_path)
        except CacheEntryError:
            return False
        return True

    def remove_stale_temp_files(self) -> int:
        """Delete temporary files left by killed writers on this host (dead pid); returns how many."""
        return len(remove_stale_temporaries(self.dir)[0])


def find_cache(root: str | os.PathLike, spec: dict) -> FeatureCache:
    """The existing cache for `spec` under `root`; otherwise `CacheMismatchError` listing how the caches there differ."""
    cache = FeatureCache(root, spec)
    if (cache.dir / "manifest.json").is_file():
        return cache
    lines = [f"no feature cache under {root} for key {cache.key}"]
    for manifest in sorted(Path(root).glob("*/manifest.json")):
        other = json.loads(manifest.read_text())
        diffs = [f"{name}: cached {other.get(name)!r} != wanted {spec.get(name)!r}"
                 for name in sorted(set(spec) | set(other)) if other.get(name) != spec.get(name)]
        lines.append(f"  {manifest.parent.name}: " + "; ".join(diffs))
    raise CacheMismatchError("\n".join(lines))
