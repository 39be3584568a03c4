"""Checkpoint files: safetensors + torch state + JSON, atomic under crashes, digests, tied weights, loading by name."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from test_train_toys import NoisyRegression, make_toy, mse_step, toy_config
from torch import nn

from unloc.train import checkpoint as ckpt_mod
from unloc.train import fit, latest_checkpoint, load_weights, read_weights, save_weights
from unloc.train.checkpoint import CorruptCheckpointError, read_checkpoint, save_checkpoint
from unloc.train.seed import capture_rng_state, restore_rng_state


def _is_safetensors(path: Path) -> bool:
    raw = path.read_bytes()
    (header_len,) = struct.unpack("<Q", raw[:8])
    json.loads(raw[8 : 8 + header_len])  # a safetensors file is a length, a JSON header and raw bytes: no pickle
    return True


def _train_one_epoch(tmp_path: Path):
    model = make_toy(0)
    hist = fit(model, mse_step, toy_config(epochs=1), out_dir=tmp_path, dataset=NoisyRegression(), progress=False)
    return model, hist


def _save(root, step, model, state=None, **kw):
    return save_checkpoint(root, step, model_state=model.state_dict(), state=state or {"s": step},
                           progress={"epoch": 0, "step_in_epoch": step, "elapsed_sec": 0.0, "steps_per_epoch": 9,
                                     "config": {}}, **kw)


def test_checkpoint_is_safetensors_torch_state_and_json(tmp_path):
    model, hist = _train_one_epoch(tmp_path)
    files = sorted(p.name for p in hist.checkpoint.iterdir())
    assert files == ["model.safetensors", "progress.json", "state.pt"]
    assert _is_safetensors(hist.checkpoint / "model.safetensors")
    meta = json.loads((hist.checkpoint / "progress.json").read_text())
    assert (meta["step"], meta["epoch"], meta["step_in_epoch"], meta["steps_per_epoch"]) == (5, 1, 0, 5)
    assert meta["config"]["train"]["global_batch_size"] == 8
    assert meta["files"]["state.pt"]["bytes"] == (hist.checkpoint / "state.pt").stat().st_size
    state = torch.load(hist.checkpoint / "state.pt", weights_only=True)  # tensors and plain containers only
    assert state["optimizer"]["param_groups"][0]["momentum"] == 0.9
    assert set(state["rng"][0]) == {"torch", "cuda", "numpy", "python"}
    assert state["sampler"] == {"seed": 0, "epoch": 1, "start_step": 0}
    fresh = make_toy(1)
    report = load_weights(fresh, hist.checkpoint)
    assert not report.missing and not report.unexpected
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), model.state_dict().values()))


def test_optimizer_state_round_trip_continues_identically(tmp_path):
    model = make_toy(0, dropout=0.0)
    opt = torch.optim.AdamW(model.parameters(), lr=0.01, betas=(0.8, 0.99))
    data = NoisyRegression(jitter=0.0)
    batch = (data.x[:8], data.y[:8])
    for _ in range(2):
        opt.zero_grad()
        mse_step(model, batch)["loss"].backward()
        opt.step()
    state = {"optimizer": opt.state_dict(), "odd": {1: (2.5, float("nan")), "x": None}}
    _, back, weights = read_checkpoint(_save(tmp_path, 2, model, state))  # through the files, as a resume does
    assert back["odd"][1][0] == 2.5 and np.isnan(back["odd"][1][1]) and back["odd"]["x"] is None
    twin = make_toy(0, dropout=0.0)
    twin.load_state_dict(weights)
    twin_opt = torch.optim.AdamW(twin.parameters(), lr=0.01)
    twin_opt.load_state_dict(back["optimizer"])
    assert twin_opt.param_groups[0]["betas"] == (0.8, 0.99)
    for m, o in ((model, opt), (twin, twin_opt)):
        o.zero_grad()
        mse_step(m, batch)["loss"].backward()
        o.step()
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), twin.parameters()))


def test_state_that_weights_only_cannot_read_is_refused_at_save(tmp_path):
    with pytest.raises(TypeError, match="weights_only"):
        _save(tmp_path, 1, make_toy(0), {"a": {"b": object()}})
    assert list(tmp_path.iterdir()) == []


def test_a_pickled_object_smuggled_into_the_state_is_not_unpickled(tmp_path):
    """Even with a matching digest (an attacker can recompute it), state.pt is read with weights_only=True."""
    directory = _save(tmp_path, 1, make_toy(0))
    buffer = io.BytesIO()
    torch.save({"s": 1, "payload": Path("/etc/passwd")}, buffer)  # any class outside the allowed types
    data = buffer.getvalue()
    (directory / "state.pt").write_bytes(data)
    meta = json.loads((directory / "progress.json").read_text())
    meta["files"]["state.pt"] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (directory / "progress.json").write_text(json.dumps(meta))
    with pytest.raises(CorruptCheckpointError, match=r"state\.pt: not a readable torch state"):
        read_checkpoint(directory)


def test_rng_state_round_trip():
    buffer = io.BytesIO()
    torch.save(capture_rng_state(), buffer)
    first = (torch.rand(3), np.random.rand(3), random.random())
    restore_rng_state(torch.load(io.BytesIO(buffer.getvalue()), weights_only=True))
    second = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(first[0], second[0]) and np.array_equal(first[1], second[1]) and first[2] == second[2]


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(5, 3)
        self.out = nn.Linear(3, 5, bias=False)
        self.out.weight = self.embed.weight  # tied: safetensors refuses to store shared memory twice
        self.register_buffer("table", torch.arange(12.0).reshape(3, 4))
        self.register_buffer("row", self.table[1], persistent=True)  # a view into another buffer


def test_tied_and_view_tensors_are_stored_and_restored(tmp_path):
    model = Tied()
    path = save_weights(model, tmp_path / "w.safetensors")
    with safe_open(str(path), framework="pt") as f:
        stored = set(f.keys())
    assert "out.weight" not in stored and "embed.weight" in stored  # stored once, the alias is in the metadata
    back = read_weights(path)
    assert torch.equal(back["out.weight"], model.embed.weight) and torch.equal(back["row"], torch.arange(4.0, 8.0))
    fresh = Tied()
    load_weights(fresh, path)
    assert torch.equal(fresh.embed.weight, model.embed.weight) and fresh.out.weight is fresh.embed.weight


def test_crash_during_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch):
    model, hist = _train_one_epoch(tmp_path)
    root = hist.checkpoint.parent
    good = {p.name: p.read_bytes() for p in hist.checkpoint.iterdir()}

    def failing_replace(src, dst):
        raise OSError("disk died during rename")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk died"):
        _save(root, 99, model, keep=5)
    monkeypatch.undo()

    real_write = ckpt_mod.write_synced

    def half_write(path, data):
        real_write(path, data[:50])  # torn write
        raise OSError("disk full")

    monkeypatch.setattr(ckpt_mod, "write_synced", half_write)
    with pytest.raises(OSError, match="disk full"):
        _save(root, 100, model, keep=5)
    monkeypatch.undo()

    assert [p.name for p in root.iterdir()] == [hist.checkpoint.name]  # no temporary or half-written directory
    assert latest_checkpoint(root) == hist.checkpoint
    assert {p.name: p.read_bytes() for p in hist.checkpoint.iterdir()} == good
    assert read_checkpoint(hist.checkpoint)[0]["step"] == 5


def test_crash_while_exporting_weights_keeps_the_old_file(tmp_path, monkeypatch):
    path = save_weights(make_toy(0), tmp_path / "final.safetensors")
    old = path.read_bytes()
    monkeypatch.setattr(os, "replace", lambda src, dst: (_ for _ in ()).throw(OSError("crash")))
    with pytest.raises(OSError):
        save_weights(make_toy(1), path)
    assert path.read_bytes() == old and os.listdir(tmp_path) == ["final.safetensors"]


def test_truncated_file_is_rejected_naming_it(tmp_path):
    path = save_weights(make_toy(0), tmp_path / "w.safetensors")
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(ValueError, match="w.safetensors"):
        read_weights(path)


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / "state.pt").write_bytes((d / "state.pt").read_bytes()[:-9]), r"state\.pt: \d+ bytes"),
    (lambda d: _flip_last_byte(d / "model.safetensors"), r"model\.safetensors: \d+ bytes with sha256"),
    (lambda d: (d / "progress.json").unlink(), r"progress\.json: missing"),
    (lambda d: (d / "progress.json").write_text('{"format": "unloc-tr'), r"progress\.json: unreadable"),
    (lambda d: (d / "state.pt").unlink(), r"state\.pt: missing"),
    (lambda d: (d / "progress.json").rename(d / "state.json"), r"step-000000003: written by an earlier unloc \(format 1"),
])
def test_damaged_checkpoint_files_are_named(tmp_path, damage, message):
    directory = _save(tmp_path, 3, make_toy(0))
    damage(directory)
    with pytest.raises(CorruptCheckpointError, match=message):
        read_checkpoint(directory)


def _flip_last_byte(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF  # same size, a different weight: only the digest can tell
    path.write_bytes(bytes(raw))


def test_keep_prunes_old_checkpoints(tmp_path):
    model = make_toy(0)
    for step in (1, 2, 3):
        _save(tmp_path, step, model, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-000000002", "step-000000003"]


def test_strict_load_names_file_and_keys(tmp_path):
    path = save_weights(make_toy(0), tmp_path / "pre.safetensors")
    other = make_toy(0, hidden=6)
    with pytest.raises(ValueError, match=r"pre\.safetensors(.|\n)*shape mismatch(.|\n)*fusion\.0\.weight"):
        load_weights(other, path, strict=False)  # shapes must agree even in partial loading
    bigger = nn.ModuleDict({"model": make_toy(0)})
    with pytest.raises(ValueError, match=r"missing from the file \(6\): model\.fusion"):
        load_weights(bigger, path)


def test_partial_load_ignores_the_head_and_reports(tmp_path):
    source = make_toy(0)
    path = save_weights(source, tmp_path / "pretrain.safetensors")
    target = make_toy(1)
    target.heads = nn.Linear(8, 7)  # a new task head of another size
    target.extra = nn.Linear(2, 2)
    head_before = target.heads.weight.detach().clone()
    report = load_weights(target, path, strict=False, ignore_prefixes=("heads",))
    assert report.ignored == ["heads.bias", "heads.weight"]
    assert report.missing == ["extra.bias", "extra.weight"] and report.unexpected == []
    assert torch.equal(target.fusion[0].weight, source.fusion[0].weight)
    assert torch.equal(target.heads.weight, head_before)
    assert "missing (2)" in report.summary() and "loaded 4 tensors" in report.summary()
