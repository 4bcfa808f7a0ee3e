"""Python Lambda assets bundled without Docker: pip with the Lambda platform, binary wheels only.

`python_asset(source, requirements, runtime)` returns `lambda.Code` whose bundle is the source
package plus `pip install --platform manylinux2014_x86_64 --only-binary=:all: --python-version X.Y
--target ...` of the pinned requirements. The installed dependencies are cached under
`~/.cache/pci-lz/lambda-deps/<sha256 of requirements + runtime + platform>`, so a repeat synth links
them into the bundle (hard links; a copy across file systems) instead of reinstalling or copying.
With the CDK context `aws:cdk:bundling-stacks` set to `[]` (the stack unit tests), CDK skips bundling
and the asset is the source folder as is.

Docker is never used: `try_bundle` either succeeds or raises, so CDK never falls back to its image.
AWS docs: "Working with .zip file archives for Python Lambda functions" (platform-specific wheels).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

PLATFORM = "manylinux2014_x86_64"
CACHE_ROOT = Path(os.environ.get("PCI_LZ_BUNDLE_CACHE", Path.home() / ".cache" / "pci-lz" / "lambda-deps"))
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache")


def _python_version(runtime: lambda_.Runtime) -> str:
    name = runtime.name  # "python3.14"
    if not name.startswith("python3."):
        raise ValueError(f"{name}: not a Python runtime")
    return name.removeprefix("python")


def dependencies_key(requirements: Path, python_version: str) -> str:
    digest = hashlib.sha256(requirements.read_bytes())
    digest.update(f"{python_version}|{PLATFORM}".encode())
    return digest.hexdigest()[:32]


def install_dependencies(requirements: Path, python_version: str) -> Path:
    """The cached site-packages directory for `requirements`, installed on first use."""
    target = CACHE_ROOT / dependencies_key(requirements, python_version)
    if (target / ".complete").exists():
        return target
    staging = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
        "--platform", PLATFORM, "--implementation", "cp", "--python-version", python_version,
        "--only-binary=:all:", "--target", str(staging), "-r", str(requirements),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 -- fixed argv
    if result.returncode != 0:
        raise RuntimeError(f"pip could not bundle {requirements}:\n{result.stderr[-2000:]}")
    (staging / ".complete").write_text(requirements.read_text(encoding="utf-8"), encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def link_or_copy(source: str, target: str) -> None:
    """A hard link to the cached dependency file (no copy of ~77 MB per function on every synth), or a
    copy where the cache and cdk.out are on different file systems. CDK only zips the bundle."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


@jsii.implements(ILocalBundling)
class _PipBundler:
    def __init__(self, package: Path, requirements: Path, python_version: str) -> None:
        self._package = package
        self._requirements = requirements
        self._python_version = python_version

    def try_bundle(self, output_dir: str, options: Any = None) -> bool:
        deps = install_dependencies(self._requirements, self._python_version)
        shutil.copytree(
            deps, output_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".complete"), copy_function=link_or_copy
        )
        shutil.copytree(self._package, Path(output_dir) / self._package.name, dirs_exist_ok=True, ignore=_IGNORED)
        return True


def python_asset(*, package: Path, requirements: Path, runtime: lambda_.Runtime) -> lambda_.Code:
    """Lambda code: the `package` directory (importable by its name) plus the pinned `requirements`.

    The asset hash covers the package's files and the requirements file, so code or pin changes
    (and only those) produce a new asset.
    """
    python_version = _python_version(runtime)
    source_hash = hashlib.sha256()
    for path in sorted(p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        source_hash.update(str(path.relative_to(package)).encode())
        source_hash.update(path.read_bytes())
    source_hash.update(dependencies_key(requirements, python_version).encode())
    return lambda_.Code.from_asset(
        str(package.parent),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=source_hash.hexdigest(),
        exclude=["*", f"!{package.name}", f"!{package.name}/**", "**/__pycache__"],
        bundling=BundlingOptions(
            # Never pulled: the local bundler always succeeds or raises.
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python" + python_version),
            local=_PipBundler(package, requirements, python_version),  # type: ignore[arg-type]
        ),
    )
