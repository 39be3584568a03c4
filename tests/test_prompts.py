"""Prompt templates: the 28 Kinetics-700 templates, expansion, random training prompts, evaluation modes."""

import pytest
import torch

from unloc.data.prompts import eval_prompts, expand, load_templates
from unloc.tasks.prompting import ClassPrompts

CLASSES = ["circle spinning", "star blinking", "square moving left"]


def test_packaged_templates_are_clips_28():
    templates = load_templates()
    assert len(templates) == 28 == len(set(templates))
    assert templates[0] == "a photo of {}."
    assert templates[10] == "a video of a person doing {}."
    assert templates[-1] == "a demonstration of a person practicing {}."
    assert all(t.count("{}") == 1 for t in templates)
    # 4 openings x 7 phrasings
    assert {t.split(" of ")[0] for t in templates} == {"a photo", "a video", "a example", "a demonstration"}


def test_expand():
    assert expand("circle spinning", "a video of {}.") == "a video of circle spinning."
    assert expand("a {weird} name", "{}!") == "a {weird} name!"


def test_training_prompts_one_random_template_per_class():
    templates, texts = load_templates(), []

    def tokenizer(batch):  # one id per distinct text, so the ids read back as the prompts
        texts.extend(t for t in batch if t not in texts)
        return torch.tensor([[texts.index(t)] for t in batch])

    prompts = ClassPrompts(CLASSES, tokenizer)
    draws = [[texts[int(i)] for i in prompts.train_ids()[:, 0]] for _ in range(50)]
    for drawn in draws:
        assert len(drawn) == len(CLASSES)
        for cls, prompt in zip(CLASSES, drawn, strict=True):
            assert prompt in {expand(cls, t) for t in templates}
    assert len({d[0] for d in draws}) > 10  # varies from step to step
    same = [prompts.train_ids(torch.Generator().manual_seed(3)) for _ in range(2)]
    assert torch.equal(*same)


def test_eval_prompt_modes():
    templates = load_templates()
    assert eval_prompts(CLASSES) == [[expand(c, templates[0])] for c in CLASSES]
    assert eval_prompts(CLASSES, "middle") == [[expand(c, templates[14])] for c in CLASSES]
    ensemble = eval_prompts(CLASSES, "ensemble")
    assert [len(p) for p in ensemble] == [28, 28, 28]
    assert ensemble[1] == [expand("star blinking", t) for t in templates]
    with pytest.raises(ValueError, match="unknown prompt mode"):
        eval_prompts(CLASSES, "mean")


def test_custom_template_file(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("clip of {}.\n\nvideo: {}\n")
    assert load_templates(good) == ("clip of {}.", "video: {}")
    assert eval_prompts(["x"], "ensemble", load_templates(good)) == [["clip of x.", "video: x"]]
    bad = tmp_path / "bad.txt"
    bad.write_text("clip of {}.\nno slot here\n")
    with pytest.raises(ValueError, match=r"bad.txt:2: .*no slot here"):
        load_templates(bad)
