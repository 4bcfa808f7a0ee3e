"""The repository's wheel installed in a fresh venv gives a working `pci_constructs` (and `pci_rules`).

The wheel is built once per source state (tests/cache.py) with the declared build backend; its
install resolves the package's declared dependency ranges against this project's pins (requirements.txt)
without the package index. The installed package is then used from outside the repository, so
nothing is imported from the working tree by accident.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

from tests.cache import cache_dir, cache_lock, tree_digest
from tests.conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

_USE_INSTALLED = """
import pathlib, sys
import pci_constructs
from aws_cdk import App, Environment, Stack
from pci_constructs.secure_bucket import SecureBucket
root = pathlib.Path(sys.argv[1])
assert root not in pathlib.Path(pci_constructs.__file__).parents, pci_constructs.__file__
app = App(outdir=sys.argv[2])
stack = Stack(app, "Reuse", env=Environment(account="111111111111", region="us-east-1"))
reason = "S3 server access logging delivers only to SSE-S3"
SecureBucket(stack, "Logs", s3_managed_encryption_reason=reason, is_access_log_target=True)
app.synth()
print("installed at", pathlib.Path(pci_constructs.__file__).parent)
"""


def test_pyproject_declares_the_packages_python_and_runtime_dependencies() -> None:
    project = PYPROJECT["project"]
    assert project["requires-python"] == ">=3.11"
    names = {re.split(r"[<>=!~ ]", d, maxsplit=1)[0] for d in project["dependencies"]}
    assert {"aws-cdk-lib", "constructs", "cdk-nag"} <= names
    include = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    assert "pci_constructs" in include
    assert "pci_rules" not in include, "the rule pack is its own distribution (pci_rules/pyproject.toml)"


def test_makefile_checks_the_same_minimum_python() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    minimum = re.search(r"^MIN_PYTHON := (\S+)$", makefile, re.MULTILINE)
    assert minimum is not None
    assert PYPROJECT["project"]["requires-python"] == f">={minimum[1]}"


def _run(python: Path, args: list[str], cwd: Path, environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # the fresh venv's own interpreter
        [str(python), *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=900, check=False
    )


def _package_sources() -> list[Path]:
    """What the wheel is made of: its build files and the packages it includes."""
    files = [ROOT / "pyproject.toml", ROOT / "README.md", ROOT / "LICENSE"]
    for package in ("pci_constructs", "pci_rules"):
        if (ROOT / package).is_dir():
            files += sorted(f for f in (ROOT / package).rglob("*") if f.is_file() and "__pycache__" not in f.parts)
    return files


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package's wheel, built once (PEP 517, the declared build backend) and kept on disk under the
    hash of what it is made of, so pytest workers and repeat runs reuse it until a source file changes."""
    wheels = cache_dir("wheel", tree_digest(_package_sources()))
    with cache_lock(wheels):
        built = sorted(wheels.glob("*.whl"))
        if built:
            return built[0]
        source = tmp_path_factory.mktemp("source")  # a copy, so the build writes nothing into the repository
        for file in _package_sources():
            (source / file.relative_to(ROOT)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, source / file.relative_to(ROOT))
        pip_wheel = [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps"]
        build = subprocess.run(
            [*pip_wheel, "--wheel-dir", str(wheels), str(source)],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert build.returncode == 0, build.stderr[-3000:]
        return next(wheels.glob("*.whl"))


def test_pip_install_of_the_wheel_works_in_a_fresh_venv(tmp_path: Path, wheel: Path) -> None:
    """A fresh venv (no pip of its own, nothing of the repository) sees the project's pinned dependencies
    (requirements.txt, installed in the test's venv) through a .pth file, so pip resolves the wheel's
    declared ranges against those pins without asking the package index (`--no-index`), and
    `pip check` confirms every declared requirement is met."""
    target = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False, clear=True).create(target)
    python = target / "bin" / "python"
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    site = _run(python, ["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path, environ)
    assert site.returncode == 0, site.stderr
    pinned = [p for p in map(Path, sys.path) if p.name == "site-packages" and (p / "aws_cdk").is_dir()]
    assert pinned, "the test's venv has no aws-cdk-lib"
    (Path(site.stdout.strip()) / "pinned-dependencies.pth").write_text(f"{pinned[0]}\n", encoding="utf-8")
    pip = [sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check"]
    install = subprocess.run(
        [*pip, "install", "--quiet", "--no-index", str(wheel)], capture_output=True, text=True, timeout=900, check=False
    )
    assert install.returncode == 0, install.stderr[-3000:]
    check = subprocess.run([*pip, "check"], capture_output=True, text=True, timeout=300, check=False)
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-3000:]
    use = _run(python, ["-c", _USE_INSTALLED, str(ROOT), str(tmp_path / "cdk.out")], tmp_path, environ)
    assert use.returncode == 0, use.stderr[-3000:]
    assert (tmp_path / "cdk.out" / "Reuse.template.json").exists()
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        assert "License-Expression: Apache-2.0" in archive.read(metadata).decode("utf-8").splitlines()
