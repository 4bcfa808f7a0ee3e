"""The test caches' keys (issue #23, reader r23), checked without a synth: the synth-result key covers a
fork's own stack modules wherever `extra_stacks` finds them, not envs files; the scanners' keys cover
their configuration files and what those name; old entries are pruned."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from ci_tools import scanners
from tests import cache


def _repository(root: Path, extra_stacks: str | list[str] | None = None) -> Path:
    root.mkdir(parents=True)
    context: dict[str, object] = {"env": "default"}
    if extra_stacks is not None:
        context["extra_stacks"] = extra_stacks
    (root / "cdk.json").write_text(json.dumps({"app": "python app.py", "context": context}), encoding="utf-8")
    (root / "app.py").write_text("APP = 1\n", encoding="utf-8")
    for tree in ("stacks", "lambda/card_vault", "envs", "tests"):
        (root / tree).mkdir(parents=True)
    (root / "stacks" / "__init__.py").write_text("", encoding="utf-8")
    (root / "lambda" / "card_vault" / "handler.py").write_text("def handler(): ...\n", encoding="utf-8")
    (root / "envs" / "example.yaml").write_text("name: example\n", encoding="utf-8")
    (root / "requirements.txt").write_text("aws-cdk-lib==2.0.0\n", encoding="utf-8")
    (root / "package-lock.json").write_text("{}\n", encoding="utf-8")
    return root


def _digest(root: Path) -> str:
    cache._source_digest.cache_clear()
    return cache.source_digest(root)


def _changes(root: Path, path: Path, text: str) -> bool:
    before = _digest(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return _digest(root) != before


def test_a_fork_module_named_in_extra_stacks_changes_the_key_when_its_bytes_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reader r23's repro: acme/stacks.py named by cdk.json's extra_stacks, its bucket's encryption removed
    (the repository root is on sys.path, as when `cdk synth` runs app.py from it)."""
    root = _repository(tmp_path / "repo", "acme_w23b_repro.stacks:add_reports")
    monkeypatch.syspath_prepend(str(root))
    stacks = root / "acme_w23b_repro" / "stacks.py"
    stacks.parent.mkdir()
    (root / "acme_w23b_repro" / "__init__.py").write_text("", encoding="utf-8")
    stacks.write_text("ENCRYPTION = 'kms'\n", encoding="utf-8")
    assert _changes(root, stacks, "ENCRYPTION = None\n")
    assert _changes(root, root / "acme_w23b_repro" / "reports.json", '{"bucket": "plain"}\n')  # the package's data too


