"""Annotation files of the mini-world, in the official layouts of the real benchmarks.

Each writer takes the per-video records the generator collected (always `video_id`, `split`, `duration_sec`, plus
the dataset's own fields) and writes the files a user of the real dataset would download, under the same names and
with the same quirks (CRLF in the Charades and COIN CSVs, a leading space on later ActivityNet Captions sentences, no `v_`
in ActivityNet-1.3 ids but `v_` in ActivityNet Captions ids). It returns the paths it wrote, relative to the dataset
folder, for the manifest.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import numpy as np

from unloc.study.miniworld.localization import CoinTask


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def _write_json(path: Path, obj: object) -> None:
    _write_text(path, json.dumps(obj))


def _write_csv(path: Path, header: list[str], rows: list[list], crlf: bool = False) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(header)
    writer.writerows(rows)
    _write_text(path, buf.getvalue())


def _lines(names: list[str]) -> str:
    return "".join(f"{n}\n" for n in names)


def _by_split(records: list[dict], split: str) -> list[dict]:
    return [r for r in records if r["split"] == split]


def kinetics_video_name(record: dict) -> str:
    """File name of a clip, as the Kinetics download scripts name them."""
    return f"{record['video_id']}_{record['time_start']:06d}_{record['time_end']:06d}.mp4"


def write_kinetics(root: Path, records: list[dict], classes: list[str]) -> list[str]:
    """`kinetics_{train,val}.csv` (label,youtube_id,time_start,time_end,split,is_cc) and `label_map.txt`."""
    written = []
    for split in ("train", "val"):
        rows = [[r["label"], r["video_id"], r["time_start"], r["time_end"], split, 0] for r in _by_split(records, split)]
        _write_csv(root / f"kinetics_{split}.csv", ["label", "youtube_id", "time_start", "time_end", "split", "is_cc"],
                   rows)
        written.append(f"kinetics_{split}.csv")
    _write_text(root / "label_map.txt", _lines(classes))
    return [*written, "label_map.txt"]


def write_anet13(root: Path, records: list[dict], classes: list[str], splits: dict[str, dict]) -> list[str]:
    """`activity_net.v1-3.min.json`, `label_map.txt` and the zero-shot class splits under `splits/`."""
    database = {r["video_id"]: {"subset": r["split"], "duration": r["duration_sec"], "annotations": r["annotations"]}
                for r in records}
    _write_json(root / "activity_net.v1-3.min.json",
                {"version": "VERSION 1.3", "taxonomy": [{"nodeName": c} for c in classes], "database": database})
    _write_text(root / "label_map.txt", _lines(classes))
    written = ["activity_net.v1-3.min.json", "label_map.txt"]
    for name, split in splits.items():
        _write_json(root / "splits" / f"{name}.json", split)
        written.append(f"splits/{name}.json")
    return written


_CHARADES_COLUMNS = ["id", "subject", "scene", "quality", "relevance", "verified", "script", "objects",
                     "descriptions", "actions", "length"]


def write_charades_sta(root: Path, records: list[dict]) -> list[str]:
    """`charades_sta_{train,test}.txt` (`ID start end##sentence`) and `Charades_v1_{train,test}.csv` (durations)."""
    written = []
    for split in ("train", "test"):
        chosen = _by_split(records, split)
        lines = [f"{r['video_id']} {s:.1f} {e:.1f}##{text}\n" for r in chosen for text, s, e in r["queries"]]
        _write_text(root / f"charades_sta_{split}.txt", "".join(lines))
        rows = []
        for r in chosen:
            script = " ".join(text for text, _, _ in r["queries"])
            rows.append([r["video_id"], r["subject"], "Canvas", 7, 7, "Yes", script, ";".join(r["objects"]), script,
                         "", f"{r['duration_sec']:.2f}"])
        _write_csv(root / f"Charades_v1_{split}.csv", _CHARADES_COLUMNS, rows, crlf=True)
        written += [f"charades_sta_{split}.txt", f"Charades_v1_{split}.csv"]
    return written


def write_qvhighlights(root: Path, records: list[dict]) -> list[str]:
    """`highlight_{train,val}_release.jsonl`: one query per line, keys in the order of the real files."""
    written = []
    for split in ("train", "val"):
        lines = []
        for r in _by_split(records, split):
            duration = int(r["duration_sec"]) if float(r["duration_sec"]).is_integer() else r["duration_sec"]
            for q in r["queries"]:
                row = {"qid": q["qid"], "query": q["query"], "duration": duration, "vid": r["video_id"],
                       "relevant_clip_ids": q["relevant_clip_ids"], "saliency_scores": q["saliency_scores"],
                       "relevant_windows": q["relevant_windows"]}
                lines.append(json.dumps(row) + "\n")
        _write_text(root / f"highlight_{split}_release.jsonl", "".join(lines))
        written.append(f"highlight_{split}_release.jsonl")
    return written


def write_anet_captions(root: Path, records: list[dict]) -> list[str]:
    """`train.json` and `val_1.json`: {v_id: {duration, timestamps, sentences}}."""
    written = []
    for split, name in (("train", "train.json"), ("val", "val_1.json")):
        _write_json(root / name, {r["video_id"]: {"duration": r["duration_sec"], "timestamps": r["timestamps"],
                                                  "sentences": r["sentences"]} for r in _by_split(records, split)})
        written.append(name)
    return written


def write_coin(root: Path, records: list[dict], tasks: list[CoinTask]) -> list[str]:
    """`COIN.json` and the two taxonomy CSVs (CRLF line ends, as in the COIN repository)."""
    database = {}
    for r in records:
        task: CoinTask = r["task"]
        database[r["video_id"]] = {
            "duration": r["duration_sec"], "class": task.name, "video_url": f"videos/{r['video_id']}.mp4",
            "start": r["start"], "annotation": r["annotation"], "subset": r["split"], "end": r["end"],
            "recipe_type": task.task_id}
    _write_json(root / "COIN.json", {"database": database})
    _write_csv(root / "taxonomy_target_action_mapping.csv", ["Target Id", "Target Label", "Action Id", "Action Label"],
               [[t.task_id, t.name, step_id, label] for t in tasks for step_id, *_, label in t.steps], crlf=True)
    _write_csv(root / "taxonomy_domain_target_mapping.csv", ["Domains", "Targets"],
               [[t.domain, t.name] for t in tasks], crlf=True)
    return ["COIN.json", "taxonomy_target_action_mapping.csv", "taxonomy_domain_target_mapping.csv"]


def write_pairs(root: Path, records: list[dict], frames: np.ndarray) -> list[str]:
    """`pairs.jsonl` (one record per pair) and `frames.npz` holding `frames`, indexed by the records' `idx`.

    Args:
        frames: (pairs, k, h, w, 3) uint8.
    """
    _write_text(root / "pairs.jsonl", "".join(json.dumps(r) + "\n" for r in records))
    # np.savez stamps the current time into the zip; a fixed stamp keeps the file byte-reproducible
    info = zipfile.ZipInfo("frames.npy", date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(root / "frames.npz", "w") as archive, archive.open(info, "w", force_zip64=True) as f:
        np.lib.format.write_array(f, np.ascontiguousarray(frames), allow_pickle=False)
    return ["pairs.jsonl", "frames.npz"]
