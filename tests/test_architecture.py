"""The package boundaries of issue 9, checked on the source (ast): station, provisioning, pipeline and deploy never
import one another; the kernel (fleetcore) and the decoder (isd_decoder) import none of them; only fleetcore/mqtt.py
calls the awsiot MQTT5 builder."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PRODUCTS = ("station", "provisioning", "pipeline", "deploy")
SHARED = ("fleetcore", "isd_decoder")
BUILDER = "awsiot.mqtt5_client_builder"
BUILDER_HOME = REPO / "fleetcore" / "mqtt.py"


def python_files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (REPO / folder).rglob("*.py"))


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """(line, dotted module) of every absolute import, `from x import y` giving x and x.y, and of every
    `importlib.import_module("...")` / `__import__("...")` with a literal name."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in ("import_module", "__import__"):
                yield node.lineno, node.args[0].value


def top(module: str) -> str:
    return module.split(".")[0]


@pytest.mark.parametrize("package", PRODUCTS + SHARED)
def test_packages_import_only_what_they_may(package: str) -> None:
    forbidden = set(PRODUCTS) - {package}
    found = [f"{path.relative_to(REPO)}:{line} imports {module}"
             for path in python_files(package) for line, module in imported_modules(path)
             if top(module) in forbidden]
    assert not found, "\n".join(found)


def test_only_fleetcore_mqtt_uses_the_awsiot_builder() -> None:
    files = [p for p in python_files(*PRODUCTS, *SHARED, "scripts", "tests") if "/.venv/" not in str(p)]
    users = {path.relative_to(REPO).as_posix() for path in files for _, module in imported_modules(path)
             if module == BUILDER or module.startswith(BUILDER + ".")}
    assert users == {BUILDER_HOME.relative_to(REPO).as_posix()}


def test_the_scan_sees_imports(tmp_path: Path) -> None:
    """The scanner itself: every import form it must catch."""
    sample = tmp_path / "sample.py"
    sample.write_text("import provisioning.settings\nfrom pipeline import lake\nfrom . import sibling\n"
                      "import importlib\nimportlib.import_module('station.cli')\n"
                      "from awsiot import mqtt5_client_builder\n")
    modules = {m for _, m in imported_modules(sample)}
    assert {"provisioning.settings", "pipeline", "pipeline.lake", "station.cli", BUILDER} <= modules
    assert not any(m.endswith("sibling") for m in modules)
