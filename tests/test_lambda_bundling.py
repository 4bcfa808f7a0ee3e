"""Docker-free Lambda bundling: the dependency cache is keyed by the requirements and the runtime."""

from __future__ import annotations

import os
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


def test_a_bundle_links_the_cached_dependencies_and_copies_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("nh3==0.3.7\n")
    monkeypatch.setattr(lambda_bundling, "CACHE_ROOT", tmp_path / "cache")
    cached = tmp_path / "cache" / lambda_bundling.dependencies_key(requirements, "3.14")
    (cached / "nh3").mkdir(parents=True)
    (cached / "nh3" / "__init__.py").write_text("VERSION = '0.3.7'\n")
    (cached / ".complete").write_text("")
    package = tmp_path / "src" / "card_vault"
    package.mkdir(parents=True)
    (package / "api.py").write_text("HANDLER = 1\n")
    out = tmp_path / "bundle"
    out.mkdir()
    assert lambda_bundling._PipBundler(package, requirements, "3.14").try_bundle(str(out))
    bundled = out / "nh3" / "__init__.py"
    assert bundled.read_text() == "VERSION = '0.3.7'\n"
    assert bundled.stat().st_ino == (cached / "nh3" / "__init__.py").stat().st_ino  # same file system: linked
    assert not (out / ".complete").exists()
    assert (out / "card_vault" / "api.py").read_text() == "HANDLER = 1\n"
    assert (out / "card_vault" / "api.py").stat().st_ino != (package / "api.py").stat().st_ino  # code copied


def test_link_or_copy_copies_where_a_link_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "a.txt"
    source.write_text("x")

    def refuse(*_: object) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", refuse)
    lambda_bundling.link_or_copy(str(source), str(tmp_path / "b.txt"))
    assert (tmp_path / "b.txt").read_text() == "x"
    assert (tmp_path / "b.txt").stat().st_ino != source.stat().st_ino