def test_an_extra_stacks_module_outside_the_repository_is_in_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fork's stacks installed elsewhere on sys.path (a package of its own) are found by their name."""
    elsewhere = tmp_path / "site"
    (elsewhere / "acme_w23b_fork").mkdir(parents=True)
    (elsewhere / "acme_w23b_fork" / "__init__.py").write_text("", encoding="utf-8")
    module = elsewhere / "acme_w23b_fork" / "stacks.py"
    module.write_text("ENCRYPTION = 'kms'\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(elsewhere))
    root = _repository(tmp_path / "repo", ["acme_w23b_fork.stacks:add_reports"])
    assert module in [f for p in cache.source_files(root) for f in ([*p.rglob("*")] if p.is_dir() else [p])]
    assert _changes(root, module, "ENCRYPTION = None\n")


def test_every_python_file_and_the_build_inputs_are_in_the_key(tmp_path: Path) -> None:
    root = _repository(tmp_path / "repo")
    assert _changes(root, root / "reports" / "bucket.py", "X = 1\n")  # a module no list names
    assert _changes(root, root / "tests" / "helpers.py", "X = 1\n")
    assert _changes(root, root / "lambda" / "card_vault" / "schema.sql", "create table t ();\n")
    assert _changes(root, root / "requirements.txt", "aws-cdk-lib==2.0.1\n")
    assert _changes(root, root / "requirements-dev.txt", "pytest==9.0.0\n")
    assert _changes(root, root / "package-lock.json", '{"lockfileVersion": 3}\n')
    assert _changes(root, root / "cdk.json", json.dumps({"context": {"env": "prod"}}))


def test_envs_files_and_installs_and_outputs_are_not_in_the_key(tmp_path: Path) -> None:
    """The cached kinds never read envs/ (issue #23 finding 2); installs and outputs are not sources."""
    root = _repository(tmp_path / "repo")
    assert not _changes(root, root / "envs" / "example.yaml", "name: changed\n")
    for skipped in (".venv", ".venv-scan", "node_modules", ".test-cache", "cdk.out", "cdk.out.old", ".git"):
        assert not _changes(root, root / skipped / "module.py", "X = 1\n"), skipped


def test_the_projects_own_key_covers_its_fork_example_and_no_install() -> None:
    files = cache.python_files(cache.ROOT)
    assert cache.ROOT / "tests" / "fork_stacks.py" in files
    assert not [f for f in files if f.relative_to(cache.ROOT).parts[0].startswith((".venv", "node_modules"))]


def test_entries_not_used_for_days_are_pruned(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    old, recent = root / "generated-environment" / "old", root / "generated-environment" / "recent"
    old.mkdir(parents=True)
    recent.mkdir()
    (old.parent / "old.lock").write_text("", encoding="utf-8")
    lint = root / "cfn-lint" / "old.json"
    lint.parent.mkdir()
    lint.write_text("[]", encoding="utf-8")
    week_ago = time.time() - 7 * 86400
    for path in (old, lint):
        os.utime(path, (week_ago, week_ago))
    assert sorted(cache.prune(root, days=3)) == sorted([old, lint])
    assert recent.is_dir()
    assert not old.exists()
    assert not (old.parent / "old.lock").exists()


def test_an_entry_another_process_holds_is_not_pruned(tmp_path: Path) -> None:
    entry = tmp_path / "cache" / "wheel" / "held"
    entry.mkdir(parents=True)
    os.utime(entry, (0, 0))
    with cache.cache_lock(entry):  # flock is per open file: prune's own open cannot take it
        assert cache.prune(tmp_path / "cache", days=3) == []
    assert entry.is_dir()
    assert cache.prune(tmp_path / "cache", days=3) == [entry]


def test_a_cached_scanner_entry_read_counts_as_used(tmp_path: Path) -> None:
    entry = tmp_path / "key.json"
    entry.write_text("[]", encoding="utf-8")
    os.utime(entry, (0, 0))
    assert scanners._cached_entry(tmp_path, "key") == []
    assert entry.stat().st_mtime > time.time() - 60


def test_cfn_lint_configuration_and_what_it_names_are_in_the_key(tmp_path: Path) -> None:
    cwd, home = tmp_path / "project", tmp_path / "home"
    cwd.mkdir()
    home.mkdir()
    plain = scanners.cfn_lint_config_digest(cwd, home)
    (cwd / ".cfnlintrc.yaml").write_text("append_rules:\n  - rules\n", encoding="utf-8")
    (cwd / "rules").mkdir()
    (cwd / "rules" / "custom.py").write_text("RULE = 1\n", encoding="utf-8")
    configured = scanners.cfn_lint_config_digest(cwd, home)
    assert configured != plain
    (cwd / "rules" / "custom.py").write_text("RULE = 2\n", encoding="utf-8")
    assert scanners.cfn_lint_config_digest(cwd, home) != configured
    rules_changed = scanners.cfn_lint_config_digest(cwd, home)
    (home / ".cfnlintrc").write_text("ignore_checks:\n  - W3005\n", encoding="utf-8")
    assert scanners.cfn_lint_config_digest(cwd, home) != rules_changed
    assert scanners.cfn_lint_config_files(cwd, home) == [home / ".cfnlintrc", cwd / ".cfnlintrc.yaml"]
    (cwd / ".cfnlintrc.yaml").write_text("append_rules:\n  - https://example.com/rules.zip\n", encoding="utf-8")
    assert scanners.cfn_lint_config_digest(cwd, home) is None  # a URL's rules: not cached


def test_checkov_configuration_and_its_external_checks_are_in_the_key(tmp_path: Path) -> None:
    cwd, home = tmp_path / "cdk.out", tmp_path / "home"
    cwd.mkdir()
    home.mkdir()
    plain = scanners.checkov_config_digest(cwd, home)
    assert scanners.checkov_config_files(cwd, home) == [scanners.CHECKOV_CONFIG]
    (home / ".checkov.yml").write_text("external-checks-dir:\n  - checks\n", encoding="utf-8")
    (cwd / "checks").mkdir()
    (cwd / "checks" / "bucket.py").write_text("CHECK = 1\n", encoding="utf-8")
    configured = scanners.checkov_config_digest(cwd, home)
    assert configured != plain
    (cwd / "checks" / "bucket.py").write_text("CHECK = 2\n", encoding="utf-8")
    assert scanners.checkov_config_digest(cwd, home) != configured
    (cwd / ".checkov.yaml").write_text("external-checks-git:\n  - https://example.com/checks.git\n", encoding="utf-8")
    assert scanners.checkov_config_digest(cwd, home) is None  # a repository's checks: not cached


def test_checkov_environment_variables_are_in_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = scanners.checkov_config_digest(tmp_path, tmp_path)
    monkeypatch.setenv("CKV_SKIP_CHECK", "CKV_AWS_19")
    assert scanners.checkov_config_digest(tmp_path, tmp_path) != plain
