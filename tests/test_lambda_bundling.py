"""Docker-free Lambda bundling: the dependency cache is keyed by the requirements and the runtime."""

from __future__ import annotations

import ast
import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import App, Stack
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


# --- Only what each function uses ------------------------------------------------------------------

HANDLER_MODULES = {
    "api": "card_vault.api",
    "detokenize": "card_vault.detokenize",
    "purge": "card_vault.purge",
    "migrate": "card_vault.migrate",
    "crl_check": "card_vault.crl_check",
    # The managed conformance pack's deploy-time function (pci_constructs/detective_controls.py).
    "managed_pack": "managed_pack.handler",
}
# Packages under lambda/ that functions import (not distributions).
LOCAL_PACKAGES = {"card_vault", "managed_pack"}
# Distributions a module needs without importing them by name: psycopg's C implementation (libpq
# included; Lambda's image has no libpq).
IMPLIED = {"psycopg": {"psycopg-binary"}}


class _Imports(ast.NodeVisitor):
    """Every module a file imports, at any depth (function-level imports too), except `if TYPE_CHECKING:`."""

    def __init__(self) -> None:
        self.modules: set[str] = set()
        self.clients: list[ast.Call] = []

    def visit_If(self, node: ast.If) -> None:
        if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.modules |= {alias.name for alias in node.names}

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module and node.level == 0:
            self.modules.add(node.module)
            self.modules |= {f"{node.module}.{alias.name}" for alias in node.names}

    def visit_Call(self, node: ast.Call) -> None:
        # boto3.client(...) / <...session>.client(...): an AWS SDK client (not, e.g., settings.client(subject)).
        if isinstance(node.func, ast.Attribute) and node.func.attr == "client":
            receiver = ast.unparse(node.func.value)
            if receiver == "boto3" or receiver.lower().endswith("session"):
                self.clients.append(node)
        self.generic_visit(node)


def _reachable(module: str) -> tuple[set[str], set[str]]:
    """(third-party top-level modules, AWS service names of `.client(...)` calls) of everything `module`
    reaches inside the local packages (`LOCAL_PACKAGES`)."""
    seen: set[str] = set()
    third_party: set[str] = set()
    services: set[str] = set()
    pending = [module]
    while pending:
        name = pending.pop()
        path = LAMBDA_ROOT / (name.replace(".", "/") + ".py")
        if name in seen or not path.exists():
            continue
        seen.add(name)
        visitor = _Imports()
        visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
        for imported in visitor.modules:
            top = imported.split(".")[0]
            if top in LOCAL_PACKAGES:
                pending.append(imported)
            elif top not in sys.stdlib_module_names and top != "__future__":
                third_party.add(top)
        for call in visitor.clients:
            argument = call.args[0] if call.args else None
            where = f"{path.name}:{call.lineno}: a client's service must be a literal, so the bundle keeps its model"
            assert isinstance(argument, ast.Constant), where
            assert isinstance(argument.value, str), where
            services.add(argument.value)
    return third_party, services


def _distribution(module: str) -> str:
    names = importlib.metadata.packages_distributions().get(module)
    assert names, f"{module}: no installed distribution provides it (make deps installs the functions' pins)"
    return names[0].lower().replace("_", "-")


def _requirement_names(requirements: Path) -> set[str]:
    lines = [line.split("#")[0].strip() for line in requirements.read_text().splitlines()]
    return {line.split("==")[0].lower().replace("_", "-") for line in lines if line}


def test_the_functions_are_the_requirement_folders() -> None:
    assert {p.parent.name for p in LAMBDA_ROOT.glob("*/requirements.txt")} == set(HANDLER_MODULES)


@pytest.mark.parametrize("function", sorted(HANDLER_MODULES))
def test_each_function_bundles_exactly_the_distributions_its_code_imports(function: str) -> None:
    modules, _ = _reachable(HANDLER_MODULES[function])
    needed = {_distribution(m) for m in modules}
    needed |= {implied for m in modules for implied in IMPLIED.get(m, set())}
    assert _requirement_names(LAMBDA_ROOT / function / "requirements.txt") == needed


