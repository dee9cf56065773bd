"""Enum fields are compared with enum members, never with string literals (`t.role == Role.MONITOR`, not
`t.role == "monitor"`): a renamed member then fails at import, not silently at run time."""

from __future__ import annotations

import ast
from pathlib import Path

from scripts.settings_classes import REPO, product_packages

# Fields and variables holding an enum (Role, Target, ResourceKind, CertificateMode, RegistrationMode, TimeMode,
# DataSourceName).
ENUM_NAMES = frozenset({"role", "target", "kind", "certificate_mode", "registration_mode", "time_mode",
                        "data_source"})
# station/ is being rebuilt around one replay engine; its comparisons are checked once that lands.
NOT_YET = frozenset({"station"})


def _name(node: ast.expr) -> str | None:
    """The enum-holding field (`t.role`, `manifest.target`) or `role` variable compared; other bare names such as
    the decoder's `kind` (a code string) or a dialect `target` (a Literal) are not enums."""
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) and node.id == "role" else None


def string_comparisons(source: str) -> list[int]:
    """Lines comparing an enum-named field or variable with a string literal."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare) and isinstance(node.ops[0], (ast.Eq, ast.NotEq)):
            left, right = node.left, node.comparators[0]
            for side, other in ((left, right), (right, left)):
                if _name(side) in ENUM_NAMES and isinstance(other, ast.Constant) and isinstance(other.value, str):
                    lines.append(node.lineno)
    return lines


def test_the_check_finds_a_string_comparison() -> None:
    assert string_comparisons('if t.role == "monitor":\n    pass\nok = m.target != "aws" or role == "hello"\n') == [1, 3, 3]
    assert string_comparisons("if t.role == Role.MONITOR:\n    pass\n") == []


def test_enum_fields_are_compared_with_members() -> None:
    found = []
    for package in sorted(set(product_packages()) - NOT_YET):
        for path in sorted((REPO / package).rglob("*.py")):
            found += [f"{path.relative_to(REPO)}:{line}" for line in string_comparisons(path.read_text())]
    assert found == []
