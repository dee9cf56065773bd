"""The package boundaries (issues 9 and 19), checked on the source (ast):

- station, provisioning, pipeline and deploy never import one another; what they share is in fleetcore or
  isd_decoder. deploy reads only the manifest provisioning writes (fleetcore.manifest): `make register` runs
  `python -m provisioning register`, then `python -m deploy write`.
- stationdata (catalogue, downloads, file assignment) imports no other product package. Exactly one product
  imports it: provisioning, because registration assigns a station-year (file, start offset, catalogue name)
  to each identity it creates. deploy never does: it reads the assignment from the manifest.
- the kernel (fleetcore) and the decoder (isd_decoder) import none of them; only fleetcore/mqtt.py calls the
  awsiot MQTT5 builder.
- testbed (the real parts the tests and the benchmarks both run) is development only: no product or shared package
  imports it (or tests), and it is neither installed nor copied into an image. Scripts never import tests
  (tests/test_scripts_boundary.py)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PRODUCTS = ("station", "provisioning", "pipeline", "deploy", "stationdata")
# The one allowed edge between products (see the docstring): registration assigns station data to identities.
ALLOWED = {("provisioning", "stationdata")}
SHARED = ("fleetcore", "isd_decoder")
DEV_ONLY = ("testbed", "tests", "scripts")
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
    forbidden = set(PRODUCTS) - {package} - {used for user, used in ALLOWED if user == package}
    found = [f"{path.relative_to(REPO)}:{line} imports {module}"
             for path in python_files(package) for line, module in imported_modules(path)
             if top(module) in forbidden]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("package", PRODUCTS + SHARED)
def test_no_product_imports_the_testbed(package: str) -> None:
    found = [f"{path.relative_to(REPO)}:{line} imports {module}"
             for path in python_files(package) for line, module in imported_modules(path) if top(module) in DEV_ONLY]
    assert not found, "\n".join(found)


def test_the_testbed_is_neither_installed_nor_in_an_image() -> None:
    import tomllib

    packages = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    assert not any(p.split("*")[0] == "testbed" for p in packages["include"])
    for dockerfile in (REPO / "docker").rglob("Dockerfile*"):
        copies = [ln for ln in dockerfile.read_text().splitlines() if ln.startswith("COPY")]
        assert not any("testbed" in ln or ln.split()[1] == "." for ln in copies), dockerfile


def test_the_allowed_edge_is_used_and_only_by_its_package() -> None:
    """stationdata is imported by provisioning (registration) and by no other product; the edge is real (else it
    should be dropped from ALLOWED)."""
    users = {path.relative_to(REPO).parts[0] for path in python_files(*PRODUCTS)
             for _, module in imported_modules(path) if top(module) == "stationdata"} - {"stationdata"}
    assert users == {"provisioning"}


def test_deployment_and_station_data_live_outside_provisioning() -> None:
    """Issue 19: deployment (compose, shards, swarm) and station data are not identity provisioning."""
    moved = ("compose_stations", "compose_groups", "shards", "swarm", "data_access", "catalogue", "catalogue_store",
             "download", "sources", "data", "station_names", "stations", "distinct", "selection_args")
    # a folder counts when it holds Python files (a stale __pycache__ left by a checkout before the move does not)
    assert [m for m in moved if any((REPO / "provisioning" / m).glob("*.py"))
            or (REPO / "provisioning" / f"{m}.py").exists()] == []


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
