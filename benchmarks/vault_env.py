"""A complete local card vault: embedded PostgreSQL (pgserver), moto's KMS and Secrets Manager.

Shared by `make vault-local` (benchmarks/vault_local.py) and `make bench-vault`
(benchmarks/vault_bench.py). Nothing here talks to AWS: moto answers every call in-process.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lambda"))

from card_vault.settings import ClientSettings  # noqa: E402 -- importable once lambda/ is on the path

REGION = "eu-west-1"
DATABASE = "card_vault"
# The client `make vault-local` knows by default: the subject and issuer the ALB would put in
# X-Amzn-Mtls-Clientcert-Subject / -Issuer, its token domain and rights.
DEFAULT_CLIENT_SUBJECT = "CN=vault-local-client,OU=Payments,O=PCI Landing Zone Demo"
DEFAULT_CLIENT_ISSUER = "CN=PCI Landing Zone Demo Client CA,O=PCI Landing Zone Demo,C=GB"
DEFAULT_CLIENT_ID = "vault-local"
DEFAULT_CLIENT = ClientSettings(
    id=DEFAULT_CLIENT_ID,
    subject=DEFAULT_CLIENT_SUBJECT,
    issuer=DEFAULT_CLIENT_ISSUER,
    rights=frozenset({"tokenize", "lookup", "dispose", "update"}),
    # Local runs and the bench: a tokenize budget that never binds (a deployed client's default is 600 a
    # minute); the budget's statement still runs on every tokenization through the API.
    tokenize_per_minute=1_000_000,
)

os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
for _name, _value in {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": REGION,
}.items():
    os.environ[_name] = _value


@dataclass
class LocalVault:
    vault: Any  # card_vault.vault.Vault
    settings: Any  # card_vault.settings.VaultSettings
    server_description: str
    role_urls: dict[str, str]
    admin_url: str


@contextmanager
def local_vault(
    data_dir: Path,
    *,
    pool_size: int = 8,
    clients: tuple[ClientSettings, ...] = (),
    mtls_mode: Literal["verify", "headers"] = "headers",
) -> Iterator[LocalVault]:
    """Start (or reuse) the embedded PostgreSQL in `data_dir`, migrate it, and build a vault on moto.

    `mtls_mode` as `VaultSettings.mtls_mode`: `headers` (default) takes the subject and issuer headers
    as sent and checks a leaf only when one is sent; `verify` (the deployed vault's mode) requires the
    `X-Amzn-Mtls-Clientcert-Leaf` header and checks the other headers against it (card_vault.mtls)."""
    import boto3
    import pgserver
    import psycopg
    from card_vault import migrate
    from card_vault.runtime import build_vault
    from card_vault.settings import HmacKeySettings, VaultSettings
    from moto import mock_aws
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o755)
    server = pgserver.get_server(data_dir / "pgdata", cleanup_mode="stop")
    server_url = server.get_uri("postgres")
    with psycopg.connect(server_url, autocommit=True) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone() is None:
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(DATABASE)))
    params = {**conninfo_to_dict(server_url), "dbname": DATABASE}
    admin_url = make_conninfo("", **params)
    socket_dir = params.get("host", "")
    migrate.apply_migrations(f"postgresql://{params.get('user', 'postgres')}@/{DATABASE}?host={socket_dir}")
    passwords = {role: secrets.token_urlsafe(24) for role in migrate.APP_ROLES}
    migrate.set_logins(admin_url, "password", passwords)
    role_urls = {role: make_conninfo("", **{**params, "user": role, "password": pw}) for role, pw in passwords.items()}
    # moto's keys live only in this process: rows from an earlier run could be neither decrypted
    # nor matched by keyed hash, so every start begins with an empty vault.
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE vault.cards, vault.data_keys, vault.tokenize_spend, vault.idempotency_keys,"
            " vault.sibling_counts, vault.detokenize_budget"
        )
    # The clients' tokenize budgets in the database, as the migration function writes them (migration 0034).
    migrate.set_tokenize_limits(
        admin_url,
        default=migrate.DEFAULT_TOKENIZE_PER_MINUTE,
        clients={c.id: c.tokenize_per_minute for c in clients or (DEFAULT_CLIENT,)},
    )
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        key_arn = session.client("kms").create_key(Description="cardholder data (local)")["KeyMetadata"]["Arn"]
        hmac_key_arn = session.client("kms").create_key(
            Description="card vault keyed hash (local)", KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC"
        )["KeyMetadata"]["Arn"]
        settings = VaultSettings(
            kms_key_id=key_arn,
            hmac_keys=(HmacKeySettings(version=1, key_id=hmac_key_arn),),
            database_url=role_urls["card_vault_app"],
            clients=clients or (DEFAULT_CLIENT,),
            region=REGION,
            # No load balancer here: curl sends the subject and issuer itself. In `headers` mode a leaf, when
            # sent, is still checked against them (card_vault.mtls); the deployed vault's mode is `verify`.
            mtls_mode=mtls_mode,
        )
        vault = build_vault(settings, session=session, pool_size=pool_size)
        description = f"PostgreSQL {version[0] if version else '?'} (embedded pgserver, {data_dir / 'pgdata'})"
        yield LocalVault(vault, settings, description, role_urls, admin_url)
