"""fleetcore/cli.py: every package's CLI runs one command and reports its own errors, and only those."""

from __future__ import annotations

import pytest

from fleetcore.cli import run_command
from fleetcore.errors import ConfigError, FleetError


class OwnError(FleetError):
    pass


class OtherError(FleetError):
    pass


def fail(exc: Exception):  # noqa: ANN201 - a command
    def command() -> int:
        raise exc
    return command


def test_the_commands_exit_code_and_none_as_zero() -> None:
    assert run_command(lambda: 3, (OwnError,), "prog") == 3
    assert run_command(lambda: None, (OwnError,), "prog") == 0


def test_an_own_error_is_one_line_per_line_and_its_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_command(fail(OwnError("first\nsecond")), (OwnError,), "deploy write") == 1
    assert capsys.readouterr().err == "deploy write: first\ndeploy write: second\n"
    assert run_command(fail(ConfigError("FLEET_COUNT=x: not a number")), (OwnError, ConfigError), "deploy") == 2
    assert capsys.readouterr().err == "deploy: FLEET_COUNT=x: not a number\n"


def test_another_packages_error_and_a_bug_are_not_caught() -> None:
    with pytest.raises(OtherError):
        run_command(fail(OtherError("not ours")), (OwnError,), "prog")
    with pytest.raises(ZeroDivisionError):
        run_command(lambda: 1 // 0, (OwnError,), "prog")
