"""What determines cached image-tower features, as data: the spec of a feature cache and the key that names it.

Per-frame features depend on the tower (architecture and the exact weights: a checkpoint file's sha256, or an
open_clip tag), the frame token, which frames were sampled and how they were preprocessed, and the storage dtype
(paper §4.3: frozen towers). `feature_spec` gathers all of it as JSON-able data; `feature_key` hashes it into the
name of the cache directory (`unloc.data.features.FeatureCache`), so a cache is never read with other settings.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from unloc.data.sampling import FpsSampling, LinspaceSampling
from unloc.data.transforms import FrameTransform

FORMAT = "unloc-features"
FORMAT_VERSION = 2  # 2: video_bytes


def file_sha256(path: str | os.PathLike, chunk_bytes: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def checkpoint_identity(pretrained: str | os.PathLike) -> str:
    """'sha256:<hex>' for a checkpoint file, 'tag:<name>' for a named pretrained tag (e.g. open_clip's 'openai')."""
    if pretrained is None or str(pretrained) == "":
        raise ValueError("a feature cache needs fixed tower weights: give a checkpoint file or a pretrained tag")
    path = Path(pretrained)
    return f"sha256:{file_sha256(path)}" if path.is_file() else f"tag:{pretrained}"


def sampling_spec(sampling: LinspaceSampling | FpsSampling) -> dict:
    """The part of a sampling that fixes which frames are encoded (fps windows are cut later from the cached stream)."""
    if isinstance(sampling, LinspaceSampling):
        return {"kind": "linspace", "num_frames": sampling.num_frames}
    return {"kind": "fps", "fps": float(sampling.fps)}


def feature_spec(*, tower: str | dict, checkpoint: str, frame_token: str, sampling: LinspaceSampling | FpsSampling,
                 transform: FrameTransform, dtype: str = "float16") -> dict:
    """Everything that determines the cached features, as JSON-able data.

    Args:
        tower: architecture name (e.g. 'ViT-B-16') or its full config dict.
        checkpoint: `checkpoint_identity` of the weights.
        frame_token: which token represents a frame ('cls' or 'mean').
        sampling: frame sampling.
        transform: the test-time preprocessing (random augmentation cannot be cached).
        dtype: 'float16' or 'float32' storage.
    """
    if transform.train:
        raise ValueError("cached features use the test-time transform (centre crop); got a training transform")
    if dtype not in ("float16", "float32"):
        raise ValueError(f"dtype must be float16 or float32, got {dtype!r}")
    return {"format": FORMAT, "version": FORMAT_VERSION, "tower": tower, "checkpoint": checkpoint,
            "frame_token": frame_token, "sampling": sampling_spec(sampling), "preprocess": transform.to_dict(),
            "dtype": dtype}


def feature_key(spec: dict) -> str:
    """First 16 hex digits of the sha256 of the spec's canonical JSON."""
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
