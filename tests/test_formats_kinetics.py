"""Kinetics csv reader on a real excerpt of kinetics-400_val.csv."""

import csv
from pathlib import Path

import pytest

from unloc.data.formats import AnnotationError
from unloc.data.formats.kinetics import kinetics_video_id, read_kinetics

FIXTURES = Path(__file__).parent / "fixtures" / "annotations" / "kinetics"
VAL = FIXTURES / "kinetics-400_val.csv"


def test_clip_ids_follow_the_downloader_file_names():
    assert kinetics_video_id("--nQbRBEz2s", 104, 114) == "--nQbRBEz2s_000104_000114"
    assert kinetics_video_id("abc", 7.0, 17.0) == "abc_000007_000017"


def test_val_excerpt_one_whole_clip_segment_per_row():
    ann = read_kinetics(VAL)
    with open(VAL, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(ann.videos) == ann.num_records == ann.num_segments == len(rows) == 24
    assert ann.classes == tuple(sorted({r["label"] for r in rows})) and len(ann.classes) == 8
    clip = ann.videos["--nQbRBEz2s_000104_000114"]
    assert (clip.duration_sec, clip.split) == (10.0, "val")
    (seg,) = clip.segments
    assert (seg.start_sec, seg.end_sec, seg.label) == (0.0, 10.0, "air drumming")
    assert ann.classes[seg.class_idx] == "air drumming" and not ann.quirks.counts
    assert len(read_kinetics(VAL, split="train").videos) == 0


def test_given_class_list_fixes_the_indices_and_rejects_unknown_labels():
    label_map = ("zumba", "air drumming", "climbing tree")
    with pytest.raises(AnnotationError, match=r"kinetics-400_val.csv: line 5 \(clip -0Mf.*unknown label"):
        read_kinetics(VAL, classes=label_map[:2])
    ann = read_kinetics(VAL, classes=[*label_map, *sorted(read_kinetics(VAL).classes)[2:]])
    assert ann.videos["--nQbRBEz2s_000104_000114"].segments[0].class_idx == 1


def test_test_list_without_labels_duplicates_and_bad_times(tmp_path):
    path = tmp_path / "kinetics_test.csv"
    path.write_text("youtube_id,time_start,time_end,split\nabc,0,10,test\nabc,0,10,test\nxyz,5,15,test\n")
    ann = read_kinetics(path)
    assert list(ann.videos) == ["abc_000000_000010", "xyz_000005_000015"] and ann.num_segments == 0
    assert ann.quirks.counts == {"duplicate_video": 1} and ann.classes == ()
    with pytest.raises(AnnotationError, match="line 3: clip abc_000000_000010 listed again"):
        read_kinetics(path, strict=True)
    path.write_text("youtube_id,time_start,time_end,split\nabc,10,10,test\n")
    with pytest.raises(AnnotationError, match="line 2: time_end 10.0 must be after time_start 10.0"):
        read_kinetics(path)
    path.write_text("youtube_id,time_start,time_end\nabc,0,10\nabc,10\n")
    with pytest.raises(AnnotationError, match="line 3: the row does not have the 3 fields"):
        read_kinetics(path)
    path.write_text("youtube_id,time_start\nabc,10\n")
    with pytest.raises(AnnotationError, match=r"line 1: missing column\(s\) \['time_end'\]"):
        read_kinetics(path)
