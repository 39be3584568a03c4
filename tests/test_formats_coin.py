"""COIN json reader on a fixture written in the layout of COIN's README, with the real taxonomy csv excerpt."""

import json
import shutil
from pathlib import Path

import pytest

from unloc.data.formats import AnnotationError
from unloc.data.formats.coin import load_coin_taxonomy, read_coin

FIXTURES = Path(__file__).parent / "fixtures" / "annotations" / "coin"
COIN = FIXTURES / "COIN.json"


def test_classes_are_steps_in_id_order_and_repeated_names_stay_distinct():
    steps = load_coin_taxonomy(FIXTURES / "taxonomy_target_action_mapping.csv")  # CRLF file
    assert len(steps) == 21 and steps[263] == "tighten screws"
    ann = read_coin(COIN)
    assert ann.classes == tuple(steps[i] for i in sorted(steps))
    tire = {s.class_idx for v in ann.videos.values() for s in v.segments if s.label == "remove the tire"}
    assert tire == {sorted(steps).index(234), sorted(steps).index(261)}  # ChangeBikeTires vs ChangeCarTire


def test_readme_example_and_quirks():
    ann = read_coin(COIN)
    readme = ann.videos["LtRSn-ntcLY"]
    assert (readme.duration_sec, readme.split, readme.task) == (131.0309, "training", "ReplaceCDDriveWithSSD")
    assert [(s.start_sec, s.end_sec, s.class_idx) for s in readme.segments] == [(60.0, 69.0, 0), (71.0, 82.0, 4)]
    assert ann.quirks.counts == {"label_mismatch": 1, "reversed_segment": 1, "past_end": 1, "untrimmed_text": 1,
                                 "empty_segment": 1}
    bike = ann.videos["fixtureBT02"].segments
    assert [(s.start_sec, s.end_sec) for s in bike[2:]] == [(38.5, 45.0), (60.0, 72.1)]
    car = ann.videos["fixtureCT01"].segments
    assert car[-1].label == "tighten screws"  # the step id decides, the taxonomy names it
    polish = ann.videos["fixturePC03"].segments
    assert [s.label for s in polish] == ["clean the surface", "polish with polisher"]
    assert ann.num_records == 14 and ann.num_segments == 13


@pytest.mark.parametrize(("split", "expected"), [("train", 3), ("training", 3), ("test", 1), ("validation", 0)])
def test_split_filter(split, expected):
    assert len(read_coin(COIN, split=split).videos) == expected


def test_without_taxonomy_the_classes_are_the_step_ids_met(tmp_path):
    shutil.copy(COIN, tmp_path / "COIN.json")
    ann = read_coin(tmp_path / "COIN.json")
    data = json.loads(COIN.read_text())["database"]
    ids = sorted({int(a["id"]) for v in data.values() for a in v["annotation"]})
    assert len(ann.classes) == len(ids) == 14 and ann.quirks.count("label_mismatch") == 0
    assert ann.videos["fixtureCT01"].segments[-1].class_idx == ids.index(263)


def test_unknown_step_and_strict_mode(tmp_path):
    data = json.loads(COIN.read_text())
    data["database"]["LtRSn-ntcLY"]["annotation"][1]["id"] = "999"
    shutil.copy(FIXTURES / "taxonomy_target_action_mapping.csv", tmp_path)
    (tmp_path / "COIN.json").write_text(json.dumps(data))
    with pytest.raises(AnnotationError, match="video LtRSn-ntcLY annotation 1: unknown step id 999"):
        read_coin(tmp_path / "COIN.json")
    with pytest.raises(AnnotationError, match="video fixtureCT01 annotation 4: step 263 is 'tighten screws'"):
        read_coin(COIN, strict=True)
