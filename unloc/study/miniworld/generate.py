"""`python -m unloc.study generate`: write the mini-world (videos, official annotation files, MANIFEST.json) to a folder.

Layout: `OUT/<dataset>/videos/*.mp4` plus the dataset's annotation files, for the datasets `kinetics`, `anet13`,
`charades_sta`, `qvhighlights`, `anet_captions`, `coin` and `pairs`, and `OUT/MANIFEST.json` with the seed, the
sizes, per-dataset counts and the sha256 of every annotation file and of the videos. Output depends only on the seed
and the sizes: regenerating gives byte-identical files, whatever `--only` or `--workers` say.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from unloc.cli.args import int_at_least, output_dir
from unloc.cli.errors import UsageError
from unloc.study.miniworld.datasets import DATASETS, Job, build_video, count_annotations, num_items, write_annotations
from unloc.study.miniworld.sizes import SIZES, WorldSize, override

MANIFEST = "MANIFEST.json"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def generate_dataset(out_dir: Path, dataset: str, size: WorldSize, seed: int, workers: int = 1) -> dict:
    """Generate one dataset from scratch (its folder is replaced).

    Returns:
        Its manifest entry: counts, sha256 of each annotation file, a digest of all videos, and seconds taken.
    """
    start = time.perf_counter()
    root = Path(out_dir) / dataset
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    jobs = [Job(dataset, i, seed, size, root) for i in range(num_items(size, dataset))]
    records, frames = [], None
    with ProcessPoolExecutor(workers) if workers > 1 else contextlib.nullcontext() as pool:
        for record, pair_frames in (pool.map(build_video, jobs, chunksize=4) if pool else map(build_video, jobs)):
            if pair_frames is not None:  # filled in place: the pair set is the one large array kept in memory
                if frames is None:
                    frames = np.empty((len(jobs), *pair_frames.shape), dtype=np.uint8)
                frames[len(records)] = pair_frames
            records.append(record)
    files = write_annotations(dataset, root, records, seed, frames)
    videos = sorted(r["file"] for r in records if "file" in r)
    video_digest = hashlib.sha256("".join(f"{v} {_sha256(root / v)}\n" for v in videos).encode()).hexdigest()
    return {
        "videos": len(videos),
        "frames": int(frames.shape[0] * frames.shape[1]) if frames is not None else sum(r["frames"] for r in records),
        "items": len(records),
        "annotations": count_annotations(dataset, records),
        "files": {f: _sha256(root / f) for f in files},
        "videos_sha256": video_digest,
        "seconds": round(time.perf_counter() - start, 2),
    }


# Bumped whenever the same seed and sizes would give different videos or annotations (2: one colour per class;
# 3: a class is colour x shape among look-alikes, larger evaluation splits).
GENERATOR_VERSION = 3


def generate_world(out_dir: Path, size: WorldSize, seed: int, only: tuple[str, ...] = DATASETS, workers: int = 1) -> dict:
    """Generate the chosen datasets and (re)write MANIFEST.json.

    Entries of datasets not regenerated are kept from an existing manifest only if it has the same seed, sizes and
    generator version.

    Returns:
        The manifest.
    """
    unknown = sorted(set(only) - set(DATASETS))
    if unknown:
        raise ValueError(f"unknown mini-world dataset(s) {unknown}; known: {', '.join(DATASETS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = {"generator": "unloc.study.miniworld", "generator_version": GENERATOR_VERSION, "seed": seed,
                "size": dataclasses.asdict(size), "datasets": {}}
    old_path = out_dir / MANIFEST
    if old_path.exists():
        old = json.loads(old_path.read_text())
        if all(old.get(k) == manifest[k] for k in ("generator_version", "seed", "size")):
            manifest["datasets"] = {k: v for k, v in old.get("datasets", {}).items() if k in DATASETS}
    for dataset in DATASETS:
        if dataset in only:
            manifest["datasets"][dataset] = generate_dataset(out_dir, dataset, size, seed, workers)
    manifest["datasets"] = {k: manifest["datasets"][k] for k in DATASETS if k in manifest["datasets"]}
    old_path.write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def summary(manifest: dict) -> str:
    """A table of what the manifest holds."""
    lines = [f"{'dataset':<14} {'videos':>6} {'items':>6} {'annots':>6} {'frames':>8} {'seconds':>8}"]
    for name, d in manifest["datasets"].items():
        lines.append(f"{name:<14} {d['videos']:>6} {d['items']:>6} {d['annotations']:>6} {d['frames']:>8} "
                     f"{d['seconds']:>8.1f}")
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    size = SIZES[args.size]
    for item in args.set or []:
        try:
            size = override(size, [item])
        except ValueError as err:
            raise UsageError(f"--set {item}: {err}") from err
    only = tuple(s.strip() for s in args.only.split(",") if s.strip()) if args.only else DATASETS
    unknown = sorted(set(only) - set(DATASETS))
    if unknown:
        raise UsageError(f"--only: unknown mini-world dataset(s) {', '.join(unknown)}; known: {', '.join(DATASETS)}")
    start = time.perf_counter()
    manifest = generate_world(Path(args.out), size, args.seed, only, args.workers)
    print(summary(manifest))
    print(f"mini-world ({args.size}, seed {args.seed}) written to {args.out} in {time.perf_counter() - start:.1f} s")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `python -m unloc.study generate`."""
    p = subparsers.add_parser("generate", help="write the mini-world datasets (mp4 + official annotation files)")
    p.add_argument("--out", required=True, type=output_dir, help="output folder")
    p.add_argument("--size", choices=sorted(SIZES), default="default", help="size preset")
    p.add_argument("--seed", type=int_at_least(0), default=0)
    p.add_argument("--only", default="", help=f"comma-separated subset of: {','.join(DATASETS)}")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a size, e.g. --set anet13.num_videos=40 (repeatable)")
    p.add_argument("--workers", type=int_at_least(1), default=1, help="processes (output is identical for any value)")
    p.set_defaults(func=_run)
