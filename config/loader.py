"""Turns the `env` context value into a validated EnvironmentConfig, or a clear error.

An environment is an embedded name (`default`) or a file: JSON (`.json`) or YAML
(`.yaml`, `.yml`; safe loading only, no tags that build Python objects). Both reject
a key given twice in one object (JSON's and YAML's parsers otherwise keep the last one
silently), and anything that is not one object gets "expected a JSON or YAML object".
A top-level `$schema` key (an editor's pointer to envs/environment.schema.json) is ignored.
"""

from __future__ import annotations

import difflib
import json
import re
import types
import typing
from collections.abc import Hashable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from config.defaults import EMBEDDED_ENVIRONMENTS
from config.models import EnvironmentConfig

DEFAULT_ENVIRONMENT = "default"
FILE_SUFFIXES = (".json", ".yaml", ".yml")
SCHEMA_KEY = "$schema"
NOT_AN_OBJECT = "expected a JSON or YAML object (field: value) at the top level"


class ConfigError(ValueError):
    """An environment could not be loaded; the message names the field and the rule."""


class _Object(dict[str, Any]):
    """A parsed JSON/YAML object that remembers the keys it saw more than once (and where, for YAML)."""

    duplicates: list[str]


def _object(pairs: list[tuple[Any, Any]], lines: list[int] | None = None) -> _Object:
    """An object from key/value pairs (in order); `lines` gives each pair's line, for YAML."""
    result = _Object()
    result.duplicates = []
    for index, (key, value) in enumerate(pairs):
        if key in result:
            result.duplicates.append(f"{key!r}" + (f" (line {lines[index]})" if lines else ""))
        result[key] = value
    return result


