"""A stage notebook under a real-data profile (`paper_configs:` in the profile, e.g. `profile: paper`): the same
cells, with the real dataset's name and the paper's printed numbers beside ours.

A profile that maps stages to the packaged paper configurations runs them on the real datasets (`unloc.config.paper`).
There the study needs no mini-world, `data_line` names the dataset the stage reads (told from its annotation file's
format) with its counts, and `paper_numbers` returns what the paper prints for the configuration the stage runs (a
stage's paper configuration decides the row: `seg.coin` runs `coin_l`, so it faces UnLoc-L's COIN numbers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from unloc.config import read_params
from unloc.config.params import profile_delta
from unloc.data.formats import detect_format, read_annotations
from unloc.data.paths import resolve_videos
from unloc.study.paper_numbers import paper_cite, paper_value

DATASET_NAMES = {"qvhighlights": "QVHighlights", "charades_sta": "Charades-STA",
                 "activitynet_captions": "ActivityNet Captions", "activitynet13": "ActivityNet-1.3", "coin": "COIN",
                 "kinetics": "Kinetics"}
_MR = ("R1@0.5", "R1@0.7", "R5@0.5", "R5@0.7")
# paper configuration -> the printed cells it reproduces: (table, row, column, our metric key)
PAPER_CELLS: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    **{name: tuple(("5", name, m, m) for m in _MR) for name in ("charades_b", "anet_captions_b", "anet_captions_l")},
    # R@5 not printed; our R1@IoU is the official evaluator's MR-full-R1@IoU too
    **{name: tuple(("5", name, m, key) for m in _MR[:2] for key in (m, f"MR-full-{m}")) for name in ("qvh_b", "qvh_l")},
    "anet_tal_b": (("6", "finetuned", "b_first", "mAP@0.5"),),
    "anet_tal_l": (("6", "finetuned", "l_first", "mAP@0.5"),),
    "anet_tal_zs75_b": (("6", "zero_shot_75", "b_first", "mAP@0.5"),),
    "anet_tal_zs50_b": (("6", "zero_shot_50", "b_first", "mAP@0.5"),),
    "anet_tal_zs75_l": (("6", "zero_shot_75", "l_first", "mAP@0.5"),),
    "anet_tal_zs50_l": (("6", "zero_shot_50", "l_first", "mAP@0.5"),),
    "coin_l": (("7", "l_first", "frame_accuracy", "frame_accuracy"), ("7", "l_first", "mAP", "mAP")),
    "kinetics700_b": (), "kinetics700_l": (),  # the paper prints no number for its video pretraining
}
_SPLIT = re.compile(r"_split[0-9]+$")  # a zero-shot class split k faces the paper's mean over splits


@dataclass(frozen=True)
class PaperNumber:
    """One printed number: our metric key it faces, the value, and its citation (table, row, column)."""

    metric: str
    value: float
    cite: str


def paper_config(params_file: str | Path, profile: str | None, stage: str) -> str | None:
    """The paper configuration the profile runs for `stage` (None: the profile runs the mini-world settings)."""
    return (profile_delta(read_params(params_file), profile).get("paper_configs") or {}).get(stage)


def runs_real_data(params_file: str | Path, profile: str | None) -> bool:
    """Whether the profile maps stages to paper configurations (real datasets, no mini-world)."""
    return "paper_configs" in profile_delta(read_params(params_file), profile)


def paper_numbers(config: str | None) -> tuple[PaperNumber, ...]:
    """What the paper prints for paper configuration `config` (empty for None or a config it prints nothing for)."""
    if config is None:
        return ()
    cells = PAPER_CELLS[_SPLIT.sub("", config)]
    return tuple(PaperNumber(metric, paper_value(t, row, col), paper_cite(t, row, col))
                 for t, row, col, metric in cells if paper_value(t, row, col) is not None)


def dataset_name(annotations: str | Path) -> str:
    """The benchmark of an annotation file, told from its format (e.g. 'QVHighlights')."""
    return DATASET_NAMES[detect_format(Path(annotations))]


def _counts(cfg, role: str) -> str:
    source = cfg.data.source(role)
    ann = read_annotations(Path(source.annotations), split=source.split)
    found = len(resolve_videos(list(ann.videos), Path(cfg.data.video_root)).found)
    items = f"{len(ann.queries)} queries on " if ann.queries else f"{ann.num_segments} segments in "
    split = f" [{source.split}]" if source.split else ""
    return (f"{Path(source.annotations).name}{split} ({items}{len(ann.videos)} videos, {found} of them under "
            f"{Path(cfg.data.video_root).name}/)")


def data_line(cfg, config: str | None) -> str:
    """'data: QVHighlights (the paper's qvh_b configuration), evaluated on <file> (<counts>), trained on ...'."""
    name = dataset_name(cfg.data.source("eval").annotations)
    return (f"data: {name} (the paper's {config} configuration), evaluated on {_counts(cfg, 'eval')}, "
            f"trained on {_counts(cfg, 'train')}")
