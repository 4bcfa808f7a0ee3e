"""Python Lambda assets bundled without Docker: pip with the Lambda platform, binary wheels only.

`python_asset(source, requirements, runtime)` returns `lambda.Code` whose bundle is the source
package plus `pip install --platform manylinux2014_x86_64 --only-binary=:all: --python-version X.Y
--target ...` of the pinned requirements. The installed dependencies are cached under
`~/.cache/pci-lz/lambda-deps/<sha256 of requirements + runtime + platform>`, so a repeat synth links
them into the bundle (hard links; a copy across file systems) instead of reinstalling or copying.
With the CDK context `aws:cdk:bundling-stacks` set to `[]` (the stack unit tests), CDK skips bundling
and the asset is the source folder as is.

Only what the function uses: its own requirements file (the distributions its handler's modules
import), and of botocore's ~450 service models only those named in `aws-services.txt` beside the
requirements (the clients the code creates); botocore is over 30 MB, nearly all of it models. boto3
itself stays bundled (the Lambda Developer Guide recommends bundling the SDK rather than relying on the
runtime's, which changes under the function).

Docker is never used: `try_bundle` either succeeds or raises, so CDK never falls back to its image.
AWS docs: "Working with .zip file archives for Python Lambda functions" (platform-specific wheels).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, CfnResource, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

PLATFORM = "manylinux2014_x86_64"
CACHE_ROOT = Path(os.environ.get("PCI_LZ_BUNDLE_CACHE", Path.home() / ".cache" / "pci-lz" / "lambda-deps"))
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache")
SERVICES_FILE = "aws-services.txt"
# Pins for what the requirements pull in (transitive distributions), beside the requirements file or
# one folder up (lambda/constraints.txt serves every function); covered by the asset hash.
CONSTRAINTS_FILE = "constraints.txt"
# Bumped whenever what a bundle holds for the same inputs changes (the asset hash covers it).
BUNDLE_LAYOUT = "2:botocore-models-pruned"
_BOTOCORE_DATA = Path("botocore") / "data"
# Template metadata on a function bundled by `python_asset`: its requirements file, relative to the
# project root (`lambda/<name>/requirements.txt`), the file `make audit` builds the function's SBOM from
# (ci_tools/supply_chain.py names it). The evidence's software work paper reads it from the template.
SBOM_SOURCE_METADATA = "pci-lz:sbom-source"


def _python_version(runtime: lambda_.Runtime) -> str:
    name = runtime.name  # "python3.14"
    if not name.startswith("python3."):
        raise ValueError(f"{name}: not a Python runtime")
    return name.removeprefix("python")


def constraints(requirements: Path) -> Path | None:
    """The constraints file for `requirements`: `constraints.txt` in its folder, else in the folder above."""
    for folder in (requirements.parent, requirements.parent.parent):
        if (folder / CONSTRAINTS_FILE).is_file():
            return folder / CONSTRAINTS_FILE
    return None


def dependencies_key(requirements: Path, python_version: str) -> str:
    digest = hashlib.sha256(requirements.read_bytes())
    pins = constraints(requirements)
    if pins is not None:
        digest.update(b"|constraints|" + pins.read_bytes())
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
    pins = constraints(requirements)
    if pins is not None:
        command += ["-c", str(pins)]
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


def aws_services(requirements: Path) -> tuple[str, ...] | None:
    """The service models to keep (`aws-services.txt` beside `requirements`), or None to keep all."""
    listing = requirements.parent / SERVICES_FILE
    if not listing.exists():
        return None
    names = [line.split("#")[0].strip() for line in listing.read_text(encoding="utf-8").splitlines()]
    services = tuple(sorted(n for n in names if n))
    bad = [n for n in services if not n.replace("-", "").isalnum()]
    if bad or not services:
        raise ValueError(f"{listing}: one botocore service name per line (e.g. kms), got {bad or 'none'}")
    return services


def _ignore_for(deps: Path, services: tuple[str, ...] | None) -> Callable[[str, list[str]], set[str]]:
    """copytree's ignore: the cache marker, and botocore's service models not in `services`."""
    data = deps / _BOTOCORE_DATA

    def ignore(directory: str, names: list[str]) -> set[str]:
        ignored = {".complete"} if Path(directory) == deps else set()
        if services is not None and Path(directory) == data:
            ignored |= {n for n in names if (data / n).is_dir() and n not in services}
        return ignored

    return ignore


def bundle_size(directory: Path) -> int:
    """Bytes of every file under `directory` (what Lambda counts against its 250 MB unzipped limit)."""
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def build_bundle(package: Path, requirements: Path, python_version: str, output_dir: Path) -> None:
    """The function's bundle in `output_dir`: its cached dependencies (only the kept service models)
    linked in, its package copied."""
    deps = install_dependencies(requirements, python_version)
    services = aws_services(requirements)
    if services is not None:
        missing = [s for s in services if not (deps / _BOTOCORE_DATA / s).is_dir()]
        if missing:
            raise ValueError(f"{requirements.parent / SERVICES_FILE}: botocore has no model for {missing}")
    ignore = _ignore_for(deps, services)
    shutil.copytree(deps, output_dir, dirs_exist_ok=True, ignore=ignore, copy_function=link_or_copy)
    shutil.copytree(package, output_dir / package.name, dirs_exist_ok=True, ignore=_IGNORED)


@jsii.implements(ILocalBundling)
class _PipBundler:
    def __init__(self, package: Path, requirements: Path, python_version: str) -> None:
        self._package = package
        self._requirements = requirements
        self._python_version = python_version

    def try_bundle(self, output_dir: str, options: Any = None) -> bool:
        build_bundle(self._package, self._requirements, self._python_version, Path(output_dir))
        return True


def python_asset(*, package: Path, requirements: Path, runtime: lambda_.Runtime) -> lambda_.Code:
    """Lambda code: the `package` directory (importable by its name) plus the pinned `requirements`.

    The asset hash covers the package's files, the requirements file, the kept service models and
    the bundle layout, so code, pin or model-list changes (and only those) produce a new asset.
    """
    python_version = _python_version(runtime)
    source_hash = hashlib.sha256()
    for path in sorted(p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        source_hash.update(str(path.relative_to(package)).encode())
        source_hash.update(path.read_bytes())
    source_hash.update(dependencies_key(requirements, python_version).encode())
    source_hash.update(f"|{BUNDLE_LAYOUT}|{','.join(aws_services(requirements) or ('*',))}".encode())
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


def record_sbom_source(function: lambda_.Function, requirements: Path) -> None:
    """Write `requirements` (as `lambda/<name>/requirements.txt`) into the function's template metadata
    (`SBOM_SOURCE_METADATA`), so the evidence links the function to its SBOM from the template alone."""
    resource = function.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{function.node.path}: no CloudFormation function to record the SBOM source on")
    relative = Path(*requirements.resolve().parts[-3:])
    resource.add_metadata(SBOM_SOURCE_METADATA, relative.as_posix())
