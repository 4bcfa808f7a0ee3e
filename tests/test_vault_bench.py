"""`make bench-vault`'s output: every row it promises is printed, and the README's figures table is the
one generated from the recorded run (benchmarks/vault-bench.json). Figures are never asserted."""

from __future__ import annotations

import json

import pytest

from benchmarks import vault_bench
from benchmarks.vault_local import make_handler


@pytest.fixture(scope="module")
def recorded() -> vault_bench.Figures:
    figures: vault_bench.Figures = json.loads(vault_bench.RECORD.read_text(encoding="utf-8"))
    return figures


def test_the_readme_table_is_generated_from_the_recorded_run(recorded: vault_bench.Figures) -> None:
    readme = vault_bench.README.read_text(encoding="utf-8")
    assert vault_bench.readme_table(recorded) in readme, "run: python -m benchmarks.vault_bench --record"


def test_the_bench_prints_every_row(recorded: vault_bench.Figures) -> None:
    text = "\n".join(vault_bench.report(recorded))
    for row in (
        "raw durable single-row insert, 1 connection",
        "logic layer (Vault.tokenize), 1 thread",
        f"raw durable single-row insert, {vault_bench.THREADS} connections",
        f"logic layer (Vault.tokenize), {vault_bench.THREADS} threads",
        "logic / raw insert, 1 thread(s): ",
        f"logic / raw insert, {vault_bench.THREADS} thread(s): ",
        "batch tokenization",
        f"raw {vault_bench.BATCH_ROWS}-row transactions / raw single row: ",
        "local HTTP server, 8 client threads, one event at a time",
        "KMS calls per 1,000 tokenizations",
        f"cold import target <= {vault_bench.COLD_TARGET_MS} ms",
    ):
        assert row in text, row
    for function in vault_bench.FUNCTIONS:
        assert any(line.startswith(f"{function} ") for line in text.splitlines()), function


def test_the_cold_start_row_is_measured_in_a_fresh_interpreter(recorded: vault_bench.Figures) -> None:
    """A real measurement of one function (one run), printed in the bench's format; its value is not judged."""
    cold = vault_bench.cold_start("purge", runs=1)
    assert set(cold) == {"import_wall_ms", "import_cpu_ms", "start_wall_ms", "start_cpu_ms", "rss_mib"}
    assert all(value > 0 for value in cold.values())
    figures = {**recorded, "cold": {**recorded["cold"], "purge": cold}}
    line = next(line for line in vault_bench.report(figures) if line.startswith("purge "))
    assert f"{cold['import_cpu_ms']:.0f} / {cold['import_wall_ms']:.0f}" in line
    print(line)


def test_the_batch_row_reads_pending_until_the_batch_path_is_measured(recorded: vault_bench.Figures) -> None:
    pending = {**recorded, "batch": None}
    assert "pending" in "\n".join(vault_bench.report(pending))
    measured = {**recorded, "batch": {"per_second": 2000.0, "p50_ms": 40.0, "p99_ms": 80.0}}
    text = "\n".join(vault_bench.report(measured))
    assert "batch tokenization (100 cards) / single card, 1 connection: " in text
    assert "pending" not in text
    assert "pending" not in vault_bench.readme_table(measured)


def test_the_local_server_turns_nagle_off() -> None:
    assert make_handler().disable_nagle_algorithm is True
