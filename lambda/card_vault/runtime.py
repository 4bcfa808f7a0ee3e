"""Builds one `Vault` per process from the environment and AWS clients (reused across invocations)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from card_vault.envelope import EnvelopeCipher
from card_vault.keyed_hash import HmacKey, KeyedHasher
from card_vault.settings import PROXY_CA_BUNDLE, RDS_CA_BUNDLE, VaultSettings, from_environment
from card_vault.store import CardStore, open_pool
from card_vault.tracing import trace_aws_calls
from card_vault.vault import Vault

CONNECT_TIMEOUT_SECONDS = 5

_lock = threading.Lock()
_vault: Vault | None = None
_settings: VaultSettings | None = None


def iam_conninfo(settings: VaultSettings, rds_client: Any) -> Callable[[], str]:
    """A libpq connection string with a fresh IAM auth token (valid 15 minutes) per new connection.

    TLS with the server certificate verified against the bundled Amazon root CAs (RDS Proxy
    presents an ACM certificate). AWS docs: "Connecting to a database through RDS Proxy",
    "Connecting to your DB instance using IAM authentication and the AWS SDK for Python (Boto3)".
    """

    from psycopg.conninfo import make_conninfo

    def conninfo() -> str:
        token = rds_client.generate_db_auth_token(
            DBHostname=settings.db_host, Port=settings.db_port, DBUsername=settings.db_user
        )
        return make_conninfo(
            host=settings.db_host,
            port=settings.db_port,
            dbname=settings.db_name,
            user=settings.db_user,
            password=token,
            sslmode="verify-full",
            sslrootcert=str(PROXY_CA_BUNDLE if settings.db_tls_ca == "proxy" else RDS_CA_BUNDLE),
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name="card-vault",
        )

    return conninfo


def build_vault(settings: VaultSettings, *, session: Any = None, pool_size: int = 1) -> Vault:
    """The vault on `session` (a boto3 session; by default one in the configured region).

    boto3 is imported here, at the first invocation, not when the handler module loads: the
    figure `make bench-vault` prints as cold import leaves it out, its cold start row has it in.
    """
    if session is None:
        import boto3

        session = boto3.session.Session(region_name=settings.region)
    trace_aws_calls(session)
    conninfo: str | Callable[[], str]
    if settings.database_url is not None:
        conninfo = settings.database_url
    else:
        conninfo = iam_conninfo(settings, session.client("rds"))
    store = CardStore(open_pool(conninfo, max_size=pool_size))
    kms = session.client("kms")
    # New data keys: the current shred epoch's KMS key when epochs are configured, else the cardholder-data key.
    current = settings.shred.current if settings.shred is not None else None
    cipher = EnvelopeCipher(
        kms=kms,
        key_id=settings.kms_key_id if current is None else current.key_id,
        store=store,
        decrypt_cache_max_age_seconds=settings.decrypt_cache_max_age_seconds,
        shred_epoch=0 if current is None else current.epoch,
    )
    hasher = KeyedHasher(kms=kms, keys=[HmacKey(k.version, k.key_id) for k in settings.hmac_keys])
    return Vault(store=store, cipher=cipher, hasher=hasher)


def current() -> tuple[Vault, VaultSettings]:
    """The process's vault and settings, built on first use (cold start) from the environment."""
    global _vault, _settings
    with _lock:
        if _vault is None or _settings is None:
            _settings = from_environment()
            _vault = build_vault(_settings)
        return _vault, _settings


def install(vault: Vault, settings: VaultSettings) -> None:
    """Use `vault` and `settings` instead of the environment (local server, tests)."""
    global _vault, _settings
    with _lock:
        _vault, _settings = vault, settings
