"""`make vault-local` stops its embedded PostgreSQL when it is stopped by SIGTERM or SIGINT (issue 19)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by pgserver's unprivileged user
        return True
    # a zombie is gone for our purpose
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def _wait_until(predicate: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_vault_local_stops_postgres_on_signal(signum: signal.Signals, tmp_path: Path) -> None:
    data_dir = tmp_path / "vault-local"
    tmp_path.chmod(0o755)
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.vault_local", "--port", str(_free_port()), "--data-dir", str(data_dir)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("card vault on http://"):
                break
        else:
            pytest.fail(f"vault-local did not start: {''.join(lines)[-2000:]}")
        postmaster = data_dir / "pgdata" / "postmaster.pid"
        pid = int(postmaster.read_text().splitlines()[0])
        assert _running(pid)
        process.send_signal(signum)
        remaining, _ = process.communicate(timeout=120)
        assert process.returncode == 0, remaining
        assert f"stopping on {signum.name}" in remaining
        assert _wait_until(lambda: not _running(pid), 30), f"PostgreSQL (pid {pid}) still runs after {signum.name}"
        assert not postmaster.exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_banner_prints_the_configured_clients_not_the_default() -> None:
    """`VAULT_CLIENTS` replaces the default client: the banner names the configured ones and the mode."""
    from card_vault.settings import ClientSettings, HmacKeySettings, VaultSettings

    from benchmarks.vault_env import DEFAULT_CLIENT_SUBJECT
    from benchmarks.vault_local import banner

    client = ClientSettings(
        id="client-a", subject="CN=client-a,OU=Payments,O=Acme", issuer="CN=Acme CA,C=GB", rights=frozenset({"lookup"})
    )
    settings = VaultSettings(
        kms_key_id="arn:aws:kms:eu-west-1:000000000000:key/1",
        hmac_keys=(HmacKeySettings(version=1, key_id="arn:aws:kms:eu-west-1:000000000000:key/2"),),
        database_url="postgresql://x@/db",
        clients=(client,),
        region="eu-west-1",
        mtls_mode="verify",
    )
    text = "\n".join(banner(settings))
    assert "X-Amzn-Mtls-Clientcert-Subject: CN=client-a,OU=Payments,O=Acme" in text
    assert "X-Amzn-Mtls-Clientcert-Issuer: CN=Acme CA,C=GB" in text
    assert "client client-a (lookup)" in text
    assert DEFAULT_CLIENT_SUBJECT not in text
    assert "mtls mode: verify" in text
    assert "X-Amzn-Mtls-Clientcert-Leaf" in text


def test_mtls_mode_is_a_command_line_option_defaulting_to_headers() -> None:
    from benchmarks.vault_local import parse_args

    assert parse_args([], environ={}).mtls_mode == "headers"
    assert parse_args(["--mtls-mode", "verify"], environ={}).mtls_mode == "verify"
    assert parse_args([], environ={"VAULT_MTLS_MODE": "verify"}).mtls_mode == "verify"
    with pytest.raises(SystemExit):
        parse_args(["--mtls-mode", "none"], environ={})
