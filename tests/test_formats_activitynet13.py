"""ActivityNet-1.3 reader: the official layout and BSN's layout of the same real videos must give the same records."""

import json
import shutil
from pathlib import Path

import pytest

from unloc.data.formats import AnnotationError
from unloc.data.formats.activitynet13 import read_activitynet13, taxonomy_classes

FIXTURES = Path(__file__).parent / "fixtures" / "annotations" / "activitynet13"
OFFICIAL = FIXTURES / "activity_net.v1-3.substitute.json"
BSN = FIXTURES / "anet_anno_action.json"


def test_official_layout_hand_worked_records():
    ann = read_activitynet13(OFFICIAL)
    assert ann.format == "activitynet13" and len(ann.classes) == 200 and list(ann.classes) == sorted(ann.classes)
    assert len(ann.videos) == 17 and ann.num_records == 21 and ann.queries == ()
    ballet = ann.videos["QOlSCBRmfWY"]
    assert (ballet.duration_sec, ballet.split) == (82.73, "training")
    (seg,) = ballet.segments
    assert (seg.start_sec, seg.end_sec, seg.label) == (6.195294851794072, 77.73085420904837, "Ballet")
    assert ann.classes[seg.class_idx] == "Ballet"
    kick = ann.videos["0QDPpdms08g"].segments
    assert (kick[0].start_sec, kick[0].end_sec) == (0.0, 119.65)  # [0, 120] clipped to the duration
    assert ann.videos["H-yBxySDyTw"].segments == ()  # [0, 0] dropped
    assert len(ann.videos["QhiKgeJV3k0"].segments) == 1  # the zero-length one of two dropped
    assert ann.quirks.counts == {"past_end": 2, "empty_segment": 2}
    assert {s: c["videos"] for s, c in ann.split_counts().items()} == {"training": 8, "validation": 6, "testing": 3}
    assert all(v.segments == () for v in ann.videos.values() if v.split == "testing")


def test_bsn_layout_gives_the_same_records_plus_frames():
    official, bsn = read_activitynet13(OFFICIAL), read_activitynet13(BSN)
    assert list(bsn.videos) == list(official.videos)  # `v_` stripped: one id per video in both layouts
    assert bsn.classes == official.classes and bsn.quirks.counts == official.quirks.counts
    for video_id, video in official.videos.items():
        other = bsn.videos[video_id]
        assert (other.split, other.segments) == (video.split, video.segments)
        assert other.duration_sec == pytest.approx(video.duration_sec, abs=1e-9)
    kick = bsn.videos["0QDPpdms08g"]
    assert (kick.fps, kick.num_frames) == (24.0, 2870)  # from video_info_new.csv


@pytest.mark.parametrize("path", [OFFICIAL, BSN])
@pytest.mark.parametrize(("split", "expected"), [("validation", 6), ("val", 6), ("train", 8), ("testing", 3)])
def test_split_filter_accepts_official_and_short_names(path, split, expected):
    ann = read_activitynet13(path, split=split)
    assert len(ann.videos) == expected and ann.quirks.count("past_end") == int(split.startswith(("val", "train")))


def test_taxonomy_leaves_exclude_parent_nodes():
    taxonomy = [{"nodeId": 0, "parentId": None, "nodeName": "Root"},
                {"nodeId": 1, "parentId": 0, "nodeName": "Sports"},
                {"nodeId": 2, "parentId": 1, "nodeName": "Surfing"},
                {"nodeId": 3, "parentId": 1, "nodeName": "Archery"}]
    assert taxonomy_classes(taxonomy, OFFICIAL) == ("Archery", "Surfing")


def test_unknown_label_is_an_error(tmp_path):
    data = json.loads(OFFICIAL.read_text())
    data["database"]["QOlSCBRmfWY"]["annotations"][0]["label"] = "Balet"
    path = tmp_path / "anet.json"
    path.write_text(json.dumps(data))
    with pytest.raises(AnnotationError, match="anet.json: video QOlSCBRmfWY annotation 0: unknown label 'Balet'"):
        read_activitynet13(path)


def test_bsn_without_video_info_has_no_subsets(tmp_path):
    shutil.copy(BSN, tmp_path / BSN.name)
    ann = read_activitynet13(tmp_path / BSN.name)
    labels = {a["label"] for v in json.loads(BSN.read_text()).values() for a in v["annotations"]}
    assert {v.split for v in ann.videos.values()} == {None} and ann.classes == tuple(sorted(labels))
    assert ann.videos["QOlSCBRmfWY"].num_frames == 2067  # BSN's own duration_frame
    with pytest.raises(AnnotationError, match="video_info_new.csv must sit beside it"):
        read_activitynet13(tmp_path / BSN.name, split="training")


def test_strict_mode_names_the_record():
    with pytest.raises(AnnotationError, match=r"video H-yBxySDyTw annotation 0: \[0.0, 0.0\] is empty"):
        read_activitynet13(OFFICIAL, strict=True)
