"""The layout's navigation: each app registers its entries, so the menu grows with the modules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.urls import reverse


@dataclass(frozen=True)
class NavItem:
    label: Any  # lazy translation
    url_name: str
    icon: str = ""
    order: int = 100
    visible: Callable[[Any], bool] = lambda user: user.is_authenticated

    @property
    def url(self) -> str:
        return reverse(self.url_name)


_items: list[NavItem] = []


def register(*items: NavItem) -> None:
    """Called from an app's AppConfig.ready()."""
    for item in items:
        if all(existing.url_name != item.url_name for existing in _items):
            _items.append(item)


def items_for(user: Any) -> list[NavItem]:
    return sorted((i for i in _items if i.visible(user)), key=lambda i: i.order)
