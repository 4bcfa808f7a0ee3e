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
import importlib.util
import json
import os
import shutil
import sys
import time
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
    """The directory of one cached result (created empty when new; touched, so `prune` keeps it)."""
    path = CACHE_ROOT / kind / key
    path.mkdir(parents=True, exist_ok=True)
    os.utime(path)
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


def tree_digest(paths: Iterable[Path], *extra: str, root: Path = ROOT) -> str:
    """A hash of the given files' paths (relative to `root` when under it) and contents (directories
    walked, `__pycache__` skipped, each file once) and of `extra`."""
    digest = hashlib.sha256()
    for text in extra:
        digest.update(text.encode() + b"\0")
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += [f for f in path.rglob("*") if f.is_file() and "__pycache__" not in f.parts]
        elif path.is_file():
            files.append(path)
    for file in sorted(set(files)):
        name = file.relative_to(root) if file.is_relative_to(root) else file
        digest.update(str(name).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:24]


# What a synthesized app is made of (issue #23, reader r23): every `*.py` of the repository (a fork's own
# stack modules, named by cdk.json's `extra_stacks`, live anywhere in it; tests/ included, simpler than
# proving which test helpers the app imports) outside the directories below, every file of the project's
# source trees (their YAML and JSON data, `lambda/**` is bundled code), the files at the root that
# configure the build, every file of the package of each `extra_stacks` module (wherever it is installed),
# the installed CDK/jsii/cdk-nag/pydantic versions and Python's, and today's date (an acknowledgment's
# review_by can lapse overnight, which changes the gate's verdict). `envs/` is not hashed: the cached kinds
# (generated environments, export variants) build from their own configuration, never from an envs file;
# a test that reads one passes it in `sources`. A comment-only change still builds afresh: the key is taken
# before the synth, so it cannot be the templates' bytes.
SKIPPED_DIRECTORIES = (".git", ".test-cache", "node_modules", "__pycache__")
SKIPPED_PREFIXES = (".venv", "cdk.out")  # .venv, .venv-scan, cdk.out, cdk.out.<anything>
SOURCE_TREES = ("config", "stacks", "pci_constructs", "compliance", "pci_rules", "evidence", "lambda")
ROOT_FILES = ("cdk.json", "package-lock.json")  # + requirements*.txt
_SYNTH_DISTRIBUTIONS = ("aws-cdk-lib", "constructs", "cdk-nag", "jsii", "pydantic", "PyYAML")
# Entries not used for this many days are removed when the cache is first opened in a session (issue #23:
# the date in the key makes a new set daily).
PRUNE_AFTER_DAYS = int(os.environ.get("LZ_TEST_CACHE_DAYS", "3"))


def _skipped(name: str) -> bool:
    return name in SKIPPED_DIRECTORIES or name.startswith(SKIPPED_PREFIXES)


def python_files(root: Path) -> list[Path]:
    """Every `*.py` under `root`, not descending into `SKIPPED_DIRECTORIES` or `SKIPPED_PREFIXES` (nor
    into a symlinked directory: `.venv` and `node_modules` are links to shared installs)."""
    found: list[Path] = []
    for directory, directories, files in os.walk(root):
        directories[:] = sorted(d for d in directories if not _skipped(d))
        found += [Path(directory) / f for f in files if f.endswith(".py")]
    return found


def extra_stacks_files(context: dict[str, Any]) -> list[Path]:
    """The files of each module `extra_stacks` names ("module:function", or a list): every file of its
    top-level package's directory, or the module's own file; found with `importlib.util.find_spec`
    (which imports parent packages, not the module). A name that does not resolve adds nothing (the
    synth itself then raises ConfigError naming it)."""
    value = context.get("extra_stacks")
    names = [value] if isinstance(value, str) else list(value or [])
    files: list[Path] = []
    for name in names:
        top = str(name).partition(":")[0].split(".")[0]
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            continue
        if spec is None:
            continue
        if spec.submodule_search_locations:
            files += [Path(p) for p in spec.submodule_search_locations]
        elif spec.origin:
            files.append(Path(spec.origin))
    return files


def source_files(root: Path) -> list[Path]:
    """Every file the synth-result key hashes under `root` (see above), cdk.json's `extra_stacks` included."""
    context = json.loads((root / "cdk.json").read_text(encoding="utf-8")).get("context", {})
    return [
        *python_files(root),
        *(root / tree for tree in SOURCE_TREES),
        *(root / name for name in ROOT_FILES),
        *sorted(root.glob("requirements*.txt")),
        *extra_stacks_files(context),
    ]


def source_digest(root: Path = ROOT) -> str:
    """A hash of everything a synth's output depends on besides its configuration (`source_files`)."""
    return _source_digest(root.resolve())


@functools.cache
def _source_digest(root: Path) -> str:
    versions = [f"python {sys.version}"]
    for name in _SYNTH_DISTRIBUTIONS:
        try:
            versions.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name} absent")
    return tree_digest(source_files(root), *versions, date.today().isoformat(), root=root)


def prune(root: Path, *, days: int = PRUNE_AFTER_DAYS, now: float | None = None) -> list[Path]:
    """Remove the entries (`<root>/<kind>/<key>` directories, `<root>/<kind>/<key>.json` files) not
    modified or used for `days` days (the newest of mtime and atime; `cache_dir` and a scanner's hit
    touch what they use), skipping a directory entry whose lock another process holds. Returns what was
    removed."""
    cutoff = (time.time() if now is None else now) - days * 86400
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for kind in root.iterdir():
        if not kind.is_dir():
            continue
        for entry in sorted(kind.iterdir()):
            if entry.name.endswith(".lock"):
                continue  # removed with its entry
            try:
                stat = entry.stat()
            except FileNotFoundError:  # removed meanwhile by another process's prune
                continue
            if max(stat.st_mtime, stat.st_atime) >= cutoff:
                continue
            if entry.is_dir():
                lock = entry.with_name(f"{entry.name}.lock")
                with lock.open("a") as handle:
                    try:  # an entry another process holds (building or reading it) is left alone
                        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        continue
                    shutil.rmtree(entry, ignore_errors=True)
                    lock.unlink(missing_ok=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


@functools.cache
def _pruned_once() -> None:
    prune(CACHE_ROOT)


def cached_synth_result(kind: str, configuration: str, build: Callable[[], Any], *sources: Path) -> Any:
    """What `build()` derives from one synthesized configuration (a JSON value), built once per source
    state and configuration and then read from `.test-cache/<kind>/<key>/result.json` by every worker and
    repeat run. `configuration`: the configuration's full text (its hash is part of the key); `sources`:
    the test module(s) whose code decides what is derived. Any change to them or to `source_digest()`
    builds afresh."""
    _pruned_once()
    entry = cache_dir(kind, tree_digest(sources, source_digest(), configuration))
    result = entry / "result.json"
    with cache_lock(entry):
        try:
            value = json.loads(result.read_text(encoding="utf-8"))
            os.utime(entry)  # used now: kept by prune()
            return value
        except (OSError, ValueError):
            pass
        value = build()
        temporary = entry / f"result.{os.getpid()}.tmp"
        temporary.write_text(json.dumps(value), encoding="utf-8")
        temporary.replace(result)
        return value
