"""Where the study's time goes: per stage, kernel start, imports, feature extraction, training, evaluation, the rest.

Every DVC stage but `generate` runs a notebook through papermill, which stores the notebook's and every cell's start,
end and duration in the executed copy under `reports/`. The notebook's start is taken before the kernel starts, so
kernel start = first cell start - notebook start. The cell that imports `unloc` is the import cost; the cell that runs
the stage (`run_against_baselines`, `run_seeds`, `pretrain_clip`, `reevaluate`) is split with the run directory's
`times.json` (written by `unloc.run.experiment.run_experiment`: feature extraction, training, prediction, evaluation;
an ablation's seeds summed from `<runs>/<stage>/seed<k>/`, and scaled to the cell's wall time when they ran at once)
or, for older runs, its `metrics.json` (train_seconds, eval_seconds; extraction is then part of "setup"); "setup" is
what remains of that cell (datasets, model, checkpoint loading, and the trivial baselines `run_against_baselines`
scores); "other cells" are figures and tables.

Savings are computed from the same numbers: running all seeds of an ablation in one notebook saves every seed's
kernel start and imports but the first; the features column is what a cache shared by the stages using the same
frozen tower and frame sampling saves whenever a later stage recomputes it.

Run: ``python benchmarks/study_times.py [--reports reports] [--runs runs] [--json out.json] [--startup 3]`` (`--startup N` also
measures the kernel start and `from unloc.study import figures, stages` of a two-cell notebook N times through papermill).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

PARTS = ("kernel", "imports", "features", "setup", "train", "eval", "other")
_STAGE_CALLS = ("run_against_baselines(", "run_seeds(", "run_stage(", "pretrain_clip(", "reevaluate(")


def _time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def _run_times(run_dir: Path, seed_dirs: list[Path] = ()) -> dict[str, float]:
    """Seconds of the stage cell's parts a run directory recorded (times.json, else metrics.json); an ablation's
    seeds, each in its own run directory under `runs/` (`seed_dirs`), are summed."""
    if seed_dirs:
        parts = [_run_times(d) for d in seed_dirs]
        return {k: sum(p.get(k, 0.0) for p in parts) for k in {k for p in parts for k in p}}
    times_path, metrics_path = run_dir / "times.json", run_dir / "metrics.json"
    if times_path.is_file():
        t = json.loads(times_path.read_text(encoding="utf-8"))
        return {"features": t["extract"], "train": t["train"], "eval": t["predict"] + t["eval"]}
    if metrics_path.is_file():
        m = json.loads(metrics_path.read_text(encoding="utf-8"))
        train = m.get("train_seconds", m.get("train_time_sec", 0.0))
        return {"train": float(train), "eval": float(m.get("eval_seconds", 0.0))}
    return {}


def notebook_row(path: Path, stage: str, runs: Path | None = None) -> dict | None:
    """Seconds, start, end and the seconds of each of `PARTS` of one executed notebook; None if it did not finish.
    `runs`: the study's run root, where an ablation notebook's seeds ran (`<runs>/<stage>/seed<k>`)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    meta = nb.get("metadata", {}).get("papermill", {})
    if meta.get("duration") is None or meta.get("exception"):
        return None  # never finished, or stopped on an error: not a stage time
    row = {"stage": stage, "seconds": float(meta["duration"]), "start": meta["start_time"], "end": meta["end_time"],
           **dict.fromkeys(PARTS, 0.0)}
    cells = [(c, c.get("metadata", {}).get("papermill", {})) for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    cells = [(c, m) for c, m in cells if m.get("duration") is not None]
    if cells:
        first = min(_time(m["start_time"]) for _, m in cells)
        row["kernel"] = max(0.0, (first - _time(meta["start_time"])).total_seconds())
    split = False
    for cell, cell_meta in cells:
        source = "".join(cell.get("source", ""))
        seconds = float(cell_meta["duration"])
        if any(call in source for call in _STAGE_CALLS) and split:
            row["eval"] += seconds  # a second stage call: re-evaluation of the trained run (prompt ensembling)
        elif any(call in source for call in _STAGE_CALLS):
            split = True
            seed_dirs = sorted((runs / stage).glob("seed*")) if runs is not None and "run_seeds(" in source else []
            recorded = _run_times(path.parent, seed_dirs)
            busy = sum(recorded.values())
            if busy > seconds:  # seeds trained at once (`seed_workers`): their seconds overlap, so the cell's wall
                recorded = {k: v * seconds / busy for k, v in recorded.items()}  # time is split in proportion
            for part, value in recorded.items():
                row[part] += value
            row["setup"] += max(0.0, seconds - sum(recorded.values()))
        elif "from unloc" in source and "import" in source:
            row["imports"] += seconds
        else:
            row["other"] += seconds
    return row


def notebook_times(reports: Path, runs: Path | None = None) -> list[dict]:
    """One `notebook_row` per finished notebook under `reports`, its stage the folder path below `reports`."""
    rows = [notebook_row(path, str(path.parent.relative_to(reports)), runs)
            for path in sorted(reports.rglob("notebook.ipynb"))]
    return [row for row in rows if row is not None]


def group_rows(rows: list[dict]) -> list[dict]:
    """Rows summed per group (`ablations/<name>/seed<k>` form `ablations/<name>`), with the run count `runs`."""
    groups: dict[str, dict] = defaultdict(lambda: {"runs": 0, "seconds": 0.0, **dict.fromkeys(PARTS, 0.0)})
    for row in rows:
        parts = row["stage"].split("/")
        key = "/".join(parts[:2]) if parts[0] == "ablations" else row["stage"]
        group = groups[key]
        group["runs"] += 1
        for name in ("seconds", *PARTS):
            group[name] += row[name]
    return [{"group": key, **values} for key, values in groups.items()]


def savings(groups: list[dict], per_notebook: float | None = None) -> dict[str, float]:
    """What one notebook per ablation (all seeds in one kernel) saves: the notebooks it removes, and their start-up
    seconds: each removed notebook's kernel start and imports, or `per_notebook` (a measured papermill command of an
    empty notebook, which also counts papermill's own start and the kernel's shutdown) when given."""
    removed = sum(g["runs"] - 1 for g in groups if g["group"].startswith("ablations/") and g["runs"] > 1)
    if per_notebook is None:
        seconds = sum((g["kernel"] + g["imports"]) * (g["runs"] - 1) / g["runs"]
                      for g in groups if g["group"].startswith("ablations/") and g["runs"] > 1)
    else:
        seconds = removed * per_notebook
    return {"notebooks_removed": removed, "one_notebook_per_ablation": seconds}


def measure_startup(repeats: int) -> list[tuple[float, float, float]]:
    """(papermill command, kernel start, `from unloc.study import figures, stages`) seconds of a two-cell notebook."""
    cells = [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": src}
             for src in ("x = 1", "from unloc.study import figures, stages")]
    nb = {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                      "language": "python"}}, "nbformat": 4, "nbformat_minor": 5}
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp, "in.ipynb"), Path(tmp, "out.ipynb")
        src.write_text(json.dumps(nb))
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "papermill", str(src), str(dst), "-k", "python3",
                            "--no-progress-bar"], check=True, capture_output=True)
            row = notebook_row(dst, "startup")
            out.append((time.perf_counter() - start, row["kernel"], row["imports"]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", default="reports", type=Path)
    parser.add_argument("--runs", default="runs", type=Path, help="the study's run root (ablation seeds)")
    parser.add_argument("--json", type=Path, help="also write the rows, groups, totals and savings here")
    parser.add_argument("--startup", type=int, default=0, help="measure a notebook's kernel start and imports N times")
    args = parser.parse_args()
    rows = notebook_times(args.reports, args.runs)
    startup = measure_startup(args.startup) if args.startup else []
    command = None
    if startup:
        command, kernel, imports = (statistics.median(x) for x in zip(*startup))
        print(f"one notebook's overhead (median of {len(startup)}): the papermill command {command:.1f} s, of which "
              f"kernel start {kernel:.1f} s and `from unloc.study import figures, stages` {imports:.1f} s\n")
    if not rows:
        raise SystemExit(f"no executed notebooks with papermill timings under {args.reports}")
    groups = group_rows(rows)
    print("| stage | runs | minutes | " + " | ".join(f"{p} s" for p in PARTS) + " |")
    print("|---|---:|---:|" + "---:|" * len(PARTS))
    for g in groups:
        print(f"| {g['group']} | {g['runs']} | {g['seconds'] / 60:.1f} | "
              + " | ".join(f"{g[p]:.0f}" for p in PARTS) + " |")
    total = sum(r["seconds"] for r in rows)
    shares = {p: sum(r[p] for r in rows) for p in PARTS}
    first = min(_time(r["start"]) for r in rows)
    wall = (max(_time(r["end"]) for r in rows) - first).total_seconds()
    print(f"\nsum of stage times: {total / 60:.1f} min over {len(rows)} notebooks; "
          f"first start to last end: {wall / 60:.1f} min")
    print("where it goes: " + ", ".join(f"{p} {v / 60:.1f} min ({100 * v / total:.0f} %)" for p, v in shares.items()))
    saved = savings(groups, command)
    print(f"one notebook per ablation (all seeds in one kernel) removes {saved['notebooks_removed']} notebooks and "
          f"saves {saved['one_notebook_per_ablation'] / 60:.1f} min; feature extraction costs "
          f"{shares['features'] / 60:.1f} min in all")
    if args.json:
        doc = {"rows": rows, "groups": groups, "total_sec": total, "wall_sec": wall, "parts_sec": shares,
               "savings_sec": saved, "startup_sec": startup}
        args.json.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
