"""Checks every config dataclass of the library shares, at the bottom of the layers so that each package's own config
(model, tasks, data, train) can use them: the error type of a bad configuration, and `Literal` fields checked for
instances built in Python (the strict loader, `unloc.config.strict`, checks params files itself)."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any


class ConfigError(ValueError):
    """A configuration value or key that does not fit the schema."""


def check_literals(obj: Any) -> None:
    """Raise naming the field when a `Literal`-typed field of dataclass instance `obj` holds a value outside it.

    For instances built in Python (the loader checks params files itself); call it from `__post_init__`.
    """
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        hint, value = hints[f.name], getattr(obj, f.name)
        if typing.get_origin(hint) is typing.Literal and value not in typing.get_args(hint):
            raise ConfigError(f"{type(obj).__name__}.{f.name} must be one of {list(typing.get_args(hint))}, "
                              f"got {value!r}")
