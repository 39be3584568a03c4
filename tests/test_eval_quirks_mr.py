"""Moment-retrieval input quirks: each one in a small file, with the number the official QVHighlights algorithm gives,
worked by hand (and, where the loop reference models it, checked against it); `--strict` turns each into an error."""

import json

import pytest
from test_eval_reference import ref_qvh_brief

from unloc.eval import EvalInputError, evaluate_moment_retrieval

GT_ROWS = [  # two 20-s clips: query 1's moment is [0, 10], query 2's [10, 20]
    {"qid": 1, "query": "a dog runs", "duration": 20, "vid": "a_0.0_20.0", "relevant_windows": [[0, 10]],
     "relevant_clip_ids": [0, 1, 2, 3, 4], "saliency_scores": [[4, 4, 4], [2, 2, 2], [0, 0, 0], [1, 1, 1], [3, 3, 3]]},
    {"qid": 2, "query": "a cat sits", "duration": 20, "vid": "b_0.0_20.0", "relevant_windows": [[10, 20]],
     "relevant_clip_ids": [5, 6], "saliency_scores": [[4, 4, 4], [4, 4, 4]]},
]
PERFECT_2 = {"qid": 2, "vid": "b_0.0_20.0", "pred_relevant_windows": [[10, 20, 1.0]]}


@pytest.fixture
def gt(tmp_path):
    path = tmp_path / "highlight_val_release.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in GT_ROWS))
    return path


def _evaluate(gt, tmp_path, lines, strict=False):
    path = tmp_path / "pred.jsonl"
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return evaluate_moment_retrieval(gt, path, strict=strict)


def _counts(metrics):
    return {kind: info["count"] for kind, info in metrics["input_quirks"].items()}


def test_reversed_window_is_computed_as_given(gt, tmp_path):
    # query 1: [8, 2] has IoU 0 with [0, 10] (no overlap, union 10 - 6 = 4): a false positive ranked first, then
    # [0, 5] (IoU 0.5) a hit at 0.5 only -> AP 1/2 at 0.5, 0 above; query 2 perfect. R1 reads [8, 2]: a miss.
    lines = [{"qid": 1, "pred_relevant_windows": [[8, 2, 0.9], [0, 5, 0.8]]}, PERFECT_2]
    m = _evaluate(gt, tmp_path, lines)
    assert m["MR-full-mAP"] == 100 * (0.05 + 1) / 2 and m["MR-full-mAP@0.5"] == 75.0 and m["MR-full-mAP@0.75"] == 50
    assert m["MR-full-R1@0.5"] == 50.0 and (m["R1@0.5"], m["R5@0.5"], m["R5@0.7"]) == (50.0, 100.0, 50.0)
    assert _counts(m) == {"pred.reversed_window": 1}
    assert m["input_quirks"]["pred.reversed_window"]["examples"] == [
        "pred.jsonl: line 1: window 0 [8.0, 2.0] has end < start; computed as given"]
    assert ref_qvh_brief(GT_ROWS, lines) == {k: m[k] for k in ref_qvh_brief(GT_ROWS, lines)}


def test_reversed_mirror_of_the_ground_truth_is_the_official_zero_over_zero_match(gt, tmp_path):
    # [10, 0] against [0, 10]: no overlap and a union of 10 - 10 = 0, so 0/0; the official walk takes that as a hit
    # at every threshold (AP 1), while R1's hull IoU is 0/10 = 0.
    lines = [{"qid": 1, "pred_relevant_windows": [[10, 0, 0.9]]}, PERFECT_2]
    m = _evaluate(gt, tmp_path, lines)
    assert m["MR-full-mAP"] == 100.0 and m["MR-full-R1@0.5"] == 50.0
    assert _counts(m) == {"pred.reversed_window": 1, "pred.zero_length_match": 1}
    assert ref_qvh_brief(GT_ROWS, lines) == {k: m[k] for k in ref_qvh_brief(GT_ROWS, lines)}


def test_zero_length_and_negative_windows(gt, tmp_path):
    # [5, 5]: IoU 0 with [0, 10] (union 10): a miss. [-10, 10]: IoU 10 / 20 = 0.5: a hit at 0.5 only.
    lines = [{"qid": 1, "pred_relevant_windows": [[5, 5, 0.9], [-10, 10, 0.8]]}, PERFECT_2]
    m = _evaluate(gt, tmp_path, lines)
    assert m["MR-full-mAP@0.5"] == 100 * (0.5 + 1) / 2 and m["MR-full-mAP@0.75"] == 50.0
    assert _counts(m) == {"pred.zero_length_window": 1, "pred.negative_window": 1}


def test_more_windows_than_the_official_mr_map_reads(gt, tmp_path):
    # ten misses, then the exact window with the highest score as the 11th: MR-mAP reads the first 10 (AP 0), R1
    # the first window (a miss), R@k ranks all 11 (a hit at rank 1).
    windows = [[30, 40, 0.5]] * 10 + [[0, 10, 0.9]]
    m = _evaluate(gt, tmp_path, [{"qid": 1, "pred_relevant_windows": windows}, PERFECT_2])
    assert m["MR-full-mAP"] == 50.0 and m["MR-full-R1@0.7"] == 50.0 and m["R1@0.7"] == 100.0
    assert _counts(m) == {"pred.windows_beyond_read": 1}


