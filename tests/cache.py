"""An on-disk cache for what tests build (wheels, synthesized apps), shared by pytest-xdist's workers and
by repeat runs: one directory per kind and content key under `LZ_TEST_CACHE` (default `.test-cache/`
in the repository, ignored by git). A key is a hash of everything the result depends on, so a changed
source file or configuration builds afresh, never reuses a stale result. `cache_lock` makes the first
worker build while the others wait and then read what it wrote.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import importlib.metadata
import json
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CACHE_ROOT = Path(os.environ.get("LZ_TEST_CACHE", ROOT / ".test-cache"))
# cfn-lint's matches per template, keyed by cfn-lint's identity, region, file name and content
# (ci_tools.scanners.ScanBatch(lint_cache=...)): a template no change touched is not linted again.
LINT_CACHE = CACHE_ROOT / "cfn-lint"
# checkov's result per template, keyed by checkov's identity and version, its arguments and .checkov.yaml,
# the file name and content (the per-resource skips are in the template's metadata, so in its bytes).
CHECKOV_CACHE = CACHE_ROOT / "checkov"


def cache_dir(kind: str, key: str) -> Path:
    """The directory of one cached result (created empty when new)."""
    path = CACHE_ROOT / kind / key
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def cache_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on one cache entry, across processes."""
    with (path.parent / f"{path.name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def tree_digest(paths: Iterable[Path], *extra: str) -> str:
    """A hash of the given files' paths and contents (directories walked, caches skipped) and of `extra`."""
    digest = hashlib.sha256()
    for text in extra:
        digest.update(text.encode() + b"\0")
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += [f for f in path.rglob("*") if f.is_file() and "__pycache__" not in f.parts]
        elif path.is_file():
            files.append(path)
    for file in sorted(files):
        digest.update(str(file.relative_to(ROOT)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:24]


# What a synthesized app is made of (issue #23): every source tree the app imports, its configuration
# files and the test helpers that build it, the installed CDK/jsii/cdk-nag/pydantic versions, and today's
# date (an acknowledgment's review_by can lapse overnight, which changes the gate's verdict).
SYNTH_SOURCES = (
    "app.py",
    "cdk.json",
    "requirements.txt",
    "config",
    "stacks",
    "pci_constructs",
    "compliance",
    "pci_rules",
    "evidence",
    "lambda",
    "envs",
    "tests/conftest.py",
    "tests/cache.py",
    "tests/template_scan.py",
)
_SYNTH_DISTRIBUTIONS = ("aws-cdk-lib", "constructs", "cdk-nag", "jsii", "pydantic", "PyYAML")


@functools.cache
def source_digest() -> str:
    """A hash of everything a synth's output depends on besides its configuration (`SYNTH_SOURCES`)."""
    versions = []
    for name in _SYNTH_DISTRIBUTIONS:
        try:
            versions.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name} absent")
    return tree_digest((ROOT / source for source in SYNTH_SOURCES), *versions, date.today().isoformat())


def cached_synth_result(kind: str, configuration: str, build: Callable[[], Any], *sources: Path) -> Any:
    """What `build()` derives from one synthesized configuration (a JSON value), built once per source
    state and configuration and then read from `.test-cache/<kind>/<key>/result.json` by every worker and
    repeat run. `configuration`: the configuration's full text (its hash is part of the key); `sources`:
    the test module(s) whose code decides what is derived. Any change to them or to `source_digest()`
    builds afresh."""
    entry = cache_dir(kind, tree_digest(sources, source_digest(), configuration))
    result = entry / "result.json"
    with cache_lock(entry):
        try:
            return json.loads(result.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass
        value = build()
        temporary = entry / f"result.{os.getpid()}.tmp"
        temporary.write_text(json.dumps(value), encoding="utf-8")
        temporary.replace(result)
        return value
