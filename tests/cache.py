"""An on-disk cache for what tests build (wheels, synthesized apps), shared by pytest-xdist's workers and
by repeat runs: one directory per kind and content key under `LZ_TEST_CACHE` (default `.test-cache/`
in the repository, ignored by git). A key is a hash of everything the result depends on, so a changed
source file or configuration builds afresh, never reuses a stale result. `cache_lock` makes the first
worker build while the others wait and then read what it wrote.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE_ROOT = Path(os.environ.get("LZ_TEST_CACHE", ROOT / ".test-cache"))
# cfn-lint's matches per template, keyed by cfn-lint's identity, region, file name and content
# (ci_tools.scanners.PendingScan(lint_cache=...)): a template no change touched is not linted again.
LINT_CACHE = CACHE_ROOT / "cfn-lint"


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
