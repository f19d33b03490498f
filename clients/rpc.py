"""Remote procedure calls: the JSON body of a `Remote` call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def merge(defaults: Mapping[str, Any], json: Mapping[str, Any]) -> dict[str, Any]:
    """Return the JSON body of a call: the defaults updated with the call's fields."""
    return {**defaults, **json}

