"""The Makefile's toolchain contract, checked without installing anything (make -n, or a failing check).

- Python >= 3.11 and npm are checked before any download, with a message naming what is missing.
- `make synth` installs only what synth needs (no scanners' venv, no dev tools) and empties cdk.out first.
- The environment variable is LZ_ENV; `ENV=` on the command line is refused with the new name.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

MAKE = shutil.which("make") or "make"


def _make(*args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PATH": path if path is not None else os.environ["PATH"]}
    return subprocess.run(
        [MAKE, "--no-print-directory", "-C", str(ROOT), *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_missing_python_is_reported_before_any_download() -> None:
    result = _make("toolchain", "PYTHON=/nonexistent/python3")
    assert result.returncode != 0
    assert "/nonexistent/python3 not found: install Python >= 3.11" in result.stderr


def test_an_old_python_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "python3.9"
    fake.write_text('#!/bin/sh\ncase "$*" in *platform*) echo 3.9.18;; *) exit 1;; esac\n', encoding="utf-8")
    fake.chmod(0o755)
    result = _make("toolchain", f"PYTHON={fake}")
    assert result.returncode != 0
    assert "is Python 3.9.18; this project needs >= 3.11" in result.stderr


def test_a_missing_npm_is_reported_before_any_download(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(Path(sys.executable).resolve())
    result = _make("toolchain", path=str(bin_dir))
    assert result.returncode != 0
    assert "npm not found" in result.stderr


def test_synth_installs_only_what_synth_needs_and_empties_cdk_out_first() -> None:
    result = _make("-n", "synth", "LZ_ENV=envs/example.yaml")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert not [line for line in lines if "requirements-scan.txt" in line or "requirements-dev.txt" in line]
    assert ".venv-scan" not in result.stdout
    synth = next(i for i, line in enumerate(lines) if "synth --quiet -c env=envs/example.yaml" in line)
    assert "rm -rf cdk.out" in lines[:synth]
    assert "node_modules/.bin/cdk" in lines[synth]
    # The pack's post-synth check: CDK's own acknowledge() cannot silence a never-acknowledgeable rule.
    assert lines[synth + 1] == ".venv/bin/python -m pci_rules.check cdk.out"


def test_test_installs_the_scanners_venv() -> None:
    result = _make("-n", "pytest")
    assert "requirements-scan.txt" in result.stdout


def test_pytest_runs_on_every_core_with_each_module_on_one_worker() -> None:
    result = _make("-n", "pytest")
    assert result.returncode == 0, result.stderr
    run = next(line for line in result.stdout.splitlines() if line.startswith(".venv/bin/pytest"))
    assert run.split()[1:] == ["-n", "auto", "--dist", "loadscope"], run
    assert "pytest-xdist==" in (ROOT / "requirements-dev.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize("goal", ["synth", "cost"])
def test_env_is_refused_with_its_new_name(goal: str) -> None:
    result = _make("-n", goal, "ENV=envs/example.yaml")
    assert result.returncode != 0
    assert "ENV was renamed LZ_ENV" in result.stderr
    assert "LZ_ENV=envs/example.yaml" in result.stderr


def test_an_exported_env_start_up_file_selects_nothing() -> None:
    """POSIX shells export ENV (a start-up file); it must not become the environment selector."""
    environ_env = {**os.environ, "ENV": "/root/.shrc"}
    result = subprocess.run(
        [MAKE, "--no-print-directory", "-C", str(ROOT), "-n", "synth"],
        env=environ_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "-c env=" not in result.stdout


def test_node_modules_bin_comes_first_on_path() -> None:
    result = _make("--eval", "print-path: ; @echo PATH=$$PATH", "print-path")
    assert result.returncode == 0, result.stderr
    assert f"PATH={ROOT}/node_modules/.bin:" in result.stdout


def test_the_venv_is_rebuilt_only_when_the_interpreter_changes(tmp_path: Path) -> None:
    """Run in a scratch copy of the Makefile: the venv recipe runs on first use and on a new interpreter only."""
    shutil.copy2(ROOT / "Makefile", tmp_path / "Makefile")
    # The real interpreter for its checks; `-m venv DIR` only makes the folder (a real venv takes a minute here).
    python = tmp_path / "python3"
    python.write_text(
        f'#!/bin/sh\nif [ "$1 $2" = "-m venv" ]; then mkdir -p "$3"; exit 0; fi\nexec {sys.executable} "$@"\n',
        encoding="utf-8",
    )
    python.chmod(0o755)
    environ = dict(os.environ)

    def build() -> str:
        result = subprocess.run(
            [MAKE, "--no-print-directory", "-C", str(tmp_path), ".venv/.created", f"PYTHON={python}"],
            env=environ,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert "-m venv .venv" in build()
    assert "-m venv .venv" not in build()
    (tmp_path / ".venv.interpreter").write_text("3.10.0 /usr/bin/python3.10\n", encoding="utf-8")
    assert "rm -rf .venv" in build()


def test_clean_removes_the_test_cache() -> None:
    """Issue #23: `make clean` empties the test cache (tests/cache.py) along with the tools' caches."""
    result = _make("-n", "clean")
    assert result.returncode == 0, result.stderr
    removed = next(line for line in result.stdout.splitlines() if line.startswith("rm -rf"))
    assert ".test-cache" in removed.split()
