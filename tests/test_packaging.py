"""`pip install` of the repository in a fresh venv gives a working `pci_constructs` (and `pci_rules`).

The install resolves the package's declared dependency ranges, constrained to this project's pins
(requirements.txt) so it reuses what pip already downloaded for .venv; it needs the package index
(PyPI) like every other install here. The installed package is then used from outside the
repository, so nothing is imported from the working tree by accident.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
import venv
from pathlib import Path

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
    assert {"pci_constructs", "pci_rules"} <= set(include)


def test_makefile_checks_the_same_minimum_python() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    minimum = re.search(r"^MIN_PYTHON := (\S+)$", makefile, re.MULTILINE)
    assert minimum is not None
    assert PYPROJECT["project"]["requires-python"] == f">={minimum[1]}"


def _run(python: Path, args: list[str], cwd: Path, environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # the fresh venv's own interpreter
        [str(python), *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=900, check=False
    )


def test_pip_install_of_the_repository_works_in_a_fresh_venv(tmp_path: Path) -> None:
    target = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(target)
    python = target / "bin" / "python"
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # Install from a copy of what the package is made of, so the build writes nothing into the repository.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for package in ("pci_constructs", "pci_rules"):
        if (ROOT / package).is_dir():
            shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    pip = ["-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    install = _run(python, [*pip, "--constraint", str(ROOT / "requirements.txt"), str(source)], tmp_path, environ)
    assert install.returncode == 0, install.stderr[-3000:]
    use = _run(python, ["-c", _USE_INSTALLED, str(ROOT), str(tmp_path / "cdk.out")], tmp_path, environ)
    assert use.returncode == 0, use.stderr[-3000:]
    assert (tmp_path / "cdk.out" / "Reuse.template.json").exists()
