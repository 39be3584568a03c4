"""Strict params → dataclass conversion."""

from dataclasses import dataclass, field
from typing import Literal

import pytest

from unloc.config.strict import ConfigError, from_dict, merge, resolve_section, to_dict


@dataclass(frozen=True)
class Inner:
    width: int = 512
    kind: Literal["none", "vitdet", "fpn"] = "vitdet"
    ranges: tuple[tuple[float, float], ...] = ((0.0, 4.0), (4.0, 8.0))


@dataclass(frozen=True)
class Outer:
    lr: float = 0.01
    name: str | None = None
    inner: Inner = field(default_factory=Inner)
    mults: dict[str, float] = field(default_factory=dict)


def test_defaults_and_deltas():
    cfg = from_dict(Outer, {"lr": 1, "inner": {"kind": "fpn", "ranges": [[0, 6], [6, 1e9]]}, "mults": {"fusion": 10}})
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float)
    assert cfg.inner == Inner(width=512, kind="fpn", ranges=((0.0, 6.0), (6.0, 1e9)))
    assert cfg.mults == {"fusion": 10.0}
    assert from_dict(Outer, None) == Outer()
    assert from_dict(Outer, to_dict(cfg)) == cfg


def test_unknown_key_names_path_and_suggestion():
    with pytest.raises(ConfigError, match=r"inner\.widht.*did you mean 'width'"):
        from_dict(Outer, {"inner": {"widht": 3}})


@pytest.mark.parametrize(
    "data, match",
    [
        ({"lr": "3e-4"}, "must be a number"),
        ({"inner": {"kind": "vitdt"}}, "must be one of"),
        ({"inner": {"width": 2.5}}, "must be an integer"),
        ({"inner": 3}, "must be a mapping"),
    ],
)
def test_wrong_kinds_are_refused(data, match):
    with pytest.raises(ConfigError, match=match):
        from_dict(Outer, data)


def test_base_chain_merges_depth_first():
    params = {
        "tal": {"anet": {"lr": 0.1, "inner": {"width": 8, "kind": "fpn"}}},
        "ablations": {"no_pyr": {"base": "tal.anet", "inner": {"kind": "none"}}},
        "loop": {"a": {"base": "loop.b"}, "b": {"base": "loop.a"}},
    }
    merged = resolve_section(params, "ablations.no_pyr")
    assert merged == {"lr": 0.1, "inner": {"width": 8, "kind": "none"}}
    assert merge({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}}) == {"a": {"b": 1, "c": 3}}
    with pytest.raises(ConfigError, match="loops"):
        resolve_section(params, "loop.a")
    with pytest.raises(ConfigError, match="no section"):
        resolve_section(params, "tal.thumos")


def test_a_list_of_bases_merges_in_order_before_the_section():
    params = {
        "mr": {"b": {"lr": 0.1, "model": {"width": 128, "levels": 3}, "data": "charades"}},
        "sizes": {"L": {"model": {"width": 192, "levels": 4}}},
        "l": {"base": ["mr.b", "sizes.L"], "lr": 0.2},
        "bad": {"base": ["mr.b", 3]},
    }
    assert resolve_section(params, "l") == {"lr": 0.2, "model": {"width": 192, "levels": 4}, "data": "charades"}
    with pytest.raises(ConfigError, match="section 'bad': base must be"):
        resolve_section(params, "bad")
