"""`unloc data check` on the full official annotation files reports the counts of data/annotations/README.md.

Slow (reads about 30 MB of annotations), and skipped when the files are absent; point UNLOC_REAL_ANNOTATIONS at a
copy of the annotation folder to run it elsewhere.
"""

import json
import os
from pathlib import Path

import pytest

from unloc.cli import main

ROOT = Path(os.environ.get("UNLOC_REAL_ANNOTATIONS", "/work/shared/data/annotations"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not ROOT.is_dir(), reason=f"real annotation files not found at {ROOT}"),
]

# file -> fields of the summary that must equal the README's checked counts (and the quirk counts it names)
EXPECTED = {
    "qvhighlights/highlight_train_release.jsonl": {"queries": 7218},
    "qvhighlights/highlight_val_release.jsonl": {"queries": 1550},
    "qvhighlights/highlight_test_release.jsonl": {"queries": 1542, "segments": 0},
    "qvhighlights/highlight_test_with_gt.jsonl": {"queries": 1542},
    "charades_sta/charades_sta_train.txt": {"records": 12408, "reversed_segment": 4},
    "charades_sta/charades_sta_test.txt": {"records": 3720, "queries": 3720},
    "activitynet_captions/train.json": {"videos": 10009, "records": 37421, "reversed_segment": 2, "past_end": 29},
    "activitynet_captions/val_1.json": {"videos": 4917, "records": 17505, "queries": 17505, "past_end": 5},
    "activitynet_captions/val_2.json": {"videos": 4885, "records": 17031, "queries": 17031, "past_end": 1},
    "activitynet13/activity_net.v1-3.substitute.json": {"videos": 19228, "classes": 200},
    "activitynet13/anet_anno_action.json": {"videos": 19228, "classes": 200},
    "kinetics/kinetics-400_val.csv": {"videos": 19906, "records": 19906, "classes": 400},
}
MOMENT_RETRIEVAL = {"qvhighlights", "charades_sta", "activitynet_captions"}
ANET13_SPLITS = {"training": 9649, "validation": 4728, "testing": 4851}


def _summary(capsys, relpath: str) -> dict:
    assert main(["data", "check", str(ROOT / relpath)]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("relpath", sorted(EXPECTED))
def test_counts_match_the_annotation_readme(capsys, relpath):
    summary = _summary(capsys, relpath)
    flat = {**summary, **summary["quirks"]}
    assert {k: flat[k] for k in EXPECTED[relpath]} == EXPECTED[relpath]
    # every record read is either kept or counted as dropped
    if summary["format"] in MOMENT_RETRIEVAL:
        assert summary["queries"] + summary["quirks"]["dropped_query"] == summary["records"]
    else:
        assert summary["segments"] + summary["quirks"]["empty_segment"] == summary["records"]
    if relpath.startswith("activitynet13/"):
        assert {s: c["videos"] for s, c in summary["splits"].items()} == ANET13_SPLITS


def test_activitynet_captions_sentences_with_leading_spaces_are_counted(capsys):
    summary = _summary(capsys, "activitynet_captions/train.json")
    assert 0 < summary["quirks"]["untrimmed_text"] < summary["records"]
