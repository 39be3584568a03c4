"""`unloc extract-features`: encode each video's sampled frames once with a frozen image tower and cache them.

Frozen image towers are the paper's best moment-retrieval setting (§4.3), and then each frame's token never changes,
so decoding and encoding every frame every epoch is wasted work. Extraction decodes in DataLoader workers (chunks of
`batch_size` frames, so long fixed-rate videos never sit in memory whole) while the main process encodes and writes
one atomic cache file per video (`unloc.data.features`). Videos whose cache file is already valid are skipped, so an
interrupted run resumes where it stopped; videos that cannot be decoded are listed at the end and not cached.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info
from tqdm import tqdm

from unloc.data.features import FeatureCache, checkpoint_identity, feature_spec
from unloc.data.frames import FpsSampling, LinspaceSampling
from unloc.data.transforms import FrameTransform, normalize_frames
from unloc.data.video import VideoDecodeError, VideoFile, linspace_indices

VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v")


@dataclass
class ExtractReport:
    """What one extraction run did: ids encoded now, ids already cached, and (path, reason) of failures."""

    encoded: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"encoded {len(self.encoded)}, already cached {len(self.reused)}, failed {len(self.failed)}"]
        lines += [f"  FAILED {path}: {reason}" for path, reason in self.failed]
        return "\n".join(lines)


@dataclass
class _Chunk:
    video_id: str
    last: bool
    frames: torch.Tensor  # (c, 3, s, s) uint8, normalised after the move to the device
    timestamps_sec: torch.Tensor  # (c,)
    frame_idx: torch.Tensor  # (c,)
    info: dict  # video_path, duration_sec, num_frames, fps


@dataclass
class _Failure:
    video_id: str
    path: str
    reason: str


class _ChunkStream(IterableDataset):
    """Decoded, preprocessed frame chunks of each video in order; each worker takes every n-th video."""

    def __init__(self, videos: list[tuple[str, str]], sampling: LinspaceSampling | FpsSampling,
                 transform: FrameTransform, chunk: int, decode_threads: int):
        self.videos, self.sampling, self.transform = videos, sampling, transform
        self.chunk, self.decode_threads = chunk, decode_threads

    def __iter__(self) -> Iterator[_Chunk | _Failure]:
        worker = get_worker_info()
        mine = self.videos if worker is None else self.videos[worker.id::worker.num_workers]
        for video_id, path in mine:
            try:
                yield from self._chunks(video_id, path)
            except VideoDecodeError as err:
                yield _Failure(video_id, err.path, err.reason)

    def _chunks(self, video_id: str, path: str) -> Iterator[_Chunk]:
        video = VideoFile(path, num_threads=self.decode_threads)
        if isinstance(self.sampling, LinspaceSampling):
            idx = linspace_indices(video.num_frames, self.sampling.num_frames)
        else:
            idx = video.fps_frame_idx(self.sampling.fps)
        times = torch.as_tensor(video.frame_times_sec()[idx, 0], dtype=torch.float64)
        info = {"video_path": video.path, "duration_sec": video.duration_sec, "num_frames": video.num_frames,
                "fps": video.fps}
        for start in range(0, len(idx), self.chunk):
            span = slice(start, start + self.chunk)
            frames = self.transform(video.read(idx[span]))  # (c, h, w, 3) uint8 -> (c, 3, s, s)
            yield _Chunk(video_id, start + self.chunk >= len(idx), frames, times[span], torch.as_tensor(idx[span]),
                         info)


def extract_features(videos: Mapping[str, str | os.PathLike], cache: FeatureCache,
                     encode: Callable[[torch.Tensor], torch.Tensor], sampling: LinspaceSampling | FpsSampling,
                     transform: FrameTransform, *, batch_size: int = 64, device: str | torch.device = "cpu",
                     num_workers: int = 0, decode_threads: int = 1, progress: bool = True,
                     on_video_done: Callable[[str], None] | None = None) -> ExtractReport:
    """Encode and cache every video that has no valid cache file yet.

    Args:
        videos: video id -> file.
        cache: destination (`FeatureCache.create(root, spec)`); its spec must describe `encode`, `sampling` and
            `transform`, which the caller guarantees.
        encode: frames (c, 3, s, s) normalized -> per-frame tokens (c, d); called under `torch.inference_mode`.
        sampling: which frames to encode (fps sampling caches the whole stream; windows are cut when reading).
        transform: test-time preprocessing.
        batch_size: frames per `encode` call.
        device: where `encode` runs; frames are moved there.
        num_workers: decoding worker processes (0 = decode in this process).
        decode_threads: decord threads per reader.
        progress: show a tqdm bar over videos.
        on_video_done: called with each video id after its file is written.

    Returns:
        `ExtractReport`; existing valid files count as reused, invalid ones (truncated, corrupt, or extracted from a
        video file of another size) are recomputed.
    """
    report = ExtractReport()
    cache.remove_stale_temp_files()
    todo = []
    for video_id in videos:
        (report.reused if cache.is_valid(video_id, videos[video_id]) else todo).append(video_id)
        cache.path(video_id)  # reject ids that cannot name a file before any work
    pixels = dataclasses.replace(transform, normalize=False)  # workers ship uint8; normalised on the device
    stream = _ChunkStream([(v, str(videos[v])) for v in todo], sampling, pixels, batch_size, decode_threads)
    loader = DataLoader(stream, batch_size=None, num_workers=num_workers)
    done: dict[str, list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]] = {}  # id -> [(tokens, times, idx)]
    with tqdm(total=len(todo), unit="video", desc="extract-features", disable=not progress) as bar, \
            torch.inference_mode():
        for item in loader:
            if isinstance(item, _Failure):
                done.pop(item.video_id, None)
                report.failed.append((item.path, item.reason))
                bar.update(1)
                continue
            out = encode(normalize_frames(item.frames.to(device), transform.mean, transform.std))
            if out.ndim != 2 or out.shape[0] != item.frames.shape[0]:
                raise ValueError(f"encoder returned shape {tuple(out.shape)} for {item.frames.shape[0]} frames")
            done.setdefault(item.video_id, []).append((out.float().cpu(), item.timestamps_sec, item.frame_idx))
            if item.last:
                features, timestamps, frame_idx = (torch.cat(parts) for parts in zip(*done.pop(item.video_id)))
                cache.write(item.video_id, features, timestamps, torch.ones(len(timestamps), dtype=torch.bool),
                            frame_idx, **item.info)
                report.encoded.append(item.video_id)
                bar.update(1)
                if on_video_done is not None:
                    on_video_done(item.video_id)
    return report


def find_videos(video_dir: str | os.PathLike, ids_file: str | os.PathLike | None = None) -> dict[str, str]:
    """Video files under `video_dir` (id = file stem), restricted to the ids listed in `ids_file` when given.

    Raises:
        ValueError: two files share a stem, or a listed id (named with its line) has no video.
    """
    found: dict[str, str] = {}
    for path in sorted(Path(video_dir).iterdir()):
        if path.suffix.lower() in VIDEO_SUFFIXES:
            if path.stem in found:
                raise ValueError(f"two videos share the id {path.stem!r}: {found[path.stem]} and {path}")
            found[path.stem] = str(path)
    if ids_file is None:
        return found
    chosen = {}
    for line_no, line in enumerate(Path(ids_file).read_text().splitlines(), start=1):
        video_id = line.strip()
        if not video_id or video_id.startswith("#"):
            continue
        if video_id not in found:
            raise ValueError(f"{ids_file}:{line_no}: no video named {video_id!r} in {video_dir}")
        chosen[video_id] = found[video_id]
    return chosen


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("extract-features", help="encode sampled frames once and cache the features",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("--videos", required=True, help="directory of video files (id = file name stem)")
    parser.add_argument("--ids-file", help="only these ids, one per line")
    parser.add_argument("--cache", required=True, help="cache root; features go to <cache>/<key>/")
    parser.add_argument("--arch", required=True, help="open_clip model name or a model config .json")
    parser.add_argument("--pretrained", required=True, help="open_clip pretrained tag or a checkpoint file")
    sampling = parser.add_mutually_exclusive_group(required=True)
    sampling.add_argument("--frames", type=int, help="frames evenly spread over each video (paper: 128)")
    sampling.add_argument("--fps", type=float, help="frames per second over each whole video (segmentation: 2)")
    parser.add_argument("--image-size", type=int, help="crop size (default: the tower's input size)")
    parser.add_argument("--short-side", type=int, help="resize the shorter side to this first (default 8/7 of crop)")
    parser.add_argument("--frame-token", choices=("cls", "mean"), default="cls")
    parser.add_argument("--batch-size", type=int, default=64, help="frames per encoder call")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--workers", type=int, default=2, help="decoding worker processes")
    parser.add_argument("--dtype", choices=("float16", "float32"), default="float16")
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from unloc.model.build import build_image_tower  # lazy: the model stack is heavy and not needed to parse args
    from unloc.model.config import TowerConfig

    videos = find_videos(args.videos, args.ids_file)
    arch = json.loads(Path(args.arch).read_text()) if args.arch.endswith(".json") else args.arch
    tower = build_image_tower(TowerConfig(arch=arch, pretrained=args.pretrained, frame_token=args.frame_token,
                                          freeze_image=True))
    tower.eval().to(args.device)
    crop = args.image_size or tower.image_size
    if crop != tower.image_size:
        raise SystemExit(f"--image-size {crop} differs from the tower's input size {tower.image_size}")
    transform = FrameTransform(crop_size=crop, short_side=args.short_side or round(crop * 256 / 224),
                               train=False, mean=tuple(tower.mean), std=tuple(tower.std))
    sampling = LinspaceSampling(args.frames) if args.frames else FpsSampling(args.fps)
    spec = feature_spec(tower=arch, checkpoint=checkpoint_identity(args.pretrained), frame_token=args.frame_token,
                        sampling=sampling, transform=transform, dtype=args.dtype)
    cache = FeatureCache.create(args.cache, spec)
    print(f"{len(videos)} videos -> {cache.dir}")
    report = extract_features(videos, cache, tower, sampling, transform, batch_size=args.batch_size,
                              device=args.device, num_workers=args.workers, progress=not args.no_progress)
    print(report.summary())
    return 1 if report.failed else 0