def test_a_qid_on_two_lines_is_pooled_as_official(gt, tmp_path):
    # MR-mAP pools both lines: [0, 5] (0.9, IoU 0.5) then [0, 10] (0.5, IoU 1): at 0.5 a hit then a duplicate
    # (AP 1); above 0.5 a miss then a hit (AP 1/2) -> 0.55. R1 and R@k read the last line: [0, 10], a hit.
    lines = [{"qid": 1, "pred_relevant_windows": [[0, 5, 0.9]]}, PERFECT_2,
             {"qid": 1, "pred_relevant_windows": [[0, 10, 0.5]]}]
    m = _evaluate(gt, tmp_path, lines)
    assert m["MR-full-mAP"] == 100 * (0.55 + 1) / 2 and m["MR-full-mAP@0.5"] == 100.0
    assert m["MR-full-R1@0.7"] == 100.0 and m["R1@0.7"] == 100.0 and m["num_predicted"] == 2
    assert m["input_quirks"]["pred.duplicate_id"]["examples"][0].startswith("pred.jsonl: line 3: qid 1 also on line 1")


def test_types_the_official_script_accepts(gt, tmp_path):
    # an int score, a boolean score (True = 1), a float qid, another vid, extra keys and values, a blank line: all
    # read as the official script reads them, so both queries are perfect.
    lines = [{"qid": 1.0, "vid": "elsewhere", "query": "q", "model": "x",
              "pred_relevant_windows": [[0, 10, True, "extra"], [30, 40, 0]]}, "", PERFECT_2]
    m = _evaluate(gt, tmp_path, lines)
    assert m["MR-full-mAP"] == 100.0 and m["R1@0.7"] == 100.0
    assert _counts(m) == {"pred.id_type": 1, "pred.vid_mismatch": 1, "pred.extra_keys": 1, "pred.extra_values": 1,
                          "pred.bool_as_number": 1, "pred.blank_line": 1}


def test_repeated_key_in_a_line_keeps_the_last_value(gt, tmp_path):
    line = '{"qid": 1, "pred_relevant_windows": [[30, 40, 1]], "pred_relevant_windows": [[0, 10, 1]]}'
    m = _evaluate(gt, tmp_path, [line, PERFECT_2])
    assert m["MR-full-mAP"] == 100.0
    assert m["input_quirks"]["pred.duplicate_key"]["examples"][0].startswith(
        "pred.jsonl: line 1: key 'pred_relevant_windows' repeated")


def test_saliency_parts_follow_the_first_line(gt, tmp_path):
    with_saliency = {**PERFECT_2, "pred_saliency_scores": [0] * 5 + [1] + [0] * 6}  # 12 for 10 clips: cut to 10
    m = _evaluate(gt, tmp_path, [{"qid": 1, "pred_relevant_windows": [[0, 10, 1]]}, with_saliency])
    assert not any(k.startswith("HL-") for k in m) and _counts(m) == {"pred.saliency_ignored": 1}
    first = {"qid": 1, "pred_relevant_windows": [[0, 10, 1]], "pred_saliency_scores": [5, 4, 0, 0, 3, 0, 0, 0]}
    m = _evaluate(gt, tmp_path, [first, with_saliency])
    # Fair (>= 2): query 1's positives (clips 0, 1, 4) rank 1st to 3rd (AP 1); query 2's clip 5 ranks first, clip 6
    # ties with the 8 others at 0 (AP (1 + 2/10) / 2 = 0.6); both top clips are positive (Hit1 100)
    assert m["HL-min-Fair-mAP"] == 80.0 and m["HL-min-Fair-Hit1"] == 100.0 and _counts(m) == {"pred.saliency_length_mismatch": 2}
    hl_only = [{"qid": 1, "pred_saliency_scores": [1.0] * 10}, {"qid": 2, "pred_saliency_scores": [1.0] * 10}]
    m = _evaluate(gt, tmp_path, hl_only)
    assert "HL-min-Fair-mAP" in m and "MR-full-mAP" not in m and "R1@0.5" not in m


@pytest.mark.parametrize(("lines", "message"), [
    ([{"qid": 1, "pred_relevant_windows": [[0, 10, "0.9"]]}, PERFECT_2], "line 1: window 0 score must be a number"),
    ([{"qid": 1, "pred_relevant_windows": [[0, 10, 1]]}, PERFECT_2, {"qid": 99, "pred_relevant_windows": []}],
     "line 3: qid 99 (int) is not in the ground truth"),
    ([{"qid": 1, "pred_relevant_windows": [[0, 10, 1]]}], "1 ground-truth queries have no line, e.g. qid 2"),
    ([{"qid": 1, "pred_relevant_windows": [[0, 10, 1]], "pred_saliency_scores": [1]}, PERFECT_2],
     "line 2: no 'pred_saliency_scores' while line 1 has them"),
    ([], "no prediction line"),
])
def test_what_the_official_script_fails_on_is_an_error(gt, tmp_path, lines, message):
    with pytest.raises(EvalInputError, match="pred.jsonl") as err:
        _evaluate(gt, tmp_path, lines)
    assert message in str(err.value)


@pytest.mark.parametrize("lines", [
    [{"qid": 1, "pred_relevant_windows": [[8, 2, 0.9]]}, PERFECT_2],
    [{"qid": 1, "pred_relevant_windows": [[30, 40, 1]] * 11}, PERFECT_2],
    [{"qid": 1, "pred_relevant_windows": []}, PERFECT_2],
    [PERFECT_2, {"qid": 1, "vid": "x", "pred_relevant_windows": [[0, 10, 1]]}],
    [PERFECT_2, "", {"qid": 1, "pred_relevant_windows": [[0, 10, 1]]}],
])
def test_strict_makes_each_quirk_an_error_naming_file_and_line(gt, tmp_path, lines):
    assert _evaluate(gt, tmp_path, lines)["input_quirks"]
    with pytest.raises(EvalInputError, match=r"pred\.jsonl: line \d: .*\[pred\.\w+; an error with --strict"):
        _evaluate(gt, tmp_path, lines, strict=True)
