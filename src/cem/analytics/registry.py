"""Name-keyed registries (metrics, dimensions): each name is registered once, a second time is a programming error."""

from __future__ import annotations

from typing import TypeVar

Item = TypeVar("Item")


def add_unique(registry: dict[str, Item], name: str, item: Item, *, kind: str) -> Item:
    """Put `item` under `name`; ValueError("<kind> 'name' is already registered") when the name is taken."""
    if name in registry:
        raise ValueError(f"{kind} {name!r} is already registered")
    registry[name] = item
    return item
