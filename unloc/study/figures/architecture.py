"""The README's model figure: UnLoc's architecture as boxes and arrows (paper Fig. 2), drawn with matplotlib.

`python -m unloc.study.figures.architecture OUT.png` writes it; the README shows the committed PNG.
"""

from __future__ import annotations

import sys
from pathlib import Path

from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from unloc.study.figures.figure import finish, new_figure

# (label, x, y, width, height, colour): the boxes of the figure, in axes units of a 16 x 6 canvas
_BOXES = {
    "frames": ("video frames\n(b, t, 3, h, w)", 0.3, 3.9, 2.2, 1.2, "#dbe9f6"),
    "text": ("text: a query, or\none prompt per class", 0.3, 0.9, 2.2, 1.2, "#fde9d9"),
    "image_tower": ("CLIP image tower\n(per frame: one token)", 3.2, 3.9, 2.6, 1.2, "#9ecae1"),
    "text_tower": ("CLIP text tower\n(one token, or all)", 3.2, 0.9, 2.6, 1.2, "#fdae6b"),
    "fusion": ("fusion transformer\none (video, text) pair\nat a time: t frame\ntokens + text", 6.6, 1.7, 2.6, 2.8,
               "#c7e9c0"),
    "pyramid": ("feature pyramid\n(none | ViTDet | FPN)\nlevels t, t/2, t/4 ...", 10.0, 2.1, 2.5, 2.0, "#e5d8f0"),
    "heads": ("shared heads per level\nrelevancy logit +\n(start, end) offsets", 13.2, 2.1, 2.6, 2.0, "#f2f2f2"),
}
_ARROWS = [("frames", "image_tower"), ("text", "text_tower"), ("image_tower", "fusion"), ("text_tower", "fusion"),
           ("fusion", "pyramid"), ("pyramid", "heads")]
_FOOTER = ("moment retrieval: spans of the query  ·  temporal localization: spans per class name  ·  "
           "action segmentation: a label per frame")


def _anchor(box: tuple, side: str) -> tuple[float, float]:
    _, x, y, w, h, _ = box
    return (x + w, y + h / 2) if side == "right" else (x, y + h / 2)


def draw_architecture(out_path: str | Path | None = None):
    """UnLoc's architecture; returns the Figure (and writes a PNG to `out_path` when given)."""
    fig, (ax,) = new_figure(1, panel_size=(12.0, 4.6))
    ax.set_xlim(0, 16)
    ax.set_ylim(-0.4, 5.4)
    ax.axis("off")
    for label, x, y, w, h, colour in _BOXES.values():
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.05", facecolor=colour, edgecolor="#444444"))
        ax.text(x + w / 2, y + h / 2, label, ha="center", va="center", fontsize=9)
    for start, end in _ARROWS:
        ax.add_patch(FancyArrowPatch(_anchor(_BOXES[start], "right"), _anchor(_BOXES[end], "left"),
                                     arrowstyle="-|>", mutation_scale=14, color="#444444"))
    ax.text(8.0, -0.2, _FOOTER, ha="center", va="center", fontsize=9, style="italic")
    return finish(fig, out_path, title="UnLoc: one model for three video localization tasks", dpi=110)


if __name__ == "__main__":
    draw_architecture(sys.argv[1] if len(sys.argv) > 1 else "reports/figures/architecture.png")
