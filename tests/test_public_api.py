"""Every module's ``__all__`` lists exactly its public names (httpx-style check)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

PACKAGES = ("gateway", "detectors", "policies", "reports")


def all_modules():
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        yield package_name
        for info in pkgutil.walk_packages(package.__path__, package_name + "."):
            if not info.name.endswith("__main__"):
                yield info.name


@pytest.mark.parametrize("name", sorted(all_modules()))
def test_all_matches_public_names(name):
    module = importlib.import_module(name)
    assert hasattr(module, "__all__"), f"{name} has no __all__"
    declared = set(module.__all__)
    missing = [n for n in declared if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names undefined {missing}"
    defined_here = {
        n for n, obj in vars(module).items()
        if not n.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and getattr(obj, "__module__", None) == name
    }
    undeclared = defined_here - declared
    assert not undeclared, f"{name} defines public {sorted(undeclared)} missing from __all__"
