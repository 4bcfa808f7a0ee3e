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
    assert set(cold) == {"import_wall_ms", "import_cpu_ms", "start_wall_ms", "start_cpu_ms", "rss_mib", "load"}
    assert all(value > 0 for name, value in cold.items() if name != "load")
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


def test_every_goal_is_printed_beside_its_ratio_with_an_honest_verdict(recorded: vault_bench.Figures) -> None:
    """Each ratio the issue sets a goal for is printed with the goal, "goal met" or "goal not met" as the figure says
    (never judged here: the recorded figures' own verdict), and the load average it was measured at."""
    goals = vault_bench.ratios(recorded)
    text = "\n".join(vault_bench.report(recorded))
    for threads in ("1", str(vault_bench.THREADS)):
        ratio, met, load = goals[f"logic_{threads}"]
        assert met == (ratio >= vault_bench.LOGIC_GOAL)
        assert (
            f"logic / raw insert, {threads} thread(s): {ratio:.2f}x, goal >= {vault_bench.LOGIC_GOAL}x: "
            f"{vault_bench.verdict(met)} (load {load})"
        ) in text
    ratio, met, load = goals["batch"]
    assert met == (ratio >= vault_bench.BATCH_GOAL)
    assert f"goal >= {vault_bench.BATCH_GOAL:.0f}x: {vault_bench.verdict(met)} (load {load})" in text
    assert f"goals: {sum(1 for _, ok, _ in goals.values() if ok)} of {len(goals)} met" in text
    flipped = {**recorded, "raw": {**recorded["raw"], "1": {**recorded["raw"]["1"], "per_second": 1e12}}}
    assert "logic / raw insert, 1 thread(s): 0.00x, goal >= 0.9x: goal not met" in "\n".join(
        vault_bench.report(flipped)
    )
    table = vault_bench.readme_table(recorded)
    assert table.count("goal met") + table.count("goal not met") == len(goals)


def test_the_local_server_turns_nagle_off() -> None:
    assert make_handler().disable_nagle_algorithm is True
