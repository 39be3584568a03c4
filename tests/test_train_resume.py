"""Resuming: a corrupt newest checkpoint falls back to the previous one, no checkpoint is an error unless asked to start,
a changed config is refused naming every key, and what a killed checkpoint write left is removed at the next start."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_train_loop import Killed, _killer, _same_weights, _without_timing
from test_train_toys import NoisyRegression, make_toy, mse_step, toy_config

from unloc.train import ResumeError, fit, latest_checkpoint, seed_everything
from unloc.train.runlog import read_jsonl

EVERY = {"checkpoint_every_steps": 3}  # 5 steps per epoch: checkpoints after steps 3, 5, 6, 9, 10, ...
RUN_CONFIG = {"model": {"width": 8, "depth": 2}, "data": {"num_workers": 0, "root": "/data"}}


def _run(out_dir, *, kill_at=None, resume=False, run_config=RUN_CONFIG, **changes):
    seed_everything(0)
    model = make_toy(0)
    seed_everything(7)
    hist = fit(model, mse_step, toy_config(**{**EVERY, **changes}), out_dir=out_dir, dataset=NoisyRegression(), resume=resume,
               run_config=run_config, on_step_end=_killer(kill_at), progress=False)
    return model, hist


def _killed_at_8(out_dir: Path) -> list[Path]:
    with pytest.raises(Killed):
        _run(out_dir, kill_at=8)
    root = out_dir / "checkpoints"
    checkpoints = sorted(root.iterdir())
    assert [p.name for p in checkpoints] == ["step-000000005", "step-000000006"]  # keep_checkpoints=2
    return checkpoints


def _flip_byte(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01  # same size: a silently changed weight or optimizer value
    path.write_bytes(bytes(raw))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    model, hist = _run(tmp_path_factory.mktemp("ref"))
    return model, hist


@pytest.mark.parametrize("damaged, damage", [
    ("model.safetensors", _flip_byte),
    ("state.pt", lambda p: p.write_bytes(p.read_bytes()[:100])),
    ("progress.json", lambda p: p.write_text("{")),
])
def test_corrupt_newest_checkpoint_falls_back_and_ends_bit_identical(tmp_path, reference, caplog, damaged, damage):
    previous, newest = _killed_at_8(tmp_path)
    damage(newest / damaged)
    with caplog.at_level(logging.WARNING, logger="unloc.train"):
        model, _ = _run(tmp_path, resume=True)
    warnings = [r.getMessage() for r in caplog.records if r.name == "unloc.train"]
    assert len(warnings) == 1 and "\n" not in warnings[0]
    assert str(newest / damaged) in warnings[0] and f"resuming from {previous} instead" in warnings[0]
    ref_model, ref = reference
    assert _same_weights(model, ref_model)  # resumed at step 5, redid 6..15: the same final weights
    assert _without_timing(read_jsonl(tmp_path / "history.jsonl")) == _without_timing(ref.steps)


def test_every_checkpoint_corrupt_is_an_error_naming_each(tmp_path):
    checkpoints = _killed_at_8(tmp_path)
    for directory in checkpoints:
        (directory / "state.pt").write_bytes(b"")
    with pytest.raises(ResumeError, match="every checkpoint .* is corrupt") as err:
        _run(tmp_path, resume=True)
    assert err.value.reason == "corrupt" and all(str(d / "state.pt") in str(err.value) for d in checkpoints)


def test_resume_without_a_checkpoint_is_an_error_unless_told_to_start(tmp_path, reference, caplog):
    with pytest.raises(ResumeError, match=r"no checkpoint in .*checkpoints") as err:
        _run(tmp_path, resume=True)
    assert err.value.reason == "missing" and not (tmp_path / "history.jsonl").exists()
    with caplog.at_level(logging.WARNING, logger="unloc.train"):
        model, _ = _run(tmp_path, resume="or_start")
    assert any("starts from scratch" in r.getMessage() for r in caplog.records)
    assert _same_weights(model, reference[0])
    with pytest.raises(ValueError, match="resume must be"):
        _run(tmp_path, resume="yes")


def test_changed_config_is_refused_listing_every_key(tmp_path):
    with pytest.raises(Killed):
        _run(tmp_path, kill_at=6)
    changed = {"model": {"width": 16}, "data": {"num_workers": 0, "root": "/data"}, "seed": 3}
    with pytest.raises(ResumeError) as err:
        _run(tmp_path, resume=True, run_config=changed, base_lr=0.1, lr_multipliers={"fusion": 3.0, "heads": 2.0})
    message = str(err.value)
    assert err.value.reason == "config" and "\n" not in message
    assert message.startswith(f"cannot resume from {tmp_path / 'checkpoints' / 'step-000000006'}: the config changed: ")
    assert message.split("changed: ")[1].split("; ") == [  # sorted; the unchanged and the resumable are not listed
        "model.depth: 2 -> (absent)", "model.width: 8 -> 16", "seed: (absent) -> 3", "train.base_lr: 0.05 -> 0.1",
        "train.lr_multipliers.fusion: 2.0 -> 3.0"]


def test_resumable_changes_are_accepted(tmp_path, reference):
    with pytest.raises(Killed):
        _run(tmp_path, kill_at=7)
    workers = {**RUN_CONFIG, "data": {"num_workers": 4, "root": "/data"}}  # evaluation workers: not training
    model, _ = _run(tmp_path, resume=True, run_config=workers, keep_checkpoints=3, checkpoint_every_epochs=2)
    assert _same_weights(model, reference[0])


_KILL_DURING_WRITE = """
    import os, sys
    sys.path.insert(0, {tests!r})
    import test_train_resume as t
    from unloc.train import checkpoint
    real, calls = checkpoint.write_synced, []

    def write_then_die(path, data):
        calls.append(path)
        if len(calls) == 10:  # 3 files per checkpoint: the first file of the 4th (step 9), killed half-way
            real(path, data[: len(data) // 2])
            os._exit(9)
        real(path, data)

    checkpoint.write_synced = write_then_die
    t._run({out!r})
"""


def test_temporaries_of_a_killed_write_are_removed_at_the_next_start(tmp_path, reference, caplog):
    out = tmp_path / "run"
    script = textwrap.dedent(_KILL_DURING_WRITE).format(tests=str(Path(__file__).parent), out=str(out))
    path = os.pathsep.join([str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": path}, check=False,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 9, proc.stderr
    root = out / "checkpoints"
    left = [p for p in root.iterdir() if p.name.startswith(".")]
    assert len(left) == 1 and left[0].name.startswith(".step-000000009.") and left[0].is_dir()
    assert latest_checkpoint(root).name == "step-000000006"
    elsewhere = root / ".step-000000099.otherhost.1.0123abcd.tmp"
    elsewhere.mkdir()  # another machine's writer on a shared disk may still be running: left alone
    with caplog.at_level(logging.WARNING, logger="unloc.train"):
        model, _ = _run(out, resume=True)
    messages = [r.getMessage() for r in caplog.records if r.name == "unloc.train"]
    assert any(m.startswith("removed 1 temporary file(s)") and left[0].name in m for m in messages)
    assert any("left 1 temporary file(s)" in m and elsewhere.name in m for m in messages)
    assert not left[0].exists() and elsewhere.exists()
    assert _same_weights(model, reference[0])
