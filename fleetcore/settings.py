"""The settings base: environment and `.env` through pydantic-settings, the environment always wins.

`load_settings(Model, error)` turns every validation problem into one line naming the variable, and raises
`error` (the package's own ConfigError, a `fleetcore.errors.ConfigError`) with all of them; nothing else is
caught. `Topic` is the field type of TOPIC in every settings class (one rule: `fleetcore.topic.validate_topic`).
"""

from __future__ import annotations

import re
from typing import Annotated, TypeVar

from pydantic import AfterValidator, AliasChoices, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from fleetcore.errors import ConfigError
from fleetcore.topic import validate_topic

S = TypeVar("S", bound=BaseSettings)

Topic = Annotated[str, AfterValidator(validate_topic)]
"""A settings field holding the fleet's TOPIC, validated by `fleetcore.topic.validate_topic` (one rule everywhere)."""


class FleetSettingsBase(BaseSettings):
    """Base of every settings class: `.env` is read, the environment wins, unknown variables are ignored, and an
    empty variable (`SPEEDUP=` in .env, or passed through empty by compose) means "use the default"."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore",
                                      env_ignore_empty=True, populate_by_name=True)


def _variable(model: type[BaseSettings], loc: tuple) -> str:
    if not loc:
        return "configuration"
    field = model.model_fields.get(str(loc[0]))
    alias = getattr(field, "validation_alias", None) if field else None
    if isinstance(alias, AliasChoices):
        return " / ".join(str(choice) for choice in alias.choices)
    return str(alias if isinstance(alias, str) else loc[0]).upper()


def problem_lines(model: type[BaseSettings], exc: ValidationError) -> list[str]:
    """One line per validation error, naming the environment variable."""
    lines: list[str] = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        message = str(err.get("msg", "")).removeprefix("Value error, ")
        if not loc:
            lines.append(f"invalid configuration: {message}")
        elif err.get("type") == "missing":
            lines.append(f"{_variable(model, loc)} is not set (see .env.example)")
        else:
            lines.append(f"invalid {_variable(model, loc)}={err.get('input')!r}: {message}")
    return lines


def load_settings(model: type[S], error: type[ConfigError] = ConfigError, **overrides: object) -> S:
    """Read `model` from the environment and `.env`; `error` (a ConfigError, usually the package's own) with one
    line per problem. A value pydantic-settings cannot even parse (e.g. a JSON field holding no JSON) is one
    line too."""
    try:
        return model(**overrides)
    except ValidationError as exc:
        raise error("\n".join(problem_lines(model, exc))) from None
    except SettingsError as exc:
        match = re.search(r'field "(\w+)"', str(exc))
        variable = _variable(model, (match.group(1),)) if match else "a variable"
        raise error(f"invalid {variable}: cannot parse its value ({exc.__cause__ or exc})") from None
