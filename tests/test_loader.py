"""The strict loader: each bad input fails naming the field and the fix, and writes no template.

The loader cases run in-process through `app.main()` (what `cdk synth` runs) on an App with
the project's context and the environment selector, so "writes no template" is checked on the
real entry point without a subprocess per case (tests/test_app_cli.py runs it as the CLI does).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

import app as cdk_app
from config import ConfigError, load_environment, parse_environment
from config.defaults import EMBEDDED_ENVIRONMENTS
from config.loader import parse_text
from tests.conftest import new_app

YAML: dict[str, str] = {"source": "test.yaml", "suffix": ".yaml"}


def _data() -> dict[str, Any]:
    return copy.deepcopy(EMBEDDED_ENVIRONMENTS["default"])


def _run_app(tmp_path: Path, selector: str) -> int:
    outdir = tmp_path / "cdk.out"
    code = cdk_app.main(new_app(outdir, env=selector))
    assert not list(outdir.glob("*.template.json")), "a template was written for a bad configuration"
    return code


def _json_with_duplicate_edge() -> str:
    body = json.dumps(_data(), indent=2)[1:-2]  # the object's members, without the braces
    return '{\n  "edge": {"waf_rate_limit": 100},' + body + ',\n  "edge": {"waf_rate_window_seconds": 60}\n}\n'


def _yaml_with_duplicate_cidr() -> str:
    text = yaml.safe_dump(_data(), sort_keys=False)
    return text.replace("    vpc_cidr: 10.10.0.0/16\n", "    vpc_cidr: 10.10.0.0/16\n    vpc_cidr: 10.30.0.0/16\n", 1)


# (file name, content, what the error must say)
FILE_CASES = [
    ("dup.json", _json_with_duplicate_edge(), ["<top level>: key 'edge' appears more than once"]),
    ("dup.yaml", _yaml_with_duplicate_cidr(), ["regions.us-east-1: key 'vpc_cidr' (line", "appears more than once"]),
    ("list.json", "[1, 2]", ["expected a JSON or YAML object", "not a list"]),
    ("text.yaml", "just some words\n", ["expected a JSON or YAML object", "not a single text value"]),
    ("empty.yml", "", ["expected a JSON or YAML object", "empty document"]),
    ("binary.yaml", "\udcff", ["expected a JSON or YAML object"]),
    ("python.yaml", "!!python/object/apply:os.system ['true']\n", ["not valid YAML"]),
    ("broken.json", '{"name": ', ["not valid JSON"]),
]


@pytest.mark.parametrize(("name", "content", "expected"), FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_a_bad_environment_file_fails_before_any_template(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: str,
    expected: list[str],
) -> None:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8", errors="surrogateescape"))
    assert _run_app(tmp_path, str(path)) == 2
    err = capsys.readouterr().err
    for text in expected:
        assert text in err, err


def _with(path: str, value: Any) -> dict[str, Any]:
    data = _data()
    *parents, leaf = path.split(".")
    target = data
    for part in parents:
        target = target.setdefault(part, {})
    target[leaf] = value
    return data


_GOV_CERT = "arn:aws-us-gov:acm:us-east-1:111111111111:certificate/00000000-0000-4000-8000-00000000ce01"
_BOOTSTRAP = "arn:aws:iam::111111111111:role/cdk-hnb659fds-cfn-exec-role-111111111111-us-east-1"
_CUSTOM_QUALIFIER = "arn:aws:iam::111111111111:role/cdk-payments1-deploy-role-111111111111-us-east-1"
_FN = "arn:aws-us-gov:lambda:us-east-1:111111111111:function:vault"

# (dotted path, value, field named in the message, the rule/fix it states)
VALUE_CASES = [
    ("edgee", {}, "edgee", "unknown field 'edgee': did you mean 'edge'?"),
    ("edge.waf_rate_limt", 5, "edge.waf_rate_limt", "did you mean 'waf_rate_limit'?"),
    ("regions.us-east-1.vpc_cdir", "10.1.0.0/16", "regions.us-east-1.vpc_cdir", "did you mean 'vpc_cidr'?"),
    ("audit.replica_regoin", "us-west-2", "audit.replica_regoin", "did you mean 'replica_region'?"),
    ("zzzz", 1, "zzzz", "valid fields here: name, account"),
    ("regions.us-east-1.vpc_cidr", "0.0.0.0/16", "regions.us-east-1.vpc_cidr", "inside 10.0.0.0/8, 172.16.0.0/12"),
    ("regions.us-east-1.vpc_cidr", "127.0.0.0/16", "regions.us-east-1.vpc_cidr", "not in a private (RFC 1918)"),
    ("regions.us-east-1.vpc_cidr", "169.254.0.0/16", "regions.us-east-1.vpc_cidr", "not in a private (RFC 1918)"),
    ("regions.us-east-1.vpc_cidr", "240.0.0.0/16", "regions.us-east-1.vpc_cidr", "not in a private (RFC 1918)"),
    ("regions.us-east-1.vpc_cidr", "100.64.0.0/16", "regions.us-east-1.vpc_cidr", "not in a private (RFC 1918)"),
    ("regions.us-east-1.vpc_cidr", "fd00:10::/48", "regions.us-east-1.vpc_cidr", "is an IPv6 range"),
    ("regions.us-east-1.vpc_cidr", "10.10.0.1/16", "regions.us-east-1.vpc_cidr", "network address, 10.10.0.0/16"),
    ("allowed_ingress_cidrs", ["2001:db8::/32"], "allowed_ingress_cidrs.0", "is an IPv6 range"),
    ("allowed_ingress_cidrs", ["198.51.100.7/24"], "allowed_ingress_cidrs.0", "network address, 198.51.100.0/24"),
    ("regions.us-east-1.certificate_arn", _GOV_CERT, "regions.us-east-1.certificate_arn", "partition aws-us-gov"),
    ("key_administrator_role_arns", [_BOOTSTRAP], "key_administrator_role_arns", "is a CDK bootstrap role"),
    ("key_administrator_role_arns", [_CUSTOM_QUALIFIER], "key_administrator_role_arns", "CDK bootstrap role"),
    (
        "key_administrator_role_arns",
        ["arn:aws-us-gov:iam::111111111111:role/custodian"],
        "key_administrator_role_arns",
        "partition aws-us-gov",
    ),
    ("audit.lambda_data_event_functions", [_FN], "audit.lambda_data_event_functions", "partition aws-us-gov"),
    ("account", 111111111111, "account", "in YAML, quote it"),
]


@pytest.mark.parametrize(("path", "value", "field", "rule"), VALUE_CASES, ids=[f"{c[0]}={c[1]}" for c in VALUE_CASES])
def test_a_bad_value_names_the_field_and_the_fix(path: str, value: Any, field: str, rule: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_environment(_with(path, value))
    message = str(caught.value)
    assert field in message, message
    assert rule in message, message
    assert message.count("\n  - ") == 1, f"one clear message expected:\n{message}"


@pytest.mark.parametrize("case", VALUE_CASES[::4], ids=lambda c: str(c[0]))
def test_a_bad_value_in_a_file_writes_no_template(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: tuple[Any, ...]
) -> None:
    path, value, field, rule = case
    target = tmp_path / "env.yaml"
    target.write_text(yaml.safe_dump(_with(path, value)), encoding="utf-8")
    assert _run_app(tmp_path, str(target)) == 2
    err = capsys.readouterr().err
    assert field in err
    assert rule in err


def test_regions_of_two_partitions_are_refused() -> None:
    data = _data()
    data["regions"]["us-gov-west-1"] = {
        "vpc_cidr": "10.30.0.0/16",
        "certificate_arn": _GOV_CERT.replace("us-east-1", "us-gov-west-1"),
    }
    with pytest.raises(ConfigError, match=r"regions\.us-gov-west-1 is in partition aws-us-gov"):
        parse_environment(data)


def test_a_gov_cloud_environment_uses_its_own_partition() -> None:
    cert = "arn:aws-us-gov:acm:{r}:111111111111:certificate/00000000-0000-4000-8000-00000000ce0{i}"
    data = _data()
    data["home_region"] = "us-gov-west-1"
    data["regions"] = {
        "us-gov-west-1": {"vpc_cidr": "10.10.0.0/16", "certificate_arn": cert.format(r="us-gov-west-1", i=1)},
        "us-gov-east-1": {"vpc_cidr": "10.20.0.0/16", "certificate_arn": cert.format(r="us-gov-east-1", i=2)},
    }
    data["key_administrator_role_arns"] = ["arn:aws-us-gov:iam::111111111111:role/pci-lz-key-administrator"]
    assert parse_environment(data).home_region == "us-gov-west-1"


@pytest.mark.parametrize("suffix", [".json", ".yaml", ".yml"])
def test_json_and_yaml_files_load_the_same_environment(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"env{suffix}"
    data = {"$schema": "./environment.schema.json", **_data()}
    path.write_text(json.dumps(data) if suffix == ".json" else yaml.safe_dump(data), encoding="utf-8")
    assert load_environment(str(path)) == load_environment("default")


def test_a_yaml_anchor_merges_but_a_duplicate_after_it_is_still_refused(tmp_path: Path) -> None:
    path = tmp_path / "env.yaml"
    path.write_text(
        yaml.safe_dump(_data()) + "edge: {waf_rate_limit: 100}\nedge: {waf_rate_limit: 2000}\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"key 'edge' \(line \d+\) appears more than once"):
        load_environment(str(path))


def test_a_yaml_merge_key_then_an_override_is_no_duplicate(tmp_path: Path) -> None:
    """`<<: *base` then keys of its own: YAML's merge, the own keys win (issue #18 case 6)."""
    data = _data()
    first, second = list(data["regions"])
    text = yaml.safe_dump({k: v for k, v in data.items() if k != "regions"})
    text += f"regions:\n  {first}: &home\n"
    text += "".join(f"    {k}: {v}\n" for k, v in data["regions"][first].items())
    text += f"  {second}:\n    <<: *home\n"
    text += "".join(f"    {k}: {v}\n" for k, v in data["regions"][second].items())
    path = tmp_path / "env.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_environment(str(path)) == parse_environment(data)


