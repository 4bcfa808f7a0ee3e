"""`make bench-vault`: card-vault figures on this machine (printed, never asserted).

- tokenizations/s through the logic layer (`Vault.tokenize`) against the embedded PostgreSQL,
  one thread and `THREADS` threads, with p50/p99 latency;
- the same through the local HTTP server (`make vault-local`'s server, in-process, loopback);
- KMS data-key calls per 1,000 tokenizations (data-key cache bound) and GenerateMac calls (one per card);
- cold import time of the ALB handler module and the peak memory of that fresh process.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import ThreadingHTTPServer
from pathlib import Path

from benchmarks.vault_env import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_ISSUER, DEFAULT_CLIENT_SUBJECT, ROOT, local_vault

THREADS = 8


def _card(rng: random.Random) -> str:
    sys.path.insert(0, str(ROOT / "lambda"))
    from card_vault.pan import luhn_valid

    body = "4" + "".join(rng.choice("0123456789") for _ in range(14))
    return next(body + d for d in "0123456789" if luhn_valid(body + d))


def _bodies(count: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)  # noqa: S311 -- benchmark data, not a secret
    year = time.gmtime().tm_year + 3
    return [
        {"pan": _card(rng), "expiry_month": 12, "expiry_year": year, "cardholder_name": "Bench Mark"}
        for _ in range(count)
    ]


def _run(work: Callable[[dict[str, object]], None], bodies: list[dict[str, object]], threads: int) -> dict[str, float]:
    latencies: list[float] = []
    lock = threading.Lock()

    def timed(body: dict[str, object]) -> None:
        start = time.perf_counter()
        work(body)
        elapsed = time.perf_counter() - start
        with lock:
            latencies.append(elapsed)

    start = time.perf_counter()
    if threads == 1:
        for body in bodies:
            timed(body)
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(timed, bodies))
    wall = time.perf_counter() - start
    latencies.sort()
    return {
        "per_second": len(bodies) / wall,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    }


def _cold_import() -> tuple[float, float]:
    """Seconds to import card_vault.api in a fresh interpreter (tracing on, as in Lambda) and its peak RSS in MiB."""
    code = (
        "import time, resource; t = time.perf_counter(); import card_vault.api; "
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "lambda"),
        "POWERTOOLS_TRACE_DISABLED": "0",
        "AWS_REGION": "eu-west-1",
    }
    runs = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)  # noqa: S603
        seconds, rss_kib = out.stdout.split()
        runs.append((float(seconds), int(rss_kib) / 1024))
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cards", type=int, default=2000)
    parser.add_argument("--http-cards", type=int, default=1000)
    args = parser.parse_args()
    from card_vault import runtime
    from card_vault.models import TokenizeRequest

    cold_seconds, cold_rss = _cold_import()
    with tempfile.TemporaryDirectory(prefix="vault-bench-") as tmp, local_vault(Path(tmp), pool_size=THREADS) as local:
        vault = local.vault
        runtime.install(local.vault, local.settings)
        kms_before = vault._cipher.kms_calls
        mac_before = vault._hasher.kms_calls
        logic_1 = _run(
            lambda b: vault.tokenize(TokenizeRequest.model_validate(b), client_id=DEFAULT_CLIENT_ID),
            _bodies(args.cards, 1),
            1,
        )
        logic_n = _run(
            lambda b: vault.tokenize(TokenizeRequest.model_validate(b), client_id=DEFAULT_CLIENT_ID),
            _bodies(args.cards, 2),
            THREADS,
        )
        kms_per_1000 = (vault._cipher.kms_calls - kms_before) / (2 * args.cards) * 1000  # two batches of cards
        macs_per_1000 = (vault._hasher.kms_calls - mac_before) / (2 * args.cards) * 1000

        from benchmarks.vault_local import HOST, make_handler

        server = ThreadingHTTPServer((HOST, 0), make_handler())
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]
        local_conn = threading.local()

        def post(body: dict[str, object]) -> None:
            conn = getattr(local_conn, "conn", None)
            if conn is None:
                conn = local_conn.conn = http.client.HTTPConnection(HOST, port, timeout=30)
            conn.request(
                "POST",
                "/v1/cards",
                body=json.dumps(body),
                headers={
                    "Content-Type": "application/json",
                    "X-Amzn-Mtls-Clientcert-Subject": DEFAULT_CLIENT_SUBJECT,
                    "X-Amzn-Mtls-Clientcert-Issuer": DEFAULT_CLIENT_ISSUER,
                },
            )
            response = conn.getresponse()
            answer = response.read()
            if response.status != 201:
                raise RuntimeError(f"HTTP {response.status}: {answer[:300]!r}")

        http_n = _run(post, _bodies(args.http_cards, 3), THREADS)
        server.shutdown()
        description = local.server_description

    print(f"card vault benchmark ({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}) against {description}")
    rows = [
        ("logic layer, 1 thread", logic_1),
        (f"logic layer, {THREADS} threads", logic_n),
        (f"local HTTP server, {THREADS} client threads", http_n),
    ]
    print(f"{'path':<40} {'tokenizations/s':>16} {'p50 ms':>8} {'p99 ms':>8}")
    for name, figures in rows:
        print(f"{name:<40} {figures['per_second']:>16.0f} {figures['p50_ms']:>8.2f} {figures['p99_ms']:>8.2f}")
    print(f"KMS data-key calls per 1,000 tokenizations: {kms_per_1000:.2f} (target <= 2)")
    print(f"KMS GenerateMac calls per 1,000 tokenizations: {macs_per_1000:.0f} (one per card, the keyed hash)")
    print(f"handler module cold import: {cold_seconds * 1000:.0f} ms (target <= 500), peak memory {cold_rss:.0f} MiB")


if __name__ == "__main__":
    main()
