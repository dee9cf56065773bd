"""Write the variable tables of docs/configuration.md from the settings classes' fields (`make docs`).

Each table sits between `<!-- generated: NAME -->` and `<!-- end generated -->`, NAME being a settings class (found
by import wherever it lives: scripts/settings_classes.py). A row per field, in declaration order (shared groups
of fleetcore.setting_groups first): the variable, its default and its description. Text outside the markers is
kept. `--check` writes nothing and exits 1 when the page differs (tests/fleetcore/test_config_docs.py).
"""

from __future__ import annotations

import argparse
import re
import sys
from enum import Enum
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pydantic_core import PydanticUndefined  # noqa: E402
from pydantic_settings import BaseSettings  # noqa: E402

from scripts.settings_classes import settings_class, variables  # noqa: E402

PAGE = REPO / "docs" / "configuration.md"
COMMAND = "make docs"
BLOCK = re.compile(r"(<!-- generated: (\w+) -->\n)(.*?)(<!-- end generated -->)", re.S)


def _default(value: object, factory: object) -> str:
    if value is PydanticUndefined and factory is None:
        return "(required)"
    if factory is not None:
        value = factory()  # type: ignore[operator]
    if value is None or value == {}:
        return "(unset)"
    if value == "":
        return "(empty)"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        value = str(value).lower()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`"


def table(cls: type[BaseSettings]) -> str:
    """The Markdown table of `cls`'s variables."""
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for name, field in cls.model_fields.items():
        names = " / ".join(f"`{v}`" for v in variables(cls, name))
        meaning = (field.description or "").replace("|", "\\|").replace("\n", " ")
        rows.append(f"| {names} | {_default(field.default, field.default_factory)} | {meaning} |")
    return "\n".join(rows) + "\n"


def render(text: str) -> str:
    """`text` with every generated table written afresh."""
    return BLOCK.sub(lambda m: m.group(1) + table(settings_class(m.group(2))) + m.group(4), text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the page is stale, write nothing")
    args = parser.parse_args(argv)
    text = PAGE.read_text()
    fresh = render(text)
    if args.check:
        if fresh != text:
            print(f"{PAGE.relative_to(REPO)} is stale: run `{COMMAND}`", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(fresh)
    print(f"wrote {PAGE.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
