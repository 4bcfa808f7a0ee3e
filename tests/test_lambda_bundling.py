"""Docker-free Lambda bundling: the dependency cache is keyed by the requirements and the runtime."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from aws_cdk import aws_lambda as lambda_

from pci_constructs import lambda_bundling
from pci_constructs.card_vault import LAMBDA_ROOT, RUNTIME


def test_cache_key_follows_requirements_and_python(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("nh3==0.3.7\n")
    key = lambda_bundling.dependencies_key(requirements, "3.14")
    assert key == lambda_bundling.dependencies_key(requirements, "3.14")
    assert key != lambda_bundling.dependencies_key(requirements, "3.13")
    requirements.write_text("nh3==0.3.6\n")
    assert key != lambda_bundling.dependencies_key(requirements, "3.14")


def test_a_cached_install_is_reused_without_pip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("nh3==0.3.7\n")
    monkeypatch.setattr(lambda_bundling, "CACHE_ROOT", tmp_path / "cache")
    cached = tmp_path / "cache" / lambda_bundling.dependencies_key(requirements, "3.14")
    cached.mkdir(parents=True)
    (cached / ".complete").write_text("")

    def no_pip(*_: object, **__: object) -> None:
        raise AssertionError("pip must not run for a cached requirements hash")

    monkeypatch.setattr(subprocess, "run", no_pip)
    assert lambda_bundling.install_dependencies(requirements, "3.14") == cached


def test_every_function_pins_its_requirements() -> None:
    for function in ("api", "detokenize", "purge", "migrate"):
        lines = [
            line
            for line in (LAMBDA_ROOT / function / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")
        ]
        assert lines, function
        assert all("==" in line for line in lines), function


def test_runtime_is_python_3_12_or_later() -> None:
    major, minor = (int(p) for p in RUNTIME.name.removeprefix("python").split("."))
    assert (major, minor) >= (3, 12)
    with pytest.raises(ValueError, match="not a Python runtime"):
        lambda_bundling._python_version(lambda_.Runtime.NODEJS_22_X)
