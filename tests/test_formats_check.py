"""Format detection, video path resolution, and the `unloc data check` command on the fixtures."""

import json
from pathlib import Path

import pytest

from unloc.cli import main
from unloc.data.formats import POLICIES, AnnotationError, detect_format, read_annotations
from unloc.data.paths import candidate_names, index_video_dir, resolve_videos

FIXTURES = Path(__file__).parent / "fixtures" / "annotations"


@pytest.mark.parametrize(
    ("relpath", "expected"),
    [
        ("qvhighlights/highlight_val_release.jsonl", "qvhighlights"),
        ("charades_sta/charades_sta_train.txt", "charades_sta"),
        ("activitynet_captions/train.json", "activitynet_captions"),
        ("activitynet13/activity_net.v1-3.substitute.json", "activitynet13"),
        ("activitynet13/anet_anno_action.json", "activitynet13"),
        ("coin/COIN.json", "coin"),
        ("kinetics/kinetics-400_val.csv", "kinetics"),
    ],
)
def test_detect_format(relpath, expected):
    assert detect_format(FIXTURES / relpath) == expected


@pytest.mark.parametrize(
    ("relpath", "message"),
    [
        ("charades_sta/Charades_v1_train.csv", "Charades metadata; read the Charades-STA txt"),
        ("activitynet13/video_info_new.csv", "read anet_anno_action.json instead"),
        ("README.md", "not an annotation file"),
    ],
)
def test_detect_format_explains_non_annotation_files(relpath, message):
    with pytest.raises(AnnotationError, match=message):
        detect_format(FIXTURES / relpath)


def test_read_annotations_rejects_options_the_reader_does_not_take():
    with pytest.raises(ValueError, match=r"qvhighlights reader takes no option \['classes'\]"):
        read_annotations(FIXTURES / "qvhighlights/highlight_val_release.jsonl", classes=["a"])
    with pytest.raises(FileNotFoundError):
        read_annotations(FIXTURES / "nope.json")


def _touch(root: Path, *names: str) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")


def test_video_index_prefers_extension_rank_then_depth(tmp_path):
    _touch(tmp_path, "a/deep/x.mp4", "x.mkv", "b/y.webm", "y.avi", "z.txt", "v_QOlSCBRmfWY.mp4")
    index = index_video_dir(tmp_path)
    assert index == {"x": tmp_path / "a/deep/x.mp4", "y": tmp_path / "b/y.webm",
                     "v_QOlSCBRmfWY": tmp_path / "v_QOlSCBRmfWY.mp4"}
    assert candidate_names("v_abc") == ("v_abc", "abc") and candidate_names("abc") == ("abc", "v_abc")
    paths = resolve_videos(["QOlSCBRmfWY", "x", "missing1", "missing2"], tmp_path)
    assert paths.found == {"QOlSCBRmfWY": tmp_path / "v_QOlSCBRmfWY.mp4", "x": tmp_path / "a/deep/x.mp4"}
    assert paths.missing == ("missing1", "missing2")
    assert paths.report(max_listed=1).endswith("2 missing: missing1 and 1 more")
    with pytest.raises(FileNotFoundError, match="video root is not a directory"):
        index_video_dir(tmp_path / "nope")


def _check(capsys, *argv: str) -> tuple[int, dict | None, str]:
    code = main(["data", "check", *argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out else None), err


def test_check_summary_on_charades_with_videos(tmp_path, capsys):
    _touch(tmp_path, "3MSZA.mp4", "Charades_v1_480/AMT7R.mp4")
    code, summary, err = _check(capsys, str(FIXTURES / "charades_sta/charades_sta_test.txt"), "--videos", str(tmp_path))
    assert code == 0 and "2 of 6 videos found" in err
    assert summary["format"] == "charades_sta" and summary["records"] == summary["queries"] == 12
    assert (summary["videos"], summary["classes"], summary["videos_found"], summary["missing_videos"]) == (6, 0, 2, 4)
    assert set(summary["quirks"]) == set(POLICIES) and not any(summary["quirks"].values())
    assert summary["splits"] == {"test": {"videos": 6, "queries": 12, "segments": 12}}
    code, _, _ = _check(capsys, str(FIXTURES / "charades_sta/charades_sta_test.txt"), "--videos", str(tmp_path),
                        "--require-videos")
    assert code == 1


def test_check_summary_counts_quirks_and_splits(capsys):
    code, summary, _ = _check(capsys, str(FIXTURES / "activitynet_captions/train.json"))
    assert code == 0 and summary["format"] == "activitynet_captions" and "videos_dir" not in summary
    assert (summary["records"], summary["queries"], summary["videos"]) == (56, 54, 13)
    assert summary["quirks"]["reversed_segment"] == 2 and summary["quirks"]["past_end"] == 3
    assert summary["quirk_examples"]["reversed_segment"][0].startswith("train.json: video v_0bosp4-pyTM sentence 3")
    code, summary, _ = _check(capsys, str(FIXTURES / "activitynet13/anet_anno_action.json"), "--split", "val")
    assert (summary["videos"], summary["classes"], summary["segments"]) == (6, 200, 11)


def test_check_options_and_errors(tmp_path, capsys):
    labels = tmp_path / "labels.txt"
    labels.write_text("air drumming\n")
    code, summary, err = _check(capsys, str(FIXTURES / "kinetics/kinetics-400_val.csv"), "--classes", str(labels))
    assert code == 2 and summary is None and "unknown label 'climbing tree'" in err
    code, _, err = _check(capsys, str(FIXTURES / "activitynet_captions/val_1.json"), "--strict")
    assert code == 2 and "val_1.json: video v_uqiMw7tQ1Cc sentence 1" in err
    code, summary, _ = _check(capsys, str(FIXTURES / "coin/COIN.json"), "--format", "coin", "--taxonomy",
                              str(FIXTURES / "coin/taxonomy_target_action_mapping.csv"))
    assert code == 0 and summary["classes"] == 21 and summary["quirks"]["label_mismatch"] == 1
    code, summary, _ = _check(capsys, str(FIXTURES / "charades_sta/charades_sta_train.txt"), "--durations",
                              str(FIXTURES / "charades_sta/Charades_v1_train.csv"))
    assert code == 0 and summary["quirks"]["dropped_query"] == 3
