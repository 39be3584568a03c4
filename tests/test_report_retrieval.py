"""unloc.study.figures.retrieval: recall-vs-IoU on a hand-worked QVHighlights-format example and against a brute-force
reference; mAP-vs-tIoU parsing and the two figures."""

import json

import numpy as np
import pytest
from matplotlib.figure import Figure

from unloc.study.figures.retrieval import map_by_tiou, plot_map_vs_tiou, plot_recall_vs_iou, recall_vs_iou


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _gt(tmp_path, windows_by_qid):
    rows = [{"qid": qid, "vid": f"v{qid}", "query": "q", "duration": 150, "relevant_windows": w}
            for qid, w in windows_by_qid.items()]
    return _write_jsonl(tmp_path / "gt.jsonl", rows)


def _pred(tmp_path, windows_by_qid):
    rows = [{"qid": qid, "vid": f"v{qid}", "pred_relevant_windows": w} for qid, w in windows_by_qid.items()]
    return _write_jsonl(tmp_path / "pred.jsonl", rows)


def test_recall_vs_iou_hand_worked(tmp_path):
    gt = _gt(tmp_path, {1: [[0, 10]], 2: [[0, 10], [20, 30]], 3: [[10, 20]], 4: [[0, 10]]})
    pred = _pred(tmp_path, {
        1: [[0, 5, 0.2], [0, 8, 0.9], [20, 30, 0.5]],  # ranked: [0,8] IoU .8, [20,30] 0, [0,5] .5
        2: [[22, 32, 0.9], [0, 4, 0.8]],  # [22,32] vs the 2nd GT: 8/12 = .667; [0,4] vs the 1st: .4
        3: [[0, 5, 0.9], [10, 19, 0.3]],  # top-1 misses, top-2 IoU .9
    })  # query 4 has no prediction: a miss
    curve = recall_vs_iou(gt, pred, thresholds=[0.3, 0.5, 0.7, 0.85], k=(1, 2))
    assert list(curve.columns) == ["iou", "R1", "R2"]
    assert curve["iou"].tolist() == [0.3, 0.5, 0.7, 0.85]
    # best top-1 IoU per query: .8, .667, 0, 0; best top-2 IoU: .8, .667, .9, 0
    assert curve["R1"].tolist() == pytest.approx([50.0, 50.0, 25.0, 0.0])
    assert curve["R2"].tolist() == pytest.approx([75.0, 75.0, 50.0, 25.0])
    assert curve.attrs == {"num_queries": 4, "num_predicted": 3}


def test_default_thresholds_are_exact_decimals(tmp_path):
    # IoU 7/20 = 0.35 exactly; np.arange's 7th threshold is 0.35000000000000003 before rounding
    curve = recall_vs_iou(_gt(tmp_path, {0: [[0, 20]]}), _pred(tmp_path, {0: [[0, 7, 1.0]]}))
    assert len(curve) == 18 and curve["iou"].iloc[0] == 0.1 and curve["iou"].iloc[-1] == 0.95
    hits = dict(zip(curve["iou"], curve["R1"]))
    assert hits[0.35] == 100.0 and hits[0.4] == 0.0


def _reference_recall(gt, preds, thresholds, k):
    """Loop reference: per query, sort by score (stable), any top-k window with IoU >= thr against any GT."""
    out = []
    for thr in thresholds:
        hits = 0
        for qid, gt_windows in gt.items():
            ranked = sorted(preds.get(qid, []), key=lambda w: -w[2])[:k]
            for s, e, _ in ranked:
                ious = [max(0.0, min(e, ge) - max(s, gs)) / ((e - s) + (ge - gs) - max(0.0, min(e, ge) - max(s, gs)))
                        for gs, ge in gt_windows]
                if max(ious) >= thr:
                    hits += 1
                    break
        out.append(100.0 * hits / len(gt))
    return out


def test_recall_vs_iou_matches_loop_reference(tmp_path):
    rng = np.random.default_rng(0)
    gt, preds = {}, {}
    for qid in range(40):
        starts = rng.uniform(0, 100, size=rng.integers(1, 3))
        gt[qid] = [[float(s), float(s + rng.uniform(2, 30))] for s in starts]
        if qid % 7:
            p_starts = rng.uniform(0, 100, size=6)
            preds[qid] = [[float(s), float(s + rng.uniform(1, 30)), float(rng.uniform())] for s in p_starts]
    curve = recall_vs_iou(_gt(tmp_path, gt), _pred(tmp_path, preds), k=(1, 5))
    for k in (1, 5):
        assert curve[f"R{k}"].tolist() == pytest.approx(_reference_recall(gt, preds, curve["iou"], k))