def _duplicate_keys(value: Any, path: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for key in getattr(value, "duplicates", ()):
            yield f"{path or '<top level>'}: key {key} appears more than once"
        for key, child in value.items():
            yield from _duplicate_keys(child, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _duplicate_keys(child, f"{path}.{index}")


class _StrictSafeLoader(yaml.SafeLoader):
    """yaml.SafeLoader whose mappings remember duplicate keys instead of keeping the last, and whose
    only booleans are true/false: YAML 1.1's yes/no/on/off come back as `_BareWord`, refused."""


class _BareWord(str):
    """An unquoted yes/no/on/off: a boolean to YAML 1.1, a word to YAML 1.2 (and to a reader)."""

    line: int


_BARE_WORD_TAG = "tag:pci-lz,2026:bare-yaml11-boolean"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_StrictSafeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictSafeLoader.add_implicit_resolver(_BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_StrictSafeLoader.add_implicit_resolver(
    _BARE_WORD_TAG, re.compile(r"^(?:yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF)$"), list("yYnNoO")
)


def _bare_word(loader: _StrictSafeLoader, node: yaml.ScalarNode) -> _BareWord:
    word = _BareWord(loader.construct_scalar(node))
    word.line = node.start_mark.line + 1
    return word


_StrictSafeLoader.add_constructor(_BARE_WORD_TAG, _bare_word)


def _bare_words(value: Any, path: str = "") -> Iterator[str]:
    """Where `value` holds an unquoted yes/no/on/off (key or value), with what to write instead."""
    if isinstance(value, _BareWord):
        yaml11 = "true" if value.lower() in ("yes", "on") else "false"
        yield (
            f"{path or '<top level>'} (line {value.line}): bare {value} is ambiguous (YAML 1.1 reads it as"
            f" {yaml11}, YAML 1.2 as text): write '{value}' in quotes for the word, or true/false for a boolean"
        )
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from _bare_words(key, path or "<top level>")
            yield from _bare_words(child, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _bare_words(child, f"{path}.{index}")


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _construct_mapping(loader: _StrictSafeLoader, node: yaml.MappingNode) -> _Object:
    """A mapping whose own keys may appear once each; YAML merge keys (`<<: *base`) behave as YAML
    defines them: the merged mappings' keys come first (the first merged mapping wins among them)
    and the mapping's own keys override them, which is no duplicate."""
    own = sum(1 for key_node, _ in node.value if key_node.tag != _MERGE_TAG)
    loader.flatten_mapping(node)
    merged = len(node.value) - own
    pairs: list[tuple[Any, Any]] = []
    lines: list[int] = []
    inherited: dict[Any, Any] = {}
    for index, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            raise ConfigError(f"line {key_node.start_mark.line + 1}: a key must be text, not {type(key).__name__}")
        value = loader.construct_object(value_node, deep=True)
        if index < merged:
            inherited[key] = value  # flatten_mapping orders them so that the last one is YAML's winner
            continue
        pairs.append((key, value))
        lines.append(key_node.start_mark.line + 1)
    result = _object(pairs, lines)
    for key, value in inherited.items():
        result.setdefault(key, value)
    return result


_StrictSafeLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_object)
    except json.JSONDecodeError as err:
        raise ConfigError(f"environment file {source} is not valid JSON: {err}") from None


def _parse_yaml(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=_StrictSafeLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        raise ConfigError(f"environment file {source} is not valid YAML: {err}") from None


def parse_text(text: str, *, source: str, suffix: str) -> dict[str, Any]:
    """The object in `text`: JSON for `.json`, YAML otherwise (YAML 1.1, safe loading; the only
    booleans are true/false).

    Raises ConfigError for a syntax error, an unquoted yes/no/on/off (YAML 1.1 would read a
    boolean where a reader sees a word, `guardduty_mode: off`), a duplicated key (with its path)
    or anything but one object.
    """
    data = _parse_json(text, source) if suffix == ".json" else _parse_yaml(text, source)
    if not isinstance(data, dict):
        raise ConfigError(f"environment file {source}: {NOT_AN_OBJECT}, not {_kind(data)}")
    bare = list(_bare_words(data))
    if bare:
        raise ConfigError(f"environment file {source}:\n" + "\n".join(f"  - {b}" for b in bare))
    duplicates = list(_duplicate_keys(data))
    if duplicates:
        raise ConfigError(
            f"environment file {source} gives a key twice (the second would silently replace the first):\n"
            + "\n".join(f"  - {d}" for d in duplicates)
        )
    data = dict(data)
    data.pop(SCHEMA_KEY, None)
    return data


def _kind(value: Any) -> str:
    if value is None:
        return "an empty document"
    return {list: "a list", str: "a single text value", bool: "true/false"}.get(type(value), type(value).__name__)


def _read_file(path: Path, *, field: str = "env", kind: str = "environment") -> dict[str, Any]:
    """The object in the file `path`, which the context or configuration field `field` names."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read {kind} file {path} (field: {field}): {err.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{kind} file {path} (field: {field}): {NOT_AN_OBJECT}; the file is not UTF-8 text") from None
    return parse_text(text, source=str(path), suffix=path.suffix.lower())


def _model_fields_at(loc: tuple[int | str, ...]) -> dict[str, Any] | None:
    """The fields of the model that holds the last element of `loc`, walking EnvironmentConfig's annotations."""
    annotation: Any = EnvironmentConfig
    parts = list(loc[:-1])
    while True:
        model = _model_in(annotation)
        if model is not None and not parts:
            return dict(model.model_fields)
        if not parts:
            return None
        part = parts.pop(0)
        if model is not None:
            field = model.model_fields.get(str(part))
            if field is None:
                return None
            annotation = field.annotation
            continue
        origin = typing.get_origin(annotation)
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if origin in (types.UnionType, typing.Union) and args:
            annotation = args[0]
            parts.insert(0, part)
        elif origin is dict and len(args) == 2:
            annotation = args[1]
        elif origin in (tuple, list) and args:
            annotation = args[0]
        else:
            return None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (types.UnionType, typing.Union):
        for arg in typing.get_args(annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                return arg
    return None


def _unknown_field(problem: ErrorDetails) -> str:
    name = str(problem["loc"][-1])
    fields = _model_fields_at(problem["loc"])
    if not fields:
        return f"unknown field {name!r}"
    close = difflib.get_close_matches(name, list(fields), n=1, cutoff=0.6)
    if close:
        return f"unknown field {name!r}: did you mean {close[0]!r}?"
    return f"unknown field {name!r}; valid fields here: {', '.join(fields)}"


def _message(problem: ErrorDetails) -> str:
    if problem["type"] == "extra_forbidden":
        return _unknown_field(problem)
    message = problem["msg"].removeprefix("Value error, ")
    if problem["type"] == "string_type" and isinstance(problem["input"], int | float | bool):
        message += f" (got {problem['input']!r}; in YAML, quote it: '...')"
    return message


def _consequences_dropped(problems: list[ErrorDetails]) -> list[ErrorDetails]:
    """Drop "too short after validation" on a list whose own items failed: the item error is the cause."""
    failed = [p["loc"] for p in problems]
    return [
        p
        for p in problems
        if not (p["type"] == "too_short" and any(loc[: len(p["loc"])] == p["loc"] != loc for loc in failed))
    ]


_LEADING_FIELD = re.compile(r"^([a-z_][a-z0-9_]*)((?:\.[A-Za-z0-9_-]+)*):? (.*)$", re.DOTALL)
_SCALAR_PROBLEM = re.compile(r" must be (?:true or false|a whole number|a number), not ")


def _lines_of(problem: ErrorDetails) -> Iterator[str]:
    """One line per problem, named by its field's full path: a model validator's message that starts
    with a field of that model (`az_count ...`, `regions.x.vpc_cidr ...`) is that field's problem, not
    the model's; the strict-scalar check's problems (joined by "; ") are one line each."""
    loc = tuple(problem["loc"])
    prefix = ".".join(str(part) for part in loc)
    message = _message(problem)
    fields = _model_fields_at((*loc, "")) if problem["type"] == "value_error" else None
    parts = message.split("; ") if _SCALAR_PROBLEM.search(message) else [message]
    leads = [_LEADING_FIELD.match(part) for part in parts]
    if fields and all(lead is not None and lead[1] in fields for lead in leads):
        for lead in leads:
            assert lead is not None
            yield f"  - {prefix + '.' if prefix else ''}{lead[0]}"
        return
    yield f"  - {prefix or '<environment>'}: {message}"


def _describe(source: str, err: ValidationError) -> str:
    lines = [f"invalid environment configuration ({source}):"]
    for problem in _consequences_dropped(err.errors()):
        lines.extend(_lines_of(problem))
    return "\n".join(lines)


def parse_environment(data: dict[str, Any], *, source: str = "inline") -> EnvironmentConfig:
    try:
        return EnvironmentConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_describe(source, err)) from None


def is_file_selector(selector: str) -> bool:
    return selector.lower().endswith(FILE_SUFFIXES) or "/" in selector


def _environment_file_named(selector: str) -> Path | None:
    """`envs/<selector>.yaml` (or .yml, .json) where a bare name was meant as that file."""
    for suffix in FILE_SUFFIXES:
        candidate = Path("envs") / f"{selector}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def expired_acknowledgments(config: EnvironmentConfig, today: date | None = None, prefix: str = "") -> list[str]:
    """One line per acknowledgment of the environment file whose `review_by` has passed on `today`:
    the compliance gate refuses it after the whole build; its date is in the file, so the load says
    it at once. (An adoption's expiry is evidence, not a failure: the gate records it; not here.)"""
    today = today or date.today()
    return [
        f"  - {prefix}acknowledgments.{index}.review_by: expired: {entry.review_by.isoformat()} has passed;"
        " the owner reviews the risk (PCI DSS v4.0.1 12.3.1) and sets a new date, or the finding is fixed"
        " and this entry deleted"
        for index, entry in enumerate(config.acknowledgments)
        if entry.review_by < today
    ]


def _unexpired(config: EnvironmentConfig, source: str, today: date | None, check: bool) -> EnvironmentConfig:
    expired = expired_acknowledgments(config, today) if check else []
    if expired:
        raise ConfigError("\n".join([f"invalid environment configuration ({source}):", *expired]))
    return config


def load_environment(
    selector: str | None, *, field: str = "env", today: date | None = None, check_reviews: bool = True
) -> EnvironmentConfig:
    """`selector` is an embedded environment name or a path to a JSON/YAML file; None (no `env` in the
    context) means default. Raises ConfigError for an empty or non-string value (an unset shell variable in
    `-c env=$ENV` must not build the demo environment), an unknown name, a bad file or an acknowledgment
    whose `review_by` has passed on `today` (default: the real date; `check_reviews=False` for a reader of
    what an earlier synth deployed, such as evidence/live.py). `field` names where the selector
    came from in the messages (`env`, or a delivery's `environments.<i>.config`)."""
    if selector is None:
        selector = DEFAULT_ENVIRONMENT
    elif not isinstance(selector, str):
        raise ConfigError(f"{field} must be a string (an embedded environment name or a file path), got {selector!r}")
    elif not selector.strip():
        raise ConfigError(
            f"{field} is empty (field: {field}): name an embedded environment or a JSON or YAML file, or leave it"
            " unset for the default"
        )
    if is_file_selector(selector):
        path = Path(selector)
        return _unexpired(
            parse_environment(_read_file(path, field=field), source=str(path)), str(path), today, check_reviews
        )
    if selector not in EMBEDDED_ENVIRONMENTS:
        known = ", ".join(sorted(EMBEDDED_ENVIRONMENTS))
        meant = _environment_file_named(selector)
        hint = (
            f"; did you mean the file {meant}" + (f" (-c env={meant})?" if field == "env" else "?")
            if meant is not None
            else "; or pass a path to a JSON or YAML file (for example envs/example.yaml)"
        )
        raise ConfigError(f"unknown environment {selector!r} (field: {field}); embedded environments: {known}{hint}")
    source = f"embedded {selector!r}"
    return _unexpired(parse_environment(EMBEDDED_ENVIRONMENTS[selector], source=source), source, today, check_reviews)
