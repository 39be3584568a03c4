"""Readers on hostile input: wrong JSON types, other encodings, a format that does not match the file, empty files, and
the as-given reading that evaluation uses (quirks counted, windows untouched)."""

import json
import math
from pathlib import Path

import pytest

from unloc.cli import main
from unloc.data.formats import AnnotationError, read_annotations
from unloc.data.formats.activitynet13 import read_activitynet13
from unloc.data.formats.activitynet_captions import read_activitynet_captions
from unloc.data.formats.charades_sta import read_charades_sta
from unloc.data.formats.coin import read_coin

FIXTURES = Path(__file__).parent / "fixtures" / "annotations"
EVAL_FX = Path(__file__).parent / "fixtures" / "eval"
QVH_ROW = {"qid": 1, "query": "a dog", "duration": 150, "vid": "abc_0.0_150.0", "relevant_windows": [[0, 4]],
           "relevant_clip_ids": [0, 1], "saliency_scores": [[1, 2, 3], [4, 4, 0]]}


def test_as_given_keeps_every_window_and_counts_the_quirks():
    path = EVAL_FX / "anet_captions_train_quirks_excerpt.json"
    cleaned = read_activitynet_captions(path)
    given = read_activitynet_captions(path, as_given=True)
    raw = json.loads(path.read_text())
    windows = [tuple(map(float, w)) for video in raw.values() for w in video["timestamps"]]
    assert [q.windows[0] for q in given.queries] == windows  # untouched, reversed ones included
    assert len(given.queries) == len(windows) >= len(cleaned.queries)
    assert given.quirks.count("reversed_segment") == cleaned.quirks.count("reversed_segment") == 2
    assert given.quirks.count("past_end") == cleaned.quirks.count("past_end")
    assert given.quirks.count("dropped_query") == 0
    assert "kept as given" in given.quirks.examples["reversed_segment"][0]
    with pytest.raises(AnnotationError, match="strict mode, the policy would be: keep it as given"):
        read_activitynet_captions(path, as_given=True, strict=True)


def test_as_given_needs_no_duration_where_the_official_evaluators_read_none(tmp_path):
    txt = tmp_path / "charades_sta_test.txt"
    txt.write_text("3MSZA 24.3 30.4##person turn a light on.\n3MSZA 30.4 24.3##reversed.\n")
    with pytest.raises(AnnotationError, match="Charades_v1_"):
        read_charades_sta(txt)
    given = read_charades_sta(txt, as_given=True)
    assert math.isnan(given.videos["3MSZA"].duration_sec)
    assert [q.windows for q in given.queries] == [((24.3, 30.4),), ((30.4, 24.3),)]
    assert given.quirks.counts == {"reversed_segment": 1}
    anet = {"database": {"a": {"subset": "validation", "annotations": [{"segment": [0, 5], "label": "x"}]}}}
    assert math.isnan(read_activitynet13(tmp_path / "gt.json", data=anet, as_given=True).videos["a"].duration_sec)
    with pytest.raises(AnnotationError, match="gt.json: video a: needs `duration`"):
        read_activitynet13(tmp_path / "gt.json", data=anet)


@pytest.mark.parametrize(("change", "message"), [
    ({"vid": 12}, "vid must be a non-empty string, got 12"),
    ({"qid": True}, "qid must be an integer, got True"),
    ({"qid": "1"}, "qid must be an integer, got '1'"),
    ({"duration": "150"}, "duration must be a number, got '150'"),
    ({"duration": None}, "duration must be a number, got None"),
    ({"relevant_windows": [[0, "4"]]}, "segment end must be a number, got '4'"),
    ({"relevant_windows": [[False, 4]]}, "segment start must be a number, got False"),
    ({"relevant_windows": [[0, 10**400]]}, "segment end must be finite, got 1000"),  # an int beyond float range
    ({"duration": float("inf")}, "duration must be finite, got inf"),
    ({"saliency_scores": [[1, 2, 5], [4, 4, 0]]}, "saliency_scores must be lists of 3 integers in"),
    ({"saliency_scores": [[1, 2], [4, 4]]}, "saliency_scores must be lists of 3 integers in"),
    ({"relevant_clip_ids": [0, True]}, "relevant_clip_ids must be integers"),
    ({"relevant_clip_ids": [0, 75]}, r"relevant_clip_ids must be integers in \[0, 75\)"),
    ({"query": 5}, "sentence must be a string, got 5"),
])
def test_qvhighlights_field_types_and_ranges(tmp_path, change, message):
    path = tmp_path / "highlight_val_release.jsonl"
    path.write_text(json.dumps(QVH_ROW) + "\n" + json.dumps({**QVH_ROW, "qid": 2, **change}) + "\n")
    with pytest.raises(AnnotationError, match=f"highlight_val_release.jsonl: line 2.*{message}"):
        read_annotations(path)


