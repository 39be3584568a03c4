"""Strict conversion between nested mappings (params.yaml) and frozen config dataclasses.

Dataclasses are the schema and the defaults; params.yaml holds only deltas. Conversion is strict: an unknown key raises a
`ConfigError` naming the dotted path and the closest valid field, and a value of the wrong kind (or a NaN or infinite
number) is refused instead of being coerced silently. Sections compose by a `base:` chain (a dotted name of another
section), merged depth-first.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from unloc.schema import ConfigError, check_literals  # noqa: F401  (re-exported)

T = TypeVar("T")




def from_dict(cls: type[T], data: Mapping[str, Any] | None, where: str = "") -> T:
    """Builds dataclass `cls` from `data`, recursing into dataclass-typed fields.

    Args:
      cls: a dataclass type whose fields give the schema and the defaults.
      data: a mapping of overrides (deltas over the defaults); None means all defaults.
      where: dotted path of `data` in the params file, for error messages.

    Returns:
      An instance of `cls`.
    """
    data = dict(data or {})
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(key, list(fields), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f"; valid keys: {sorted(fields)}"
        raise ConfigError(f"unknown config key '{_join(where, key)}'{hint}")
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _convert(hints[name], value, _join(where, name))
    return cls(**kwargs)


def to_dict(obj: Any) -> Any:
    """Plain nested dicts/lists of a (possibly nested) dataclass instance, for YAML/JSON output."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, Mapping):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def merge(base: Mapping[str, Any], delta: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge: mappings merge key by key, anything else in `delta` replaces the value in `base`."""
    out = dict(base)
    for key, value in delta.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def resolve_section(params: Mapping[str, Any], name: str, _seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """The merged delta of section `name` (dotted path) after following its `base:` chain.

    `base:` names one section or a list of them, merged in order (e.g. `base: [mr.charades_b, sizes.L]`: the
    Charades stage at the L size), each resolved through its own chain first; the section's own keys come last.

    Raises:
      ConfigError: when the section does not exist or the chain loops.
    """
    if name in _seen:
        raise ConfigError(f"config base chain loops: {' -> '.join(_seen + (name,))}")
    node: Any = params
    for part in name.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise ConfigError(f"no section '{name}' in params (missing '{part}')")
        node = node[part]
    if not isinstance(node, Mapping):
        raise ConfigError(f"section '{name}' is not a mapping")
    section = dict(node)
    bases = section.pop("base", None)
    if bases is None:
        return section
    if isinstance(bases, str):
        bases = [bases]
    if not isinstance(bases, list) or not bases or not all(isinstance(b, str) for b in bases):
        raise ConfigError(f"section '{name}': base must be a section name or a non-empty list of them, got {bases!r}")
    merged: dict[str, Any] = {}
    for base in bases:
        merged = merge(merged, resolve_section(params, base, _seen + (name,)))
    return merge(merged, section)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _convert(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _convert(arg, value, where)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(f"'{where}': {value!r} fits none of {hint} ({'; '.join(errors)})")
    if hint is Any:
        return value
    if dataclasses.is_dataclass(hint):
        if isinstance(value, hint):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"'{where}' must be a mapping, got {value!r}")
        return from_dict(hint, value, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"'{where}' must be a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if args and len(args) != len(value):
            raise ConfigError(f"'{where}' must have {len(args)} items, got {len(value)}")
        return tuple(_convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value))) if args else tuple(value)
    if origin is dict or hint is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"'{where}' must be a mapping, got {value!r}")
        if args:
            return {_convert(args[0], k, where): _convert(args[1], v, f"{where}.{k}") for k, v in value.items()}
        return dict(value)
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"'{where}' must be one of {list(args)}, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"'{where}' must be a number, got {value!r} (write 3.0e-4, not 3e-4, in YAML)")
        if not math.isfinite(value):
            raise ConfigError(f"'{where}' must be a finite number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"'{where}' must be an integer, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"'{where}' must be true or false, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"'{where}' must be a string, got {value!r}")
        return value
    return value
