"""Feature extraction (`unloc extract-features`): encode each video's sampled frames once with a frozen image tower.

Frozen image towers are the paper's best moment-retrieval setting (§4.3), and then each frame's token never changes,
so decoding and encoding every frame every epoch is wasted work. Extraction decodes in DataLoader workers (chunks of
`batch_size` frames, so long fixed-rate videos never sit in memory whole) while the main process encodes and writes
one atomic cache file per video (`unloc.data.features`). Videos whose cache file is already valid are skipped, so an
interrupted run resumes where it stopped. Videos that cannot be decoded, and files whose name cannot be a video id
(`..mp4`, hidden files), are skipped and listed with the reason in the report; a decoding failure is also remembered
in the cache (`unloc.data.cache_failures`), so that training can say why a video has no features.

`fill_feature_cache` does this for a task's data config, as a stage does before training (paper §4.3: frozen
towers): it encodes every video of its training and evaluation annotations that the cache under its root does not hold
yet, with exactly the spec the dataset builder will look up (`unloc.data.build.feature_spec_of`), so stages sharing a
tower and sampling share the work. Videos that could not be encoded are skipped and counted (`skip_bad` policy): a
warning names each one and why (no video file under the root, or the decoder's reason, which the cache also remembers
for the dataset's report).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info
from tqdm import tqdm

from unloc.data.build import feature_spec_of, frame_sampling, frame_transform
from unloc.data.cache_failures import clear_failure, record_failure
from unloc.data.config import TaskDataConfig
from unloc.data.features import FeatureCache
from unloc.data.formats import read_annotations
from unloc.data.paths import VIDEO_EXTENSIONS, resolve_videos
from unloc.data.sampling import FpsSampling, LinspaceSampling, linspace_indices
from unloc.data.transforms import FrameTransform, normalize_frames
from unloc.data.video import VideoDecodeError, VideoFile

log = logging.getLogger(__name__)


class VideoListError(ValueError):
    """The videos asked for cannot be matched to files (the message names the file, and the line of an ids file)."""


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
    for video_id, path in videos.items():
        try:
            cache.path(video_id)
        except ValueError as err:  # e.g. '..mp4' or a hidden file: skipped and counted, the others go on
            report.failed.append((str(path), f"skipped: {err}"))
            continue
        (report.reused if cache.is_valid(video_id, path) else todo).append(video_id)
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
                record_failure(cache, item.video_id, item.path, item.reason)
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
                clear_failure(cache, item.video_id)
                report.encoded.append(item.video_id)
                bar.update(1)
                if on_video_done is not None:
                    on_video_done(item.video_id)
    return report


def find_videos(video_dir: str | os.PathLike, ids_file: str | os.PathLike | None = None) -> dict[str, str]:
    """Video files under `video_dir` (id = file stem), restricted to the ids listed in `ids_file` when given.

    Raises:
        VideoListError: two files share a stem, or a listed id (named with its line) has no video.
    """
    found: dict[str, str] = {}
    for path in sorted(Path(video_dir).iterdir()):
        if path.suffix.lower() in VIDEO_EXTENSIONS:
            if path.stem in found:
                raise VideoListError(f"two videos share the id {path.stem!r}: {found[path.stem]} and {path}")
            found[path.stem] = str(path)
    if ids_file is None:
        return found
    chosen = {}
    try:
        lines = Path(ids_file).read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise VideoListError(f"{ids_file}: not a UTF-8 text file of video ids ({err})") from err
    for line_no, line in enumerate(lines, start=1):
        video_id = line.strip()
        if not video_id or video_id.startswith("#"):
            continue
        if video_id not in found:
            raise VideoListError(f"{ids_file}:{line_no}: no video named {video_id!r} in {video_dir}")
        chosen[video_id] = found[video_id]
    return chosen


def fill_feature_cache(cfg: TaskDataConfig, tower, encode: Callable[[torch.Tensor], torch.Tensor], *,
                       progress: bool = True) -> list[ExtractReport]:
    """Encode the videos of both roles (train, eval) that the cache under `cfg.feature_cache` lacks.

    Args:
        cfg: the task's data config (its `feature_cache` is the cache root).
        tower: the model's `TowerConfig` (part of the cache key).
        encode: its image tower, built from the same config (`unloc.model.build.build_image_tower`), in eval mode.
        progress: tqdm bar.

    Returns:
        One `ExtractReport` per role.
    """
    reports = []
    for role in ("train", "eval"):
        sampling = frame_sampling(cfg, role == "train")
        cache = FeatureCache.create(cfg.feature_cache, feature_spec_of(cfg, tower, sampling))
        source = cfg.source(role)
        paths = resolve_videos(list(read_annotations(Path(source.annotations), split=source.split).videos),
                               Path(cfg.video_root))
        videos = {Path(path).stem: str(path) for path in paths.found.values()}  # cached under the file's name, as read
        report = extract_features(videos, cache, encode, sampling, frame_transform(cfg, False), progress=progress)
        lines = [f"  {video_id}: no video file under {cfg.video_root}" for video_id in paths.missing]
        lines += [f"  {path}: {reason}" for path, reason in report.failed]
        if lines:
            log.warning("%d video(s) of %s (%s) could not be encoded and are skipped:\n%s", len(lines),
                        source.annotations, role, "\n".join(lines))
        reports.append(report)
    return reports
