"""The examples in the DL/T 645 modules' docstrings are true (python-can style doctests on small helpers)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import protocols.dlt645

MODULES = sorted(f"protocols.dlt645.{m.name}" for m in pkgutil.iter_modules(protocols.dlt645.__path__))


def test_every_module_is_listed() -> None:
    assert {"protocols.dlt645.commands", "protocols.dlt645.data_items", "protocols.dlt645.formats"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
