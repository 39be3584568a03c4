"""Class names into text prompts with the 28 Kinetics-700 templates of CLIP (paper §3.3 and §4.2, prompt ensembling).

Training draws one random template per class at every step (`unloc.tasks.prompting`); evaluation uses one fixed
template (`first`, or `middle` as the official validation loop does) or all 28, whose outputs the caller averages
(prompt ensembling).
The templates ship with the package (`unloc/resources/kinetics700_templates.txt`); a user file of the same
layout (one template per line, each with exactly one `{}`) can replace them.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

EVAL_MODES = ("first", "middle", "ensemble")


def _parse(text: str, source: str) -> tuple[str, ...]:
    templates = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if line.count("{}") != 1:
            raise ValueError(f"{source}:{line_no}: a template needs exactly one '{{}}', got {line!r}")
        templates.append(line)
    if not templates:
        raise ValueError(f"{source}: no templates")
    return tuple(templates)


@functools.cache
def _packaged() -> tuple[str, ...]:
    text = resources.files("unloc").joinpath("resources", "kinetics700_templates.txt").read_text(encoding="utf-8")
    return _parse(text, "unloc/resources/kinetics700_templates.txt")


def load_templates(path: str | Path | None = None) -> tuple[str, ...]:
    """The prompt templates: the packaged 28 Kinetics-700 ones, or those in `path`.

    Raises:
        ValueError: naming the file and line of a template without exactly one `{}`.
    """
    if path is None:
        return _packaged()
    return _parse(Path(path).read_text(encoding="utf-8"), str(path))


def expand(class_name: str, template: str) -> str:
    """Put a class name into a template: ("circle spinning", "a video of {}.") -> "a video of circle spinning."."""
    return template.replace("{}", class_name)


def eval_prompts(classes: list[str], mode: str = "first",
                 templates: tuple[str, ...] | None = None) -> list[list[str]]:
    """Evaluation prompts, grouped per class.

    Args:
        classes: q class names.
        mode: "first" (template 0), "middle" (template p // 2, as the official validation loop) or "ensemble" (all).
        templates: defaults to the packaged ones.

    Returns:
        (q, p) nested list: p = 1, or p = the number of templates for "ensemble"; average the model's outputs
        over the second axis to ensemble.
    """
    templates = templates or load_templates()
    if mode == "first":
        chosen = templates[:1]
    elif mode == "middle":
        chosen = (templates[len(templates) // 2],)
    elif mode == "ensemble":
        chosen = templates
    else:
        raise ValueError(f"unknown prompt mode {mode!r}; expected one of {EVAL_MODES}")
    return [[expand(c, t) for t in chosen] for c in classes]