def test_a_real_duplicate_beside_a_merge_key_is_still_refused() -> None:
    text = "base: &b {a: 1}\nx:\n  <<: *b\n  c: 1\n  c: 2\n"
    with pytest.raises(ConfigError, match=r"x: key 'c' \(line 5\) appears more than once"):
        parse_text(text, **YAML)


def test_the_first_of_several_merged_mappings_wins_as_yaml_defines() -> None:
    data = parse_text("a: &a {k: 1}\nb: &b {k: 2, j: 3}\nx:\n  <<: [*a, *b]\n", **YAML)
    assert data["x"] == {"k": 1, "j": 3}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (("database", "enable_proxy"), "yes", "enable_proxy must be true or false, not 'yes'"),
        (("database", "enable_proxy"), 1, "enable_proxy must be true or false, not 1"),
        (("az_count",), "3", "az_count must be a whole number, not '3'"),
        (("app_port",), True, "app_port must be a whole number, not True"),
        (("audit", "organization_trail"), "false", "organization_trail must be true or false"),
    ],
)
def test_booleans_and_numbers_are_strict_everywhere(field: tuple[str, ...], value: object, message: str) -> None:
    data = _data()
    target = data
    for part in field[:-1]:
        target[part] = dict(target.get(part, {}))
        target = target[part]
    target[field[-1]] = value
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_environment(data)


