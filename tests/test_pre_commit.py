"""The pre-commit configuration parses, runs offline from the venv, and the codebase passes it."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

CONFIG = ROOT / ".pre-commit-config.yaml"
BIN = ROOT / ".venv" / "bin"
REQUIRED_HOOKS = {"ruff-check", "ruff-format", "mypy", "detect-private-key", "detect-aws-credentials"}


def _hooks() -> dict[str, dict[str, object]]:
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    return {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}


def _run(*cmd: str, cwd: Path = ROOT, home: Path | None = None, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    # Without the AWS_* variables: detect-aws-credentials reports any value they hold that appears in a file,
    # and other tests in this process (moto, benchmarks/vault_env.py) set fake ones such as "local".
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") or k == "AWS_CA_BUNDLE"}
    env = {**inherited, **({"PRE_COMMIT_HOME": str(home)} if home else {})}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def test_config_is_valid() -> None:
    done = _run(str(BIN / "pre-commit"), "validate-config", str(CONFIG))
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_hook_is_local_and_runs_from_the_venv() -> None:
    """Nothing is fetched at first use: hook versions are the pins of requirements-dev.txt."""
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    hooks = _hooks()
    assert set(hooks) >= REQUIRED_HOOKS
    for hook_id, hook in hooks.items():
        assert hook["language"] == "system", hook_id
        executable = str(hook["entry"]).split()[0]
        assert executable.startswith(".venv/bin/"), hook_id
        assert (ROOT / executable).exists(), f"{executable} missing: is it pinned in requirements-dev.txt?"


def test_ruff_and_mypy_hooks_are_the_make_lint_commands() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    lint = re.search(r"^lint:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert lint is not None
    commands = {line.strip().replace("$(BIN)/", ".venv/bin/") for line in lint[1].splitlines()}
    hooks = _hooks()
    assert str(hooks["ruff-check"]["entry"]).removesuffix(" --force-exclude") + " ." in commands
    assert str(hooks["ruff-format"]["entry"]).removesuffix(" --force-exclude") + " --check ." in commands
    assert str(hooks["mypy"]["entry"]) in commands


def test_detect_private_key_catches_a_key(tmp_path: Path) -> None:
    leaked = tmp_path / "id_rsa.txt"
    leaked.write_text("-----BEGIN " + "RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n", encoding="utf-8")
    assert _run(str(BIN / "detect-private-key"), str(leaked)).returncode == 1


def test_the_codebase_passes_every_hook(tmp_path: Path) -> None:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: pre-commit runs on tracked files")
    # mypy is nearly all of this run, and only when its cache is cold: it uses mypy's default cache
    # (.mypy_cache in the repository), the one `make lint` fills with the identical command (`.venv/bin/mypy`,
    # options from pyproject.toml) just before `make test` runs pytest, so there it re-checks only what
    # changed (about 2 s). A cold run (a fresh clone, `make clean`, pytest without lint) took 207 s wall
    # (85 s CPU) at load 9 on two cores: the timeout leaves room for it rather than failing the hooks.
    done = _run(str(BIN / "pre-commit"), "run", "--all-files", "--show-diff-on-failure", home=tmp_path, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    for hook in REQUIRED_HOOKS:
        assert re.search(rf"{re.escape(str(_hooks()[hook]['name']))}\.+Passed", done.stdout), done.stdout