@pytest.mark.parametrize(("entry", "message"), [
    ({"subset": 1, "duration": 5, "annotations": []}, "`subset` must be a string, got 1"),
    ({"subset": "validation", "duration": 5}, "no `annotations` list"),
    ({"subset": "validation", "duration": 5, "annotations": [{"segment": [0, 1], "label": 3}]}, "label must be a str"),
    ({"subset": "validation", "duration": True, "annotations": []}, "duration must be a number, got True"),
])
def test_activitynet13_field_types(tmp_path, entry, message):
    path = tmp_path / "gt.json"
    path.write_text(json.dumps({"database": {"ok": {"subset": "validation", "duration": 5, "annotations": []},
                                             "bad": entry}}))
    with pytest.raises(AnnotationError, match=f"gt.json: video bad.*{message}"):
        read_activitynet13(path)


def test_coin_step_ids_are_integers_and_kept_as_class_ids(tmp_path):
    ann = read_coin(FIXTURES / "coin/COIN.json")
    assert len(ann.class_ids) == len(ann.classes) and ann.class_ids == tuple(sorted(ann.class_ids, key=int))
    data = json.loads((FIXTURES / "coin/COIN.json").read_text())
    video = next(iter(data["database"].values()))
    video["annotation"][0]["id"] = 2.5
    bad = tmp_path / "COIN.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(AnnotationError, match="step id must be an integer, got 2.5"):
        read_coin(bad)


def test_a_file_of_another_dataset_with_an_explicit_format_is_an_error():
    coin = FIXTURES / "coin/COIN.json"
    with pytest.raises(AnnotationError, match="read as activitynet13, but the file looks like coin"):
        read_annotations(coin, "activitynet13")
    with pytest.raises(AnnotationError, match="no `annotations` list; it has `annotation`: is this a COIN file"):
        read_activitynet13(coin)
    with pytest.raises(AnnotationError, match="looks like charades_sta"):
        read_annotations(FIXTURES / "charades_sta/charades_sta_test.txt", "qvhighlights")


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16"])
def test_a_file_that_is_not_utf8_names_the_file_and_line(tmp_path, capsys, encoding):
    path = tmp_path / "charades_sta_test.txt"
    (tmp_path / "Charades_v1_test.csv").write_text("id,length\n3MSZA,40\n")
    path.write_bytes("3MSZA 24.3 30.4##a person opens the door.\n3MSZA 1 2##caf\u00e9 au lait\n".encode(encoding))
    line = 2 if encoding == "latin-1" else 1
    with pytest.raises(AnnotationError, match=f"charades_sta_test.txt: line {line}: not UTF-8 text"):
        read_charades_sta(path, as_given=True)
    code = main(["data", "check", str(path), "--format", "charades_sta"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and f"{path}: line {line}: not UTF-8 text" in err
    names = tmp_path / "names.txt"
    names.write_bytes("caf\u00e9\n".encode("latin-1"))
    code = main(["data", "check", str(FIXTURES / "kinetics/kinetics-400_val.csv"), "--classes", str(names)])
    assert code == 2 and f"{names}: line 1: not UTF-8 text" in capsys.readouterr().err


def test_an_empty_annotation_file_warns(tmp_path, capsys):
    path = tmp_path / "highlight_val_release.jsonl"
    path.write_text("")
    assert main(["data", "check", str(path)]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["records"] == 0 and json.loads(out)["warnings"]
    assert f"warning: {path}: no records read" in err
    assert main(["data", "check", str(FIXTURES / "qvhighlights/highlight_val_release.jsonl")]) == 0
    assert json.loads(capsys.readouterr().out)["warnings"] == []


def test_a_directory_or_unreadable_path_is_one_line(tmp_path, capsys):
    folder = tmp_path / "gt.json"
    folder.mkdir()
    with pytest.raises(AnnotationError, match="gt.json: cannot read the file"):
        read_activitynet13(folder)
    assert main(["data", "check", str(folder), "--format", "activitynet13"]) == 2


def test_name_lists_skip_comments_and_refuse_repeats_or_emptiness(tmp_path):
    from unloc.data.formats.fileio import read_names

    names = tmp_path / "classes.txt"
    names.write_text("# classes\nfirst class  # the one\n\nsecond, with a comma\n")
    assert read_names(names) == ["first class", "second, with a comma"]
    names.write_text("a\nb\na\n")
    with pytest.raises(AnnotationError, match=r"classes.txt: line 3: 'a' is listed twice"):
        read_names(names)
    names.write_text("# nothing\n\n")
    with pytest.raises(AnnotationError, match="classes.txt: no names"):
        read_names(names)
