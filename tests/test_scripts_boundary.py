"""Scripts do not import tests (issue 19 §5): what the benchmarks share with the tests lives in `testbed/`."""

from __future__ import annotations

from pathlib import Path

from tests.test_architecture import REPO, imported_modules, python_files, top


def test_no_script_imports_tests() -> None:
    found = [f"{path.relative_to(REPO)}:{line} imports {module}"
             for path in python_files("scripts") for line, module in imported_modules(path) if top(module) == "tests"]
    assert found == []


def test_the_check_sees_an_import_of_tests(tmp_path: Path) -> None:
    script = tmp_path / "bench_x.py"
    script.write_text("import os\n\ndef main():\n    from tests.support.broker import TlsBroker\n")
    assert [(line, module) for line, module in imported_modules(script) if top(module) == "tests"] == [
        (4, "tests.support.broker"), (4, "tests.support.broker.TlsBroker")]