@pytest.mark.parametrize("function", sorted(HANDLER_MODULES))
def test_each_function_keeps_the_service_models_of_the_clients_its_code_creates(function: str) -> None:
    _, services = _reachable(HANDLER_MODULES[function])
    assert lambda_bundling.aws_services(LAMBDA_ROOT / function / "requirements.txt") == tuple(sorted(services))


def _fake_cache(tmp_path: Path, requirements: Path, services: list[str]) -> Path:
    cached = tmp_path / "cache" / lambda_bundling.dependencies_key(requirements, "3.14")
    for service in services:
        (cached / "botocore" / "data" / service / "2014-11-01").mkdir(parents=True)
        (cached / "botocore" / "data" / service / "2014-11-01" / "service-2.json.gz").write_bytes(b"model")
    (cached / "botocore" / "data" / "endpoints.json").write_text("{}")
    (cached / "botocore" / "__init__.py").write_text("")
    (cached / ".complete").write_text("")
    return cached


def test_a_bundle_keeps_only_the_listed_service_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    requirements = tmp_path / "fn" / "requirements.txt"
    requirements.parent.mkdir()
    requirements.write_text("boto3==1.44.5\n")
    (requirements.parent / "aws-services.txt").write_text("# comment\nkms\nsecretsmanager  # the HMAC key\n")
    monkeypatch.setattr(lambda_bundling, "CACHE_ROOT", tmp_path / "cache")
    _fake_cache(tmp_path, requirements, ["kms", "s3", "secretsmanager", "ec2"])
    package = tmp_path / "src" / "card_vault"
    package.mkdir(parents=True)
    (package / "api.py").write_text("")
    out = tmp_path / "bundle"
    lambda_bundling.build_bundle(package, requirements, "3.14", out)
    data = out / "botocore" / "data"
    assert sorted(p.name for p in data.iterdir()) == ["endpoints.json", "kms", "secretsmanager"]
    assert (data / "kms" / "2014-11-01" / "service-2.json.gz").read_bytes() == b"model"
    assert lambda_bundling.bundle_size(out) == len(b"model") * 2 + len("{}")

    (requirements.parent / "aws-services.txt").write_text("kms\nsqs\n")
    with pytest.raises(ValueError, match=r"botocore has no model for \['sqs'\]"):
        lambda_bundling.build_bundle(package, requirements, "3.14", tmp_path / "bundle2")
    (requirements.parent / "aws-services.txt").write_text("kms; rm -rf\n")
    with pytest.raises(ValueError, match="one botocore service name per line"):
        lambda_bundling.aws_services(requirements)


def test_the_asset_hash_is_deterministic_and_follows_the_kept_models(tmp_path: Path) -> None:
    package = tmp_path / "src" / "card_vault"
    package.mkdir(parents=True)
    (package / "api.py").write_text("HANDLER = 1\n")
    requirements = tmp_path / "fn" / "requirements.txt"
    requirements.parent.mkdir()
    requirements.write_text("boto3==1.44.5\n")
    services = requirements.parent / "aws-services.txt"
    services.write_text("kms\n")

    def asset_hash() -> str:
        code = lambda_bundling.python_asset(package=package, requirements=requirements, runtime=RUNTIME)
        stack = Stack(App(context={"aws:cdk:bundling-stacks": []}), "S")
        config = code.bind(stack)
        assert config.s3_location is not None
        return config.s3_location.object_key

    first = asset_hash()
    assert asset_hash() == first
    services.write_text("kms\nrds\n")
    assert asset_hash() != first
    services.write_text("kms\n")
    assert asset_hash() == first


