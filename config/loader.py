"""Turns the `env` context value into a validated EnvironmentConfig, or a clear error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from config.defaults import EMBEDDED_ENVIRONMENTS
from config.models import EnvironmentConfig

DEFAULT_ENVIRONMENT = "default"


class ConfigError(ValueError):
    """An environment could not be loaded; the message names the field and the rule."""


def _describe(source: str, err: ValidationError) -> str:
    lines = [f"invalid environment configuration ({source}):"]
    for problem in err.errors():
        field = ".".join(str(part) for part in problem["loc"]) or "<environment>"
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"  - {field}: {message}")
    return "\n".join(lines)


def _read_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"cannot read environment file {path}: {err.strerror}") from None
    except json.JSONDecodeError as err:
        raise ConfigError(f"environment file {path} is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"environment file {path} must hold a JSON object")
    return data


def parse_environment(data: dict[str, Any], *, source: str = "inline") -> EnvironmentConfig:
    try:
        return EnvironmentConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_describe(source, err)) from None


def load_environment(selector: str | None) -> EnvironmentConfig:
    """`selector` is an embedded environment name or a path to a JSON file; None means default."""
    selector = selector or DEFAULT_ENVIRONMENT
    if selector.endswith(".json") or "/" in selector:
        path = Path(selector)
        return parse_environment(_read_file(path), source=str(path))
    if selector not in EMBEDDED_ENVIRONMENTS:
        known = ", ".join(sorted(EMBEDDED_ENVIRONMENTS))
        raise ConfigError(
            f"unknown environment {selector!r} (field: env); embedded environments: {known};"
            " or pass a path to a JSON file"
        )
    return parse_environment(EMBEDDED_ENVIRONMENTS[selector], source=f"embedded {selector!r}")
