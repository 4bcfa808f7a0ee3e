"""`python app.py` as the CDK CLI runs it: bad configuration stops before any template."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from config import ConfigError
from config.defaults import EMBEDDED_ENVIRONMENTS
from tests.conftest import ROOT


def run_app(
    tmp_path: Path,
    env_selector: str | None = None,
    *,
    context: str = "env",
    full_context: dict[str, str] | None = None,
    python_args: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """`python [python_args] app.py` with `-c <context>=<env_selector>` (context `delivery` for a delivery), or
    with `full_context` as the whole CLI context."""
    outdir = tmp_path / "cdk.out"
    environ = {
        **os.environ,
        "CDK_OUTDIR": str(outdir),
        "CDK_CONTEXT_JSON": json.dumps(full_context if full_context is not None else {context: env_selector}),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    return subprocess.run(
        [sys.executable, *python_args, str(ROOT / "app.py")],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def templates_in(tmp_path: Path) -> list[Path]:
    return list((tmp_path / "cdk.out").glob("*.template.json"))


def test_invalid_configuration_file_fails_before_synthesis(tmp_path: Path) -> None:
    data = json.loads(json.dumps(EMBEDDED_ENVIRONMENTS["default"]))
    data["account"] = "1234"
    data["log_retention_days"] = 30
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    result = run_app(tmp_path, str(path))
    assert result.returncode == 2
    assert "account: AWS account ID must be exactly 12 digits" in result.stderr
    assert "log_retention_days" in result.stderr
    assert templates_in(tmp_path) == []


def test_unknown_environment_fails_before_synthesis(tmp_path: Path) -> None:
    result = run_app(tmp_path, "staging-typo")
    assert result.returncode == 2
    assert "unknown environment 'staging-typo' (field: env)" in result.stderr
    assert templates_in(tmp_path) == []


def test_a_bad_configuration_fails_before_aws_cdk_is_imported(tmp_path: Path) -> None:
    """The early check of `python app.py` reads the configuration without aws_cdk or jsii's Node process,
    so the error comes in the time it takes to read the file (issue 23). `-X importtime` lists every import."""
    done = run_app(tmp_path, "nope", context="delivery", python_args=("-X", "importtime"))
    assert done.returncode == 2
    assert "unknown delivery 'nope' (field: delivery)" in done.stderr
    imported = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")]
    assert "config.loader" in imported
    assert not [name for name in imported if name.split(".")[0] in {"aws_cdk", "jsii", "stacks", "compliance"}]
    assert templates_in(tmp_path) == []


def test_a_delivery_with_an_env_is_refused_naming_both(tmp_path: Path) -> None:
    """Fork trial r23f: with `-c delivery=` a `-c env=` was silently ignored (the delivery names its
    environments). The CLI always passes cdk.json's own `env` default: that one alone is not refused."""
    done = run_app(tmp_path, full_context={"env": "envs/acme.yaml", "delivery": "default"})
    assert done.returncode == 2
    assert "error: both delivery ('default') and env ('envs/acme.yaml') are set (fields: delivery, env)" in done.stderr
    assert templates_in(tmp_path) == []


def test_the_pair_is_refused_by_the_app_built_another_way_too() -> None:
    """`build_zones` (what `main` runs on any App) refuses the pair as the early check does; cdk.json's
    own `env` beside a delivery is the CLI's default, not a choice."""
    from app import CDK_JSON, build_zones, check_configuration, selected_delivery

    default_env = json.loads(CDK_JSON.read_text(encoding="utf-8"))["context"]["env"]
    assert selected_delivery({"delivery": "default", "env": default_env}) == "default"
    assert selected_delivery({"env": "envs/acme.yaml"}) is None
    with pytest.raises(ConfigError, match=r"both delivery \('default'\) and env \('prod'\) are set"):
        check_configuration({"delivery": "default", "env": "prod"})
    from aws_cdk import App

    with pytest.raises(ConfigError, match=r"both delivery \('default'\) and env \('prod'\) are set"):
        build_zones(App(context={"delivery": "default", "env": "prod"}))


# Run in a fresh interpreter per shape: aws-cdk-lib's App reads the two variables from the jsii Node
# process's environment, fixed when that process starts.
_COMPARE = """
import json
from app import cli_app, cli_context
app = cli_app()
context = cli_context()
print(json.dumps({key: [context.get(key), app.node.try_get_context(key)] for key in ("env", "delivery")}))
"""


@pytest.mark.parametrize(
    ("from_env", "from_file", "expected"),
    [
        (None, None, {"env": "default", "delivery": None}),  # cdk.json's context alone
        ({"env": "envs/a.yaml"}, None, {"env": "envs/a.yaml", "delivery": None}),
        ("", {"delivery": "d.json"}, {"env": "default", "delivery": "d.json"}),  # an empty variable is unset
        (None, {"env": "envs/b.yaml"}, {"env": "envs/b.yaml", "delivery": None}),
        # Both: merged key by key, the overflow file over the variable, both over cdk.json.
        (
            {"env": "envs/a.yaml", "delivery": "d.json"},
            {"env": "envs/b.yaml"},
            {"env": "envs/b.yaml", "delivery": "d.json"},
        ),
    ],
    ids=["cdk.json", "env-var", "empty-var-and-file", "overflow-file", "both-file-wins"],
)
def test_cli_context_selects_what_aws_cdk_lib_app_holds(
    tmp_path: Path, from_env: dict[str, str] | str | None, from_file: dict[str, str] | None, expected: dict[str, Any]
) -> None:
    """`cli_context` copies aws-cdk-lib App's context merge so the early check reads the configuration the
    App will; a real `aws_cdk.App()` under each input shape must hold the same `env` and `delivery`, so
    a CDK upgrade that changes the merge fails here."""
    environ = {k: v for k, v in os.environ.items() if k not in ("CDK_CONTEXT_JSON", "CONTEXT_OVERFLOW_LOCATION_ENV")}
    environ.pop("CDK_OUTDIR", None)  # no synth at exit
    environ["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "20"
    if from_env is not None:
        environ["CDK_CONTEXT_JSON"] = from_env if isinstance(from_env, str) else json.dumps(from_env)
    if from_file is not None:
        overflow = tmp_path / "context.json"
        overflow.write_text(json.dumps(from_file), encoding="utf-8")
        environ["CONTEXT_OVERFLOW_LOCATION_ENV"] = str(overflow)
    done = subprocess.run(
        [sys.executable, "-c", _COMPARE], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=300, check=True
    )
    selected = json.loads(done.stdout.strip().splitlines()[-1])
    assert {key: ours for key, (ours, _) in selected.items()} == expected
    assert {key: app for key, (_, app) in selected.items()} == expected
