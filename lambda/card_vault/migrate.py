"""Schema migrations with yoyo-migrations, and the functions' database logins (PCI DSS v4.0.1 7.2, 8.2.2, 8.6).

Applied at every deploy by a CDK trigger (`aws_cdk.triggers.TriggerFunction`): a failure fails
the deployment. yoyo keeps the applied migrations in its own tables and takes a lock, so two
runs never apply a migration twice. The migrations (`migrations/*.sql`) create the schema and
one role per function with only its grants; this module then sets how each role logs in:

- `iam` (AWS): `GRANT rds_iam` — the role can log in only with an IAM auth token, through the
  RDS proxy's end-to-end IAM authentication; no password exists for it anywhere;
- `password` (local run and tests only): a password given by the caller.

Two phases (expand / contract): the pre-deploy trigger runs before CloudFormation updates the
vault's functions and applies `migrations/*.sql`, which only add (tables, columns with defaults or
nullable, functions, grants), so the previous release's code keeps working against them; the
post-deploy trigger runs once every function is updated and applies `migrations/post/*.sql`, which
take away what only the previous code needed (revokes, NOT NULL, drops). Both invoke this
function; the post trigger invokes it through its alias `post` (`POST_ALIAS`), which the handler
reads from the invoked ARN (Lambda Developer Guide, "Using the Lambda context object to retrieve
Python function information": `invoked_function_arn` names the alias or version invoked).

Configuration the database holds (migration 0021): the card-search bound (`card_vault.card_search`:
`VAULT_SIBLING_LIMIT`, `VAULT_SIBLING_WINDOW_SECONDS` in this function's environment) is written into
`vault.card_search_settings` at every run, so the API login never passes it. Likewise the tokenize budgets
(migration 0034, red team r19d finding 4: `VAULT_TOKENIZE_LIMITS`, each configured client's cards per minute, and
the default) into `vault.tokenize_limits` and `vault.tokenize_settings`.

The trigger connects straight to the instance (not the proxy) as the master user, with TLS
verified against the RDS certificate authorities: the master login is used only here, by secret
rotation and for break-glass access. AWS docs: "Creating a database account using IAM
authentication", "Using SSL/TLS to encrypt a connection to a DB instance or cluster".
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from psycopg import connect, sql

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
POST_MIGRATIONS = MIGRATIONS / "post"
POST_ALIAS = "post"
APP_ROLES = ("card_vault_app", "card_vault_detokenize", "card_vault_purge", "card_vault_keys")
LoginMode = Literal["iam", "password"]
Phase = Literal["pre", "post"]


def phase_of(invoked_function_arn: str) -> Phase:
    """`post` when invoked through the `post` alias (the post-deploy trigger), else `pre`."""
    return "post" if invoked_function_arn.rsplit(":", 1)[-1] == POST_ALIAS else "pre"


def apply_migrations(database_url: str, phase: Phase = "post", *, drain_seconds: float = 0) -> list[str]:
    """Apply pending migrations under yoyo's lock; returns the IDs applied (empty when up to date).

    `pre` applies `migrations/` only (before the functions are updated); `post` (the default: local
    runs and tests) applies whatever is pending of `migrations/` and `migrations/post/`, after waiting
    `drain_seconds` when a post migration is pending: a request the previous code began just before
    its function was updated may still run on that code, for at most the function's timeout (an
    assumption: the stored Lambda documentation was not found to say how an update treats
    invocations in flight, so the wait covers the longest one).
    """
    from yoyo import get_backend, read_migrations  # deploy-time only: keeps it out of the other functions' imports

    backend = get_backend(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    sources = [str(MIGRATIONS)] if phase == "pre" else [str(MIGRATIONS), str(POST_MIGRATIONS)]
    migrations = read_migrations(*sources)
    with backend.lock():
        pending = backend.to_apply(migrations)
        if drain_seconds > 0 and any(Path(m.path).parent == POST_MIGRATIONS for m in pending):
            time.sleep(drain_seconds)
        backend.apply_migrations(pending)
    return [m.id for m in pending]


def set_logins(database_url: str, mode: LoginMode, passwords: Mapping[str, str] | None = None) -> None:
    """Make each application role log in by IAM token (`iam`) or by the given password (`password`, local)."""
    with connect(database_url, autocommit=True) as conn:
        for role in APP_ROLES:
            if mode == "iam":
                conn.execute(sql.SQL("GRANT rds_iam TO {}").format(sql.Identifier(role)))
            else:
                if not passwords or role not in passwords:
                    raise ValueError(f"password mode needs a password for {role}")
                conn.execute(
                    sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(passwords[role]))
                )


# `card_vault.card_search` defaults (config/models.py): what the migration writes when its environment names none.
DEFAULT_MAX_SIBLINGS = 10
DEFAULT_SIBLING_WINDOW_SECONDS = 3600


def card_search_from(environ: Mapping[str, str]) -> tuple[int, int]:
    """`(max_siblings, window_seconds)` from the migration function's environment (`VAULT_SIBLING_LIMIT`,
    `VAULT_SIBLING_WINDOW_SECONDS`, set by the construct from `card_vault.card_search`), else the defaults.
    Raises ValueError naming the variable when one is not an integer in range (1-100000; 60-86400 seconds)."""
    values = []
    for name, default, low, high in (
        ("VAULT_SIBLING_LIMIT", DEFAULT_MAX_SIBLINGS, 1, 100_000),
        ("VAULT_SIBLING_WINDOW_SECONDS", DEFAULT_SIBLING_WINDOW_SECONDS, 60, 86_400),
    ):
        raw = environ.get(name)
        try:
            value = default if raw is None else int(raw)
        except ValueError:
            raise ValueError(f"{name}: not an integer") from None
        if not low <= value <= high:
            raise ValueError(f"{name}: must be {low}-{high}")
        values.append(value)
    return values[0], values[1]


def set_card_search(database_url: str, *, max_siblings: int, window_seconds: int) -> None:
    """Write the sibling limit and window into `vault.card_search_settings` (migration 0021), as the
    table's owner (the migrating login; no vault login may write it). `vault.reserve_card_hashes` reads
    them inside the database, so the API login can neither choose nor change them. A running window
    keeps the end its row recorded; a new limit applies to the next reservation."""
    with connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE vault.card_search_settings SET max_siblings = %s, window_seconds = %s, updated_at = now()",
            (max_siblings, window_seconds),
        )


# `card_vault.tokenize_per_minute`'s default (config/models.py, card_vault.settings.DEFAULT_TOKENIZE_PER_MINUTE).
DEFAULT_TOKENIZE_PER_MINUTE = 600


def tokenize_limits_from(environ: Mapping[str, str]) -> tuple[int, dict[str, int]]:
    """`(default, {client ID: cards per minute})` from `VAULT_TOKENIZE_LIMITS` (JSON `{"default": n, "clients":
    {id: n}}`, set by the construct from `card_vault.tokenize_per_minute` and each client's own), else the default
    and no client. Raises ValueError naming the variable when it is not that shape, a client ID is not one the
    vault accepts, or a limit is not an integer of 1-2000000 (migration 0034, red team r19d finding 4)."""
    raw = environ.get("VAULT_TOKENIZE_LIMITS")
    if raw is None:
        return DEFAULT_TOKENIZE_PER_MINUTE, {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise ValueError("VAULT_TOKENIZE_LIMITS: not JSON") from None
    if not isinstance(value, dict) or set(value) - {"default", "clients"}:
        raise ValueError('VAULT_TOKENIZE_LIMITS: send {"default": n, "clients": {"<client id>": n}}')
    default = value.get("default", DEFAULT_TOKENIZE_PER_MINUTE)
    clients = value.get("clients", {})
    if not isinstance(clients, dict):
        raise ValueError("VAULT_TOKENIZE_LIMITS: clients must be an object")
    for limit in [default, *clients.values()]:
        if type(limit) is not int or not 1 <= limit <= 2_000_000:
            raise ValueError("VAULT_TOKENIZE_LIMITS: each limit must be an integer of 1-2000000")
    if any(not re.fullmatch(r"[a-z][a-z0-9-]{1,30}", str(c)) for c in clients):
        raise ValueError("VAULT_TOKENIZE_LIMITS: a client ID is not one the vault accepts")
    return default, {str(c): int(n) for c, n in clients.items()}


def set_tokenize_limits(database_url: str, *, default: int, clients: Mapping[str, int]) -> None:
    """Write the tokenize budgets into `vault.tokenize_settings` and `vault.tokenize_limits` (migration 0034), as
    the tables' owner (the migrating login; no vault login may write them), in one transaction: the configured
    clients' rows exactly (a client no longer configured loses its row, and with it every reservation and new
    card: migration 0036 refuses a client ID without a row, SQLSTATE CV006). Read only inside
    `vault.reserve_tokenizations` and the card trigger, so the API login neither passes nor changes them."""
    with connect(database_url) as conn, conn.transaction():
        conn.execute("UPDATE vault.tokenize_settings SET default_per_minute = %s, updated_at = now()", (default,))
        conn.execute("DELETE FROM vault.tokenize_limits WHERE NOT (client_id = ANY(%s::text[]))", (list(clients),))
        for client_id, limit in sorted(clients.items()):
            conn.execute(
                "INSERT INTO vault.tokenize_limits (client_id, per_minute) VALUES (%s, %s) ON CONFLICT (client_id)"
                " DO UPDATE SET per_minute = EXCLUDED.per_minute, updated_at = now()",
                (client_id, limit),
            )


def data_key_epoch_from(environ: Mapping[str, str]) -> tuple[int, str | None]:
    """The shred epoch new data keys are recorded under and the KMS key that must wrap them, from the migration
    function's environment (`VAULT_DATA_KEY_EPOCH`, 0-9999, default 0; `VAULT_DATA_KEY_KMS_KEY_ARN`, set by the
    construct: the current shred epoch's key, or the cardholder-data key without epochs). Raises ValueError
    naming the variable when the epoch is not an integer in range."""
    raw = environ.get("VAULT_DATA_KEY_EPOCH")
    try:
        epoch = 0 if raw is None else int(raw)
    except ValueError:
        raise ValueError("VAULT_DATA_KEY_EPOCH: not an integer") from None
    if not 0 <= epoch <= 9999:
        raise ValueError("VAULT_DATA_KEY_EPOCH: must be 0-9999")
    return epoch, environ.get("VAULT_DATA_KEY_KMS_KEY_ARN") or None


def set_data_key_epoch(database_url: str, *, epoch: int, kms_key_arn: str | None) -> None:
    """Write the current shred epoch and its KMS key into `vault.data_key_settings` (migration 0029), as the table's
    owner (the migrating login): `vault.save_data_key` records every new data key under that epoch and refuses
    one wrapped by another key, so no vault login chooses an epoch (red team r19c M1)."""
    with connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE vault.data_key_settings SET shred_epoch = %s, kms_key_arn = %s, updated_at = now()",
            (epoch, kms_key_arn),
        )


def api_connection_limit_from(environ: Mapping[str, str]) -> int:
    """`VAULT_API_CONNECTION_LIMIT` (the construct: the API function's reserved concurrency times its pool size of
    one, doubled for the proxy's churn), or -1 (no limit: the API reserves no concurrency). Raises ValueError
    naming the variable when it is not an integer of -1 or 1-10000 (red team r19d finding 3, migration 0033)."""
    raw = environ.get("VAULT_API_CONNECTION_LIMIT")
    if raw is None:
        return -1
    try:
        limit = int(raw)
    except ValueError:
        raise ValueError("VAULT_API_CONNECTION_LIMIT: not an integer") from None
    if limit != -1 and not 1 <= limit <= 10_000:
        raise ValueError("VAULT_API_CONNECTION_LIMIT: must be -1 or 1-10000")
    return limit


def set_api_connection_limit(database_url: str, limit: int) -> None:
    """`ALTER ROLE card_vault_app CONNECTION LIMIT` (-1: none): the API's login opens no more sessions than its
    functions can use, so it cannot exhaust the server's connections for the other logins."""
    with connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER ROLE card_vault_app CONNECTION LIMIT {}").format(sql.Literal(int(limit))))


def ensure_pgaudit(database_url: str) -> str:
    """Create the pgaudit extension once its library is loaded (red-team r19 F5).

    `shared_preload_libraries` is static: after the parameter group adds pgaudit, RDS loads it only when
    the instance reboots ("Setting up the pgAudit extension", RDS User Guide). Until then CREATE EXTENSION
    would fail, so each migration run checks and creates it when it can. Returns `created`, `present`
    or `not loaded`.
    """
    with connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'pgaudit'").fetchone()
        if row is not None:
            return "present"
        loaded = conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()
        if loaded is None or "pgaudit" not in [part.strip() for part in str(loaded[0]).split(",")]:
            return "not loaded"
        conn.execute("CREATE EXTENSION pgaudit")
        return "created"


def master_url(secret: Mapping[str, Any], ca_bundle: Path) -> str:
    """libpq URL from an RDS master secret (`username`, `password`, `host`, `port`, `dbname`), TLS verified."""
    user, password = quote(str(secret["username"]), safe=""), quote(str(secret["password"]), safe="")
    return (
        f"postgresql://{user}:{password}@{secret['host']}:{int(secret['port'])}/{secret['dbname']}"
        f"?sslmode=verify-full&sslrootcert={quote(str(ca_bundle))}&connect_timeout=10"
    )


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Trigger entry point: read the master secret, migrate, grant IAM logins. Raises on any failure."""
    import boto3

    from card_vault.logs import vault_logger
    from card_vault.settings import RDS_CA_BUNDLE

    logger = vault_logger()
    secret_id = os.environ["VAULT_MIGRATION_SECRET_ID"]
    client = boto3.client("secretsmanager")
    secret = json.loads(client.get_secret_value(SecretId=secret_id)["SecretString"])
    # The instance endpoint and database come from the function's settings, not from the secret.
    secret = {
        **secret,
        "host": os.environ["VAULT_DB_HOST"],
        "port": os.environ.get("VAULT_DB_PORT", "5432"),
        "dbname": os.environ["VAULT_DB_NAME"],
    }
    url = master_url(secret, RDS_CA_BUNDLE)
    phase = phase_of(str(getattr(context, "invoked_function_arn", "")))
    applied = apply_migrations(url, phase, drain_seconds=float(os.environ.get("VAULT_MIGRATION_DRAIN_SECONDS", "0")))
    set_logins(url, "iam")
    # The configured card-search bound, on every run: a configuration change is a new function version,
    # which re-runs both triggers (`execute_on_handler_change`).
    max_siblings, window_seconds = card_search_from(os.environ)
    set_card_search(url, max_siblings=max_siblings, window_seconds=window_seconds)
    # The configured tokenize budgets, likewise (migration 0034, red team r19d finding 4).
    tokenize_default, tokenize_limits = tokenize_limits_from(os.environ)
    set_tokenize_limits(url, default=tokenize_default, clients=tokenize_limits)
    # The configured current shred epoch and its key, likewise (migration 0029).
    epoch, data_key_arn = data_key_epoch_from(os.environ)
    set_data_key_epoch(url, epoch=epoch, kms_key_arn=data_key_arn)
    # The API login's connection limit, likewise (migration 0033, red team r19d finding 3).
    set_api_connection_limit(url, api_connection_limit_from(os.environ))
    pgaudit = ensure_pgaudit(url)
    logger.info(
        "migrations applied",
        extra={
            "event": "migrate",
            "phase": phase,
            "applied": applied,
            "roles": list(APP_ROLES),
            "pgaudit": pgaudit,
            "card_search": {"max_siblings": max_siblings, "window_seconds": window_seconds},
            "data_key_epoch": epoch,
            "tokenize_limits": {"default": tokenize_default, "clients": tokenize_limits},
        },
    )
    return {
        "phase": phase,
        "applied": applied,
        "roles": list(APP_ROLES),
        "pgaudit": pgaudit,
        "card_search": {"max_siblings": max_siblings, "window_seconds": window_seconds},
    }
