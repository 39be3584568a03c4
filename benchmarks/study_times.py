"""How long each stage of the study took: the wall time papermill recorded in every executed notebook.

Every DVC stage but `generate` runs a notebook through papermill, which stores `metadata.papermill.duration` (seconds,
kernel start to last cell) and the start/end times in the executed copy under `reports/`. This script collects them,
groups the per-seed ablation runs, and prints a markdown table (the README's "Stage times") plus the totals; the
first stage's start to the last stage's end is the wall time of the whole `dvc repro` after `generate`.

Run: ``python benchmarks/study_times.py [--reports reports] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from datetime import datetime
from pathlib import Path


def notebook_times(reports: Path) -> list[dict]:
    """One row per executed notebook: stage (path under reports, without the file name), seconds, start, end."""
    rows = []
    for path in sorted(reports.rglob("notebook.ipynb")):
        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get("papermill", {})
        if meta.get("duration") is None or meta.get("exception"):
            continue  # never finished, or stopped on an error: not a stage time
        rows.append({"stage": str(path.parent.relative_to(reports)), "seconds": float(meta["duration"]),
                     "start": meta["start_time"], "end": meta["end_time"]})
    return rows


def group_rows(rows: list[dict]) -> list[tuple[str, int, float]]:
    """(group, runs, seconds): the seed runs of one ablation (`ablations/<name>/seed<k>`) form one group."""
    groups: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        parts = row["stage"].split("/")
        key = "/".join(parts[:2]) if parts[0] == "ablations" else row["stage"]
        groups[key].append(row["seconds"])
    return [(key, len(v), sum(v)) for key, v in groups.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", default="reports", type=Path)
    parser.add_argument("--json", type=Path, help="also write the rows and totals here")
    args = parser.parse_args()
    rows = notebook_times(args.reports)
    if not rows:
        raise SystemExit(f"no executed notebooks with papermill timings under {args.reports}")
    print("| stage | runs | minutes |\n|---|---:|---:|")
    for key, runs, sec in group_rows(rows):
        print(f"| {key} | {runs} | {sec / 60:.1f} |")
    total = sum(r["seconds"] for r in rows)
    first = min(datetime.fromisoformat(r["start"]) for r in rows)
    last = max(datetime.fromisoformat(r["end"]) for r in rows)
    wall = (last - first).total_seconds()
    print(f"\nsum of stage times: {total / 60:.1f} min over {len(rows)} notebooks; "
          f"first start to last end: {wall / 60:.1f} min")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "total_sec": total, "wall_sec": wall}, indent=1) + "\n",
                             encoding="utf-8")


if __name__ == "__main__":
    main()
