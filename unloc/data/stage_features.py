"""Fill the feature cache a stage will read, so training reads cached tokens transparently (paper §4.3: frozen towers).

When a stage names `data.feature_cache` and its image tower is frozen, `ensure_stage_features(cfg)` encodes, once, every
video of its training and evaluation annotations that the cache under that root does not hold yet, with exactly the
spec the dataset builder will look up (tower arch and checkpoint, frame token, sampling, test transform, dtype); the
datasets then read the cache instead of decoding. Videos already cached are reused (resume), so stages sharing a
tower and sampling share the work. Frozen weights only: if the stage starts from an UnLoc checkpoint whose image tower
differs from the tower's own weights, the cache would describe the wrong tower, and that is refused. Videos that could
not be encoded are skipped and counted (the stage's `data.skip_bad` policy): a warning names each one and why (no video
file under the root, or the decoder's reason, which the cache also remembers for the dataset's report).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from unloc.data.extract import ExtractReport, extract_features
from unloc.data.feature_spec import checkpoint_identity, feature_spec
from unloc.data.features import FeatureCache
from unloc.data.formats import read_annotations
from unloc.data.paths import resolve_videos
from unloc.data.task_build import frame_sampling, frame_transform
from unloc.model.build import build_image_tower

log = logging.getLogger(__name__)


def uses_feature_cache(cfg) -> bool:
    """True when the stage reads cached image-tower tokens instead of frames."""
    return cfg.data.feature_cache is not None and cfg.model.tower.freeze_image


def check_tower_matches(model: nn.Module, tower: nn.Module, source: str) -> None:
    """Raise when the model's image tower weights differ from the tower the cache was built with."""
    own = model.image_tower.state_dict()
    ref = tower.state_dict()
    different = [k for k in ref if k not in own or not torch.equal(own[k].cpu(), ref[k].cpu())]
    if different:
        raise ValueError(f"the image tower loaded from {source} differs from the cached tower's weights "
                         f"({len(different)} tensors, e.g. {different[:2]}): cached features would be wrong; add "
                         "'image_tower' to init.ignore, or unset data.feature_cache")


def check_cached_tower(cfg, model: nn.Module) -> None:
    """When the stage reads the cache, its model's image tower (after the init checkpoint) must be the cached one."""
    if uses_feature_cache(cfg) and cfg.init.checkpoint:
        check_tower_matches(model, build_image_tower(cfg.model.tower).eval(), cfg.init.checkpoint)


def _stage_videos(cfg, role: str) -> tuple[dict[str, str], tuple[str, ...], str]:
    """(file stem -> video file, ids without a file, annotation file) of one role."""
    source = cfg.data.source(role)
    ann = read_annotations(Path(source.annotations), split=source.split)
    paths = resolve_videos(list(ann.videos), Path(cfg.data.video_root))
    found = {Path(path).stem: str(path) for path in paths.found.values()}  # cached under the file's name, as read
    return found, paths.missing, str(source.annotations)


def _warn_unencoded(role: str, annotations: str, video_root: str, missing: tuple[str, ...],
                    report: ExtractReport) -> None:
    """One warning naming every video of the role that has no features now, with the reason."""
    lines = [f"  {video_id}: no video file under {video_root}" for video_id in missing]
    lines += [f"  {path}: {reason}" for path, reason in report.failed]
    if lines:
        log.warning("%d video(s) of %s (%s) could not be encoded and are skipped:\n%s", len(lines), annotations,
                    role, "\n".join(lines))


def ensure_stage_features(cfg, *, progress: bool = True) -> list[ExtractReport]:
    """Encode the stage's missing videos into its feature cache; no-op when the stage does not use the cache.

    Args:
        cfg: the resolved `ExperimentConfig`.
        progress: tqdm bar.

    Returns:
        One `ExtractReport` per role (train, eval) that was processed.
    """
    if not uses_feature_cache(cfg):
        return []
    tower_cfg = cfg.model.tower
    tower = build_image_tower(tower_cfg).eval()
    reports = []
    for role in ("train", "eval"):
        sampling = frame_sampling(cfg.data, role == "train")
        transform = frame_transform(cfg.data, False)
        spec = feature_spec(tower=tower_cfg.arch, checkpoint=checkpoint_identity(tower_cfg.pretrained),
                            frame_token=tower_cfg.frame_token, sampling=sampling, transform=transform,
                            dtype=cfg.data.feature_dtype)
        cache = FeatureCache.create(cfg.data.feature_cache, spec)
        videos, missing, annotations = _stage_videos(cfg, role)
        report = extract_features(videos, cache, tower, sampling, transform, progress=progress)
        _warn_unencoded(role, annotations, cfg.data.video_root, missing, report)
        reports.append(report)
    return reports
