"""Retrieval examples of the two-tower model and the pretraining figures: rankings worked by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from unloc.study.clip.examples import RetrievalExample, examples_finding, retrieval_examples, spread_queries
from unloc.study.figures.embedding import RIGHT, WRONG, plot_caption_retrieval, plot_prompt_similarity

# gallery directions: 0 deg, 90 deg, 45 deg, 180 deg (lengths differ: cosine ignores them)
GALLERY = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0], [-1.0, 0.0]])
GALLERY_KEYS = ["a", "b", "a", "c"]


def test_retrieval_examples_by_hand():
    queries = torch.tensor([[1.0, 0.1], [0.0, 1.0]])  # near 0 deg; exactly 90 deg
    examples = retrieval_examples(queries, GALLERY, ["c", "b"], GALLERY_KEYS, queries=[0, 1], k=2)
    first, second = examples
    # query 0: cosines 0.995 (item 0), 0.777 (item 2), 0.0995 (item 1), -0.995 (item 3); its key "c" is item 3
    assert first.ranked == [0, 2] and first.hits == [False, False] and first.first_hit_rank == 4
    assert first.cosines == pytest.approx([1 / np.sqrt(1.01), 1.1 / np.sqrt(2 * 1.01)], abs=1e-6)
    # query 1: item 1 (cos 1), item 2 (0.707); key "b" first
    assert second.ranked == [1, 2] and second.hits == [True, False] and second.first_hit_rank == 1
    none = retrieval_examples(queries[:1], GALLERY, ["z"], GALLERY_KEYS, queries=[0], k=9)[0]
    assert len(none.ranked) == 4 and none.first_hit_rank == 0
    with pytest.raises(ValueError, match="1 query keys for 2 queries"):
        retrieval_examples(queries, GALLERY, ["a"], GALLERY_KEYS, queries=[0])


def test_spread_queries_and_finding():
    assert spread_queries(10, 4) == [0, 3, 6, 9]
    assert spread_queries(3, 5) == [0, 1, 2]
    with pytest.raises(ValueError, match="at least one item"):
        spread_queries(0, 2)
    examples = [RetrievalExample(0, [1], [0.9], [True], 1), RetrievalExample(1, [2], [0.8], [False], 4),
                RetrievalExample(2, [0], [0.5], [False], 0)]
    assert examples_finding(examples) == ("1 of 3 example captions rank a right frame first; the first right "
                                          "frame's median rank is 2.5")


def test_caption_retrieval_figure_marks_right_and_wrong(tmp_path):
    frames = np.zeros((4, 8, 8, 3), dtype=np.uint8)
    examples = retrieval_examples(torch.tensor([[0.0, 1.0]]), GALLERY, ["b"], GALLERY_KEYS, queries=[0], k=3)
    fig = plot_caption_retrieval(examples, ["two blue stars."], frames, tmp_path / "r.png")
    assert isinstance(fig, Figure) and (tmp_path / "r.png").stat().st_size > 0
    titles = [ax.get_title() for ax in fig.axes[:3]]
    assert titles == ["#1  cos 1.00", "#2  cos 0.71", "#3  cos 0.00"]
    colours = [ax.spines["top"].get_edgecolor() for ax in fig.axes[:3]]
    assert [c[:3] for c in colours] == [tuple(int(h[i:i + 2], 16) / 255 for i in (1, 3, 5))
                                        for h in (RIGHT, WRONG, WRONG)]
    assert "first right frame: #1" in fig.axes[0].get_ylabel()


def test_prompt_similarity_marks_each_rows_nearest_other(tmp_path):
    sim = torch.tensor([[1.0, 0.6, 0.0], [0.6, 1.0, 0.8], [0.0, 0.8, 1.0]])
    fig = plot_prompt_similarity(["a", "b", "c"], sim, tmp_path / "s.png")
    assert (tmp_path / "s.png").stat().st_size > 0
    dots = fig.axes[0].collections[0].get_offsets()
    assert np.asarray(dots).tolist() == [[1, 0], [2, 1], [1, 2]]  # (nearest column, row)
    cut = plot_prompt_similarity(["a", "b", "c"], sim, max_classes=2)
    assert "(first 2 of 3 classes)" in cut._suptitle.get_text()
    with pytest.raises(ValueError, match="for 2 names"):
        plot_prompt_similarity(["a", "b"], sim)


def test_prompt_similarity_colours_span_the_off_diagonal_range():
    sim = np.array([[1.0, 0.9, 0.95], [0.9, 1.0, 0.97], [0.95, 0.97, 1.0]])
    image = plot_prompt_similarity(["a", "b", "c"], sim).axes[0].images[0]
    assert image.get_clim() == pytest.approx((0.9, 1.0))