def test_recall_vs_iou_bad_arguments(tmp_path):
    gt, pred = _gt(tmp_path, {0: [[0, 1]]}), _pred(tmp_path, {0: [[0, 1, 1.0]]})
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        recall_vs_iou(gt, pred, thresholds=[0.0, 0.5])
    with pytest.raises(ValueError, match="two decimals"):
        recall_vs_iou(gt, pred, thresholds=[0.501, 0.502])
    with pytest.raises(ValueError, match="ranks"):
        recall_vs_iou(gt, pred, k=(0,))


def test_plot_recall_vs_iou(tmp_path):
    gt = _gt(tmp_path, {1: [[0, 10]], 2: [[5, 9]]})
    curve = recall_vs_iou(gt, _pred(tmp_path, {1: [[0, 8, 0.9]], 2: [[0, 9, 0.5]]}))
    out = tmp_path / "new" / "dir" / "recall.png"
    fig = plot_recall_vs_iou({"a": curve, "b": curve.assign(R1=curve["R1"] / 2)}, out_path=out)
    assert isinstance(fig, Figure) and out.stat().st_size > 1000
    ax_r1, ax_r5 = fig.axes
    lines = [ln for ln in ax_r1.get_lines() if ln.get_label() in ("a", "b")]
    assert [ln.get_label() for ln in lines] == ["a", "b"]
    np.testing.assert_allclose(lines[1].get_ydata(), curve["R1"] / 2)
    assert ax_r5.get_ylabel() == "R@5 (%)"
    with pytest.raises(ValueError, match="R<k>"):
        plot_recall_vs_iou({"a": curve[["iou"]]})


def test_map_by_tiou_and_plot(tmp_path):
    single = {"mAP@0.5": 50.0, "mAP@0.95": 5.0, "mAP@0.75": 30.0, "mAP_avg": 29.0, "R1@0.5": 1.0}
    curve = map_by_tiou(single)
    assert curve["tiou"].tolist() == [0.5, 0.75, 0.95] and curve["mAP"].tolist() == [50.0, 30.0, 5.0]
    assert curve["std"].isna().all()
    seeds = {"mAP@0.5_mean": 40.0, "mAP@0.5_std": 2.0, "mAP@0.95_mean": 4.0, "mAP@0.95_std": 1.0,
             "mAP_avg_mean": 20.0}
    assert map_by_tiou(seeds)["std"].tolist() == [2.0, 1.0]
    fig = plot_map_vs_tiou({"ours": single, "seeds": seeds}, out_path=tmp_path / "map.png")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["ours (avg 29.00)", "seeds (avg 20.00)"]
    assert (tmp_path / "map.png").is_file()
    with pytest.raises(ValueError, match="no 'mAP@<tIoU>' keys"):
        plot_map_vs_tiou({"x": {"R1@0.5": 3.0}})


def test_recall_by_length_groups_queries_by_their_longest_window(tmp_path):
    from unloc.study.figures.retrieval import recall_by_length

    # lengths: q1 8 s (short), q2 longest 12 s (middle), q3 40 s (long), q4 5 s (short, no prediction)
    gt = _gt(tmp_path, {1: [[0, 8]], 2: [[0, 4], [20, 32]], 3: [[10, 50]], 4: [[0, 5]]})
    pred = _pred(tmp_path, {1: [[0, 8, 0.9]], 2: [[0, 4, 0.9]], 3: [[10, 30, 0.9], [12, 50, 0.5]]})
    table = recall_by_length(gt, pred).set_index("group")
    assert table["queries"].tolist() == [2, 1, 1]
    assert table.loc["short", "R1@0.5"] == pytest.approx(50.0)  # q1 exact, q4 missed
    assert table.loc["middle", "R1@0.7"] == pytest.approx(100.0)  # [0, 4] matches the first window exactly
    assert table.loc["long", "R1@0.5"] == pytest.approx(100.0)  # IoU 20/40 = 0.5
    assert table.loc["long", "R1@0.7"] == pytest.approx(0.0) and table.loc["long", "R5@0.7"] == pytest.approx(100.0)
    empty = recall_by_length(gt, pred, groups=[("huge", 100.0, 200.0)])
    assert empty.loc[0, "queries"] == 0 and np.isnan(empty.loc[0, "R1@0.5"])
