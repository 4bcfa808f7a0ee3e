"""Schema migrations with yoyo-migrations, and the functions' database logins (PCI DSS v4.0.1 7.2, 8.2.2, 8.6).

Applied at every deploy by a CDK trigger (`aws_cdk.triggers.TriggerFunction`): a failure fails
the deployment. yoyo keeps the applied migrations in its own tables and takes a lock, so two
runs never apply a migration twice. The migrations (`migrations/*.sql`) create the schema and
one role per function with only its grants; this module then sets how each role logs in:

- `iam` (AWS): `GRANT rds_iam` — the role can log in only with an IAM auth token, through the
  RDS proxy's end-to-end IAM authentication; no password exists for it anywhere;
- `password` (local run and tests only): a password given by the caller.

The trigger connects straight to the instance (not the proxy) as the master user, with TLS
verified against the RDS certificate authorities: the master login is used only here, by secret
rotation and for break-glass access. AWS docs: "Creating a database account using IAM
authentication", "Using SSL/TLS to encrypt a connection to a DB instance or cluster".
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from psycopg import connect, sql

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
APP_ROLES = ("card_vault_app", "card_vault_detokenize", "card_vault_purge", "card_vault_keys")
LoginMode = Literal["iam", "password"]


def apply_migrations(database_url: str) -> list[str]:
    """Apply pending migrations under yoyo's lock; returns the IDs applied (empty when up to date)."""
    from yoyo import get_backend, read_migrations  # deploy-time only: keeps it out of the other functions' imports

    backend = get_backend(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    migrations = read_migrations(str(MIGRATIONS))
    with backend.lock():
        pending = backend.to_apply(migrations)
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
    applied = apply_migrations(url)
    set_logins(url, "iam")
    pgaudit = ensure_pgaudit(url)
    logger.info(
        "migrations applied",
        extra={"event": "migrate", "applied": applied, "roles": list(APP_ROLES), "pgaudit": pgaudit},
    )
    return {"applied": applied, "roles": list(APP_ROLES), "pgaudit": pgaudit}