def test_a_pruned_botocore_creates_every_client_the_function_needs_and_no_other(tmp_path: Path) -> None:
    """The real botocore (the dev venv holds the functions' pins) with only the api function's models,
    first on the path: its clients are created and sign an RDS IAM token offline; any other service is unknown."""
    import botocore

    source = Path(botocore.__file__).parent
    services = lambda_bundling.aws_services(LAMBDA_ROOT / "api" / "requirements.txt")
    assert services is not None
    target = tmp_path / "site" / "botocore"

    def ignore(directory: str, names: list[str]) -> set[str]:
        if Path(directory) == source / "data":
            return {n for n in names if (source / "data" / n).is_dir() and n not in services}
        return {"__pycache__"}

    shutil.copytree(source, target, ignore=ignore, copy_function=lambda_bundling.link_or_copy)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import botocore.session, botocore.exceptions\n"
        "assert botocore.__file__.startswith(sys.argv[1]), botocore.__file__\n"
        "session = botocore.session.get_session()\n"
        "clients = {s: session.create_client(s, region_name='eu-west-1') for s in sys.argv[2:]}\n"
        "clients['rds'].generate_db_auth_token(DBHostname='db.example', Port=5432, DBUsername='u')\n"
        "try:\n    session.create_client('s3', region_name='eu-west-1')\n"
        "except botocore.exceptions.UnknownServiceError:\n    print('pruned')\n"
    )
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_CONFIG_FILE": "/dev/null"}
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "site"), *services], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "pruned"


def test_the_key_maintenance_function_fits_the_detokenize_bundle() -> None:
    """The Keys function (card_vault.keys) ships in the detokenize bundle: it may need nothing that bundle lacks."""
    modules, services = _reachable("card_vault.keys")
    needed = {_distribution(m) for m in modules} | {i for m in modules for i in IMPLIED.get(m, set())}
    assert needed <= _requirement_names(LAMBDA_ROOT / "detokenize" / "requirements.txt")
    kept = lambda_bundling.aws_services(LAMBDA_ROOT / "detokenize" / "requirements.txt")
    assert kept is not None
    assert set(services) <= set(kept)


def _pins(path: Path) -> dict[str, str]:
    lines = [line.split("#")[0].strip() for line in path.read_text(encoding="utf-8").splitlines()]
    pairs = (line.split("==", 1) for line in lines if line)
    return {_normalized(name): version for name, version in pairs}


def _normalized(name: str) -> str:
    return "-".join(part for part in name.lower().replace("_", "-").replace(".", "-").split("-") if part)


def test_a_constraints_file_changes_the_cache_key(tmp_path: Path) -> None:
    requirements = tmp_path / "fn" / "requirements.txt"
    requirements.parent.mkdir()
    requirements.write_text("nh3==0.3.7\n")
    unconstrained = lambda_bundling.dependencies_key(requirements, "3.14")
    (tmp_path / lambda_bundling.CONSTRAINTS_FILE).write_text("nh3==0.3.7\n")
    assert lambda_bundling.constraints(requirements) == tmp_path / lambda_bundling.CONSTRAINTS_FILE
    assert lambda_bundling.dependencies_key(requirements, "3.14") != unconstrained


def test_every_distribution_in_every_bundle_is_pinned_and_every_pin_is_used() -> None:
    """What pip resolved for each function (the cached bundle synth uses; pip runs only if it is missing)
    is exactly what lambda/constraints.txt pins: nothing in a bundle floats with the registry."""
    pin_file = LAMBDA_ROOT / lambda_bundling.CONSTRAINTS_FILE
    pins = _pins(pin_file)
    python_version = RUNTIME.name.removeprefix("python")
    bundled: dict[str, set[str]] = {}
    for function in sorted(HANDLER_MODULES):
        requirements = LAMBDA_ROOT / function / "requirements.txt"
        assert lambda_bundling.constraints(requirements) == pin_file
        site = lambda_bundling.install_dependencies(requirements, python_version)
        for info in site.glob("*.dist-info"):
            metadata = importlib.metadata.Distribution.at(info).metadata
            bundled.setdefault(_normalized(metadata["Name"]), set()).add(metadata["Version"])
    unpinned = {name: versions for name, versions in bundled.items() if versions != {pins.get(name)}}
    assert not unpinned, f"bundled but not pinned (or at another version) in {pin_file}: {unpinned}"
    assert set(pins) == set(bundled), f"pinned but in no bundle: {sorted(set(pins) - set(bundled))}"
