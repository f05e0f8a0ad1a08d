"""Settings dataclasses overridden field by field from the environment (PREFIX_<FIELD>)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, replace
from typing import TypeVar

T = TypeVar("T")


def from_env(defaults: T, env: Mapping[str, str], prefix: str) -> T:
    """`defaults` with each field replaced by env[PREFIX_<FIELD>] when that is set and not
    empty, converted to the field's type. A malformed or negative number is an error naming
    the variable."""
    changes = {}
    for field in fields(defaults):
        key = f"{prefix}{field.name.upper()}"
        if env.get(key, "") == "":
            continue
        kind = type(getattr(defaults, field.name))
        try:
            value = kind(env[key])
        except ValueError:
            raise ValueError(f"{key}={env[key]!r} is not a {kind.__name__}") from None
        if isinstance(value, int | float) and value < 0:
            raise ValueError(f"{key}={env[key]!r} must not be negative")
        changes[field.name] = value
    return replace(defaults, **changes)
