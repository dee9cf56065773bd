"""Every settings class of the product, found by import, and the variables each one declares.

`settings_classes()` imports every module of every top-level package of the repository (a folder with an
`__init__.py`, except tests), so a class that moves to another package is still found. `duplicates()` names the
variables declared by more than one class: each variable has one declaration (shared ones live in
`fleetcore.setting_groups` and are inherited). `python scripts/settings_classes.py` prints them and exits 1 when
there is any (tests/fleetcore/test_setting_declarations.py runs the same check).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from collections import defaultdict
from pathlib import Path

from pydantic import AliasChoices
from pydantic_settings import BaseSettings

REPO = Path(__file__).resolve().parent.parent
NOT_PRODUCT = frozenset({"tests", "scripts"})


def product_packages() -> list[str]:
    """The repository's top-level packages (fleetcore, station, provisioning, ...), by name."""
    return sorted(p.parent.name for p in REPO.glob("*/__init__.py") if p.parent.name not in NOT_PRODUCT)


def _modules(package: str) -> list[str]:
    root = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        if info.name.rsplit(".", 1)[-1] != "__main__":
            names.append(info.name)
    return names


def settings_classes() -> list[type[BaseSettings]]:
    """Every BaseSettings subclass defined in a product module, in a stable order (module, then name)."""
    found: dict[str, type[BaseSettings]] = {}
    for package in product_packages():
        for name in _modules(package):
            module = importlib.import_module(name)
            for obj in vars(module).values():
                if inspect.isclass(obj) and issubclass(obj, BaseSettings) and obj.__module__ == name:
                    found[f"{name}.{obj.__qualname__}"] = obj
    return [found[key] for key in sorted(found)]


def settings_class(name: str) -> type[BaseSettings]:
    """The settings class called `name` (its class name, wherever it lives)."""
    matches = [cls for cls in settings_classes() if cls.__name__ == name]
    if len(matches) != 1:
        raise LookupError(f"{len(matches)} settings classes are called {name!r} (expected exactly one)")
    return matches[0]


def variables(cls: type[BaseSettings], field: str) -> list[str]:
    """The environment variables a field reads: its alias (or choices), else its name in upper case."""
    alias = cls.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    return [str(alias) if alias else field.upper()]


def own_fields(cls: type[BaseSettings]) -> list[str]:
    """The fields `cls` declares itself (not inherited unchanged)."""
    return [name for name in cls.__dict__.get("__annotations__", {}) if name in cls.model_fields]


def declarations() -> dict[str, list[str]]:
    """Variable -> the classes declaring it (`module.Class`)."""
    declared: dict[str, list[str]] = defaultdict(list)
    for cls in settings_classes():
        for field in own_fields(cls):
            for variable in variables(cls, field):
                declared[variable].append(f"{cls.__module__}.{cls.__qualname__}")
    return dict(declared)


def duplicates() -> dict[str, list[str]]:
    """The variables declared by more than one settings class."""
    return {variable: classes for variable, classes in sorted(declarations().items()) if len(classes) > 1}


def main() -> int:
    found = duplicates()
    for variable, classes in found.items():
        print(f"{variable}: declared in {', '.join(classes)}")
    if found:
        print(f"{len(found)} variable(s) declared more than once: move each into one class (fleetcore.setting_groups "
              "for a variable several packages read) and inherit it", file=sys.stderr)
        return 1
    print(f"every variable is declared once ({len(declarations())} variables, {len(settings_classes())} classes)")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
