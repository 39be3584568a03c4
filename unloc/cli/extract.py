"""`unloc extract-features`: encode each video's sampled frames once with a frozen image tower and cache them.

The work is `unloc.data.extract.extract_features` (resumable, one atomic cache file per video); this module checks the
arguments before any model is built: every number's range (argparse, naming the option), the paths, the architecture
and the pretrained tag. Videos that cannot be read, or whose file name cannot be a video id (e.g. `..mp4`), are
skipped, listed with the reason at the end, and make the exit status 1; bad arguments exit with status 2.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from unloc.cli.args import existing_dir, existing_file, int_at_least, output_dir, positive_float, torch_device
from unloc.cli.errors import UsageError
from unloc.data.extract import extract_features, find_videos
from unloc.data.feature_spec import checkpoint_identity, feature_spec
from unloc.data.features import FeatureCache
from unloc.data.paths import VIDEO_EXTENSIONS
from unloc.data.sampling import FpsSampling, LinspaceSampling
from unloc.data.transforms import FrameTransform


def read_arch(text: str) -> str | dict:
    """`--arch`: an open_clip model name, or the model config dict of a .json file."""
    if text.endswith(".json"):
        path = Path(text)
        if not path.is_file():
            kind = "a directory, not a model config file" if path.is_dir() else "no such model config file"
            raise UsageError(f"--arch {text}: {kind}")
        try:
            arch = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise UsageError(f"--arch {text}: not a JSON model config ({err})") from err
        if not isinstance(arch, dict):
            raise UsageError(f"--arch {text}: expected a JSON object (open_clip's model config), got "
                             f"{type(arch).__name__}")
        return arch
    import open_clip  # the tower is built from it right after

    if ":" not in text and text not in open_clip.list_models():
        raise UsageError(f"--arch {text}: not an open_clip model name (e.g. ViT-B-16) nor a model config .json")
    return text


def check_pretrained(arch: str | dict, pretrained: str) -> None:
    """`--pretrained` is a checkpoint file, or a tag open_clip knows for `arch`."""
    path = Path(pretrained)
    if path.is_dir():
        raise UsageError(f"--pretrained {pretrained} is a directory, not a checkpoint file")
    if path.is_file() or not isinstance(arch, str) or ":" in arch:
        return
    import open_clip

    tags = open_clip.list_pretrained_tags_by_model(arch)
    if pretrained not in tags:
        raise UsageError(f"--pretrained {pretrained}: neither a checkpoint file nor a pretrained tag of {arch} "
                         f"(tags: {', '.join(tags) or 'none'})")


def select_videos(args: argparse.Namespace) -> dict[str, str]:
    """The videos of `--videos` (restricted to `--ids-file`); none at all is an error naming the option."""
    videos = find_videos(args.videos, args.ids_file)
    if not videos:
        where = f"{args.ids_file} lists no video id" if args.ids_file else \
            f"no video files ({', '.join(VIDEO_EXTENSIONS)}) in {args.videos}"
        raise UsageError(f"--{'ids-file' if args.ids_file else 'videos'}: {where}")
    return videos


def run(args: argparse.Namespace) -> int:
    """`unloc extract-features`: 0 when every video was encoded or already cached, 1 when some could not be read."""
    videos = select_videos(args)
    arch = read_arch(args.arch)
    check_pretrained(arch, args.pretrained)
    from unloc.model.build import build_image_tower  # lazy: the model stack is heavy and not needed to parse args
    from unloc.model.config import TowerConfig

    tower = build_image_tower(TowerConfig(arch=arch, pretrained=args.pretrained, frame_token=args.frame_token,
                                          freeze_image=True))
    tower.eval().to(args.device)
    crop = args.image_size if args.image_size is not None else tower.image_size
    if crop != tower.image_size:
        raise UsageError(f"--image-size {crop} differs from the tower's input size {tower.image_size}")
    short = args.short_side if args.short_side is not None else round(crop * 256 / 224)
    if short < crop:
        raise UsageError(f"--short-side {short} is smaller than the crop ({crop} px): the crop would not fit")
    transform = FrameTransform(crop_size=crop, short_side=short, train=False, mean=tuple(tower.mean),
                               std=tuple(tower.std))
    sampling = LinspaceSampling(args.frames) if args.frames is not None else FpsSampling(args.fps)
    spec = feature_spec(tower=arch, checkpoint=checkpoint_identity(args.pretrained), frame_token=args.frame_token,
                        sampling=sampling, transform=transform, dtype=args.dtype)
    cache = FeatureCache.create(args.cache, spec)
    print(f"{len(videos)} videos -> {cache.dir}")
    report = extract_features(videos, cache, tower, sampling, transform, batch_size=args.batch_size,
                              device=args.device, num_workers=args.workers, progress=not args.no_progress)
    print(report.summary())
    return 1 if report.failed else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds `extract-features`."""
    import torch  # for the default device

    parser = subparsers.add_parser("extract-features", help="encode sampled frames once and cache the features",
                                   description=__doc__.splitlines()[0])
    count, positive = int_at_least(1), positive_float()
    parser.add_argument("--videos", required=True, type=existing_dir,
                        help="directory of video files (id = file name stem)")
    parser.add_argument("--ids-file", type=existing_file, help="only these ids, one per line")
    parser.add_argument("--cache", required=True, type=output_dir, help="cache root; features go to <cache>/<key>/")
    parser.add_argument("--arch", required=True, help="open_clip model name or a model config .json")
    parser.add_argument("--pretrained", required=True, help="open_clip pretrained tag or a checkpoint file")
    sampling = parser.add_mutually_exclusive_group(required=True)
    sampling.add_argument("--frames", type=count, help="frames evenly spread over each video (paper: 128)")
    sampling.add_argument("--fps", type=positive, help="frames per second over each whole video (segmentation: 2)")
    parser.add_argument("--image-size", type=count, help="crop size (default: the tower's input size)")
    parser.add_argument("--short-side", type=count, help="resize the shorter side to this first (default 8/7 of crop)")
    parser.add_argument("--frame-token", choices=("cls", "mean"), default="cls")
    parser.add_argument("--batch-size", type=count, default=64, help="frames per encoder call")
    parser.add_argument("--device", type=torch_device, default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--workers", type=int_at_least(0), default=2, help="decoding worker processes")
    parser.add_argument("--dtype", choices=("float16", "float32"), default="float16")
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(func=run)