@pytest.mark.parametrize("word", ["off", "Off", "on", "yes", "no", "NO"])
def test_bare_yaml11_booleans_are_refused_with_what_to_write(word: str) -> None:
    """Fork trial findings 4 and 5: `guardduty_mode: off` (YAML 1.1 reads false) and
    `enable_proxy: yes` (YAML 1.1 reads true) are refused, naming the field, its line and the fix."""
    text = f"name: x\naudit:\n  guardduty_mode: {word}\n"
    with pytest.raises(
        ConfigError, match=rf"audit\.guardduty_mode \(line 3\): bare {word} is ambiguous.*write '{word}' in quotes"
    ):
        parse_text(text, source="t.yaml", suffix=".yaml")


def test_only_true_and_false_are_yaml_booleans_and_quoted_words_are_text() -> None:
    data = parse_text("a: true\nb: False\nc: 'off'\nd: \"yes\"\n", source="t.yaml", suffix=".yaml")
    assert data == {"a": True, "b": False, "c": "off", "d": "yes"}


@pytest.mark.parametrize(
    ("update", "expected"),
    [
        ({"az_count": 3.0}, "  - az_count must be a whole number, not 3.0\n"),
        ({"database": {"enable_proxy": 0}}, "  - database.enable_proxy must be true or false, not 0\n"),
    ],
    ids=["az_count-float", "enable_proxy-int"],
)
def test_an_unquoted_wrong_scalar_gets_no_quoting_hint_and_its_full_path(
    update: dict[str, object], expected: str
) -> None:
    data = {**_data(), **update}
    with pytest.raises(ConfigError) as caught:
        parse_environment(data)
    assert str(caught.value).endswith(expected.rstrip("\n"))
    assert "quoted" not in str(caught.value)
