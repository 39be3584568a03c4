"""Quirk policies on hand-worked segments, strict mode, and the shared builder (split aliases, ids, classes)."""

from pathlib import Path

import pytest

from unloc.data.formats import quirks as quirks_module
from unloc.data.formats.builder import AnnotationBuilder, same_split
from unloc.data.formats.quirks import POLICIES, AnnotationError, QuirkCounter, clean_text, clean_window
from unloc.data.records import VideoRecord

PATH = Path("some/file.json")


@pytest.mark.parametrize(
    ("pair", "duration", "expected", "counted"),
    [
        ((1.0, 4.0), 10.0, (1.0, 4.0), {}),
        ((4.0, 1.0), 10.0, (1.0, 4.0), {"reversed_segment": 1}),
        ((-2.0, 3.0), 10.0, (0.0, 3.0), {"negative_start": 1}),
        ((8.0, 12.5), 10.0, (8.0, 10.0), {"past_end": 1}),
        ((38.0, 13.0), 12.17, None, {"reversed_segment": 1, "past_end": 1, "empty_segment": 1}),  # Charades AKKWU
        ((34.77, 34.77), 66.22, None, {"empty_segment": 1}),  # ANet Captions v_N7ppHQNikv8
        ((57.64, 70.29), 70.28999999999999, (57.64, 70.28999999999999), {}),  # float noise: snapped, not counted
        ((-1e-9, 2.0), 10.0, (0.0, 2.0), {}),
    ],
)
def test_clean_window_policies(pair, duration, expected, counted):
    counter = QuirkCounter(PATH)
    assert clean_window(pair, duration, counter, "record 0") == expected
    assert dict(counter.report().counts) == counted


@pytest.mark.parametrize("pair", [(4.0, 1.0), (-2.0, 3.0), (8.0, 12.5), (2.0, 2.0)])
def test_strict_mode_names_file_and_record(pair):
    with pytest.raises(AnnotationError, match=r"some/file\.json: video abc annotation 3: .*strict mode"):
        clean_window(pair, 10.0, QuirkCounter(PATH, strict=True), "video abc annotation 3")


@pytest.mark.parametrize("pair", [(1.0,), "1 2", ("a", 2.0), (float("nan"), 1.0), None, ("3.5", "7"), (True, 2.0)])
def test_malformed_segment_is_an_error_even_when_lenient(pair):
    with pytest.raises(AnnotationError, match="some/file.json: line 7"):
        clean_window(pair, 10.0, QuirkCounter(PATH), "line 7")


def test_clean_text_strips_and_counts_with_examples():
    counter = QuirkCounter(PATH)
    assert clean_text(" He lays back.", counter, "video v sentence 1") == "He lays back."
    assert clean_text("Clean.", counter, "video v sentence 2") == "Clean."
    for i in range(5):
        clean_text(f"  s{i} ", counter, f"video w sentence {i}")
    report = counter.report()
    assert report.count("untrimmed_text") == 6
    assert len(report.examples["untrimmed_text"]) == quirks_module.MAX_EXAMPLES
    assert report.examples["untrimmed_text"][0].startswith("file.json: video v sentence 1")
    with pytest.raises(AnnotationError, match="sentence is empty"):
        clean_text("   ", counter, "x")


def test_policy_table_names_each_repair_and_rejects_unknown_quirks():
    assert set(POLICIES) >= {"reversed_segment", "past_end", "negative_start", "untrimmed_text", "empty_segment"}
    for name, policy in POLICIES.items():
        assert policy and ":" in policy, name
    with pytest.raises(KeyError):
        QuirkCounter(PATH).note("no_such_quirk", "x", "y")


def test_same_split_aliases():
    assert same_split("val", "validation") and same_split("training", "train") and same_split("test", "testing")
    assert not same_split("val_1", "val") and not same_split("train", "validation") and not same_split("val", None)


def _builder(**kwargs) -> AnnotationBuilder:
    b = AnnotationBuilder("test", PATH, **kwargs)
    b.add_video(VideoRecord("v1", 10.0, "training"), "video v1")
    return b


def test_builder_ids_queries_and_classes():
    b = _builder()
    b.add_query(0, "v1", "a dog runs", [(1.0, 2.0), (3.0, 2.0)], "q0")
    b.add_query(1, "v1", "nothing left", [(11.0, 12.0)], "q1")  # past the end, empty after clipping: dropped
    b.add_query(2, "v1", "test query", [], "q2")  # no ground truth is not a quirk
    with pytest.raises(AnnotationError, match="duplicate query id 0"):
        b.add_query(0, "v1", "again", [], "q3")
    with pytest.raises(AnnotationError, match="duplicate video id"):
        b.add_video(VideoRecord("v1", 10.0, "training"), "video v1 again")
    b.add_class_segment("v1", (5.0, 6.0), "zebra", "a0")
    b.add_class_segment("v1", (6.0, 7.0), "aardvark", "a1")
    result = b.build()
    assert [q.query_id for q in result.queries] == [0, 2]
    assert result.queries[0].windows == ((1.0, 2.0), (2.0, 3.0))
    assert result.quirks.counts == {"reversed_segment": 1, "past_end": 1, "empty_segment": 1, "dropped_query": 1}
    assert result.num_records == 6 and result.classes == ("aardvark", "zebra")
    labelled = [s for s in result.videos["v1"].segments if s.label]
    assert [(s.label, s.class_idx) for s in labelled] == [("zebra", 1), ("aardvark", 0)]
    assert [s.query_id for s in result.videos["v1"].segments if s.caption] == [0, 0]


def test_builder_rejects_unknown_label_and_filters_split():
    b = _builder(classes=("cat", "dog"), split="train")
    assert b.wants("training") and not b.wants("validation")
    b.add_class_segment("v1", (1.0, 2.0), "dog", "a0")
    with pytest.raises(AnnotationError, match="some/file.json: video v1 annotation 1: unknown label 'cow'"):
        b.add_class_segment("v1", (1.0, 2.0), "cow", "video v1 annotation 1")
    assert b.build().videos["v1"].segments[0].class_idx == 1
