"""The functions' settings, from their (KMS-encrypted) environment; bad settings fail at cold start.

Variables (all set by the CDK construct `pci_constructs.card_vault.CardVault`):

- `VAULT_KMS_KEY_ID`: ARN of the cardholder-data KMS key (data keys are generated under it);
- `VAULT_HMAC_KEYS`: JSON list of the keyed-hash KMS keys held, each `{"version", "key_id"}` (HMAC_256
  keys, `GenerateMac`; the highest version is current, a second one only during a rotation);
- `VAULT_DECRYPT_CACHE_MAX_AGE_SECONDS`: how long an unwrapped data key is reused (default 300): the
  longest a warm detokenize keeps working after the KMS key is disabled;
- `VAULT_DB_HOST`, `VAULT_DB_PORT`, `VAULT_DB_NAME`, `VAULT_DB_USER`: the RDS proxy endpoint and
  this function's own database user (IAM authentication, TLS with the certificate verified);
- `VAULT_DB_TLS_CA`: `proxy` (Amazon root CAs, the proxy's ACM certificate) or `rds` (the RDS CAs,
  straight to the instance when the landing zone runs without the proxy);
- `VAULT_DATABASE_URL`: instead of the four above, a full libpq URL (local run and tests only);
- `VAULT_CLIENTS`: JSON list of the API's clients, each `{"id", "subject", "issuer", "rights"}`: the
  client certificate's subject and issuer (RFC 2253, as the ALB writes them) map to a client ID, the
  client's token domain; `rights` lists what it may do (`tokenize`, `lookup`, `dispose`, `update`);
  `tokenize_per_minute` is its tokenize budget as configured (cards in any 60 seconds, a sliding window of
  one-second buckets since migration 0037, shared by every instance); the database applies it (the migration
  function writes it into `vault.tokenize_limits` from `VAULT_TOKENIZE_LIMITS`, migration 0034), so the API's
  login can neither pass nor reset it, and refuses any client ID without a row there (migration 0036, SQLSTATE
  CV006: only the configuration's clients tokenize or hold cards);
- the sibling limit and window (red-team r19 F1, the middle-digit search) are not the API's settings:
  the migration function writes them into `vault.card_search_settings` (migration 0021) from its own
  environment, and `vault.reserve_card_hashes` reads them inside the database (`card_vault.migrate`);
- `VAULT_MTLS_MODE`: `verify` (the default, the deployed vault: the load balancer's mutual TLS verify
  mode sends `X-Amzn-Mtls-Clientcert-Leaf`, and a request without a leaf matching the subject, issuer and
  serial-number headers is refused, `card_vault.mtls`) or `headers` (local runs only: a leaf is checked
  when sent, its absence is allowed);
- `VAULT_DETOKENIZE_PER_MINUTE`: detokenizations each caller (the function alias it invokes) may make per
  minute, shared by every instance;
- `VAULT_DETOKENIZE_CALLERS`: JSON list of the alias names the detokenize function answers through (one per
  configured caller role, `caller-<role name>`); an invocation through any other qualifier, or none, is refused
  before anything is read (an identity policy of the account can allow an unqualified invocation, which no
  alias's resource policy names). Absent (local runs only): every invocation is counted under its qualifier;
- `VAULT_PURGE_GRACE_DAYS`: days after a card's expiry month before the purge deletes it;
- `VAULT_SHRED`: the shred epochs (issue 19 finding 8, migration 0025), JSON `{"epochs": [{"epoch", "key_id"}],
  "epoch_days", "backup_retention_days", "deletion_window_days"}`: the highest epoch's KMS key wraps every new
  data key, the others are read until the Keys job has resealed their cards and scheduled their keys for
  deletion (`card_vault.keys`); absent, data keys are wrapped by `VAULT_KMS_KEY_ID` (epoch 0).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

CERTS = Path(__file__).resolve().parent / "certs"
# Amazon Root CA 1-4 and Starfield G2: RDS Proxy endpoints present ACM certificates.
PROXY_CA_BUNDLE = CERTS / "rds-proxy-ca-bundle.pem"
# Every RDS certificate authority (rds-ca-rsa2048-g1 and the others), for direct instance connections.
RDS_CA_BUNDLE = CERTS / "rds-ca-bundle.pem"

Subject = Annotated[str, Field(min_length=3, max_length=1024)]
Right = Literal["tokenize", "lookup", "dispose", "update"]
DEFAULT_TOKENIZE_PER_MINUTE = 600
DEFAULT_DETOKENIZE_PER_MINUTE = 30
DETOKENIZE_WINDOW_SECONDS = 60
CLIENT_ID_PATTERN = r"^[a-z][a-z0-9-]{1,30}$"


class ClientSettings(BaseModel):
    """One API client: its certificate's subject and issuer, its token domain (`id`) and its rights."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=CLIENT_ID_PATTERN)
    subject: Subject
    issuer: Subject
    rights: frozenset[Right] = Field(min_length=1)
    tokenize_per_minute: int = Field(default=DEFAULT_TOKENIZE_PER_MINUTE, ge=1, le=1_000_000)


class HmacKeySettings(BaseModel):
    """One keyed-hash key version and its KMS key (ARN or alias)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=1, le=1000)
    key_id: str = Field(min_length=1)


class ShredEpochSettings(BaseModel):
    """One shred epoch: its number (1-9999) and its KMS key (ARN or alias)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epoch: int = Field(ge=1, le=9999)
    key_id: str = Field(min_length=1)


class ShredSettings(BaseModel):
    """The shred epochs held and the job's timing (config/models.py `CardVaultShred` is the source).

    `epoch_days`: the current epoch's cryptoperiod (the job reports a new epoch due after it);
    `backup_retention_days`: the database's automated-backup retention, which bounds every WAL, snapshot and
    PITR copy (1-35, "Introduction to backups", RDS User Guide); `deletion_window_days`: KMS's waiting period
    (7-30, "ScheduleKeyDeletion", AWS KMS API Reference)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: tuple[ShredEpochSettings, ...] = Field(min_length=1, max_length=8)
    epoch_days: int = Field(default=90, ge=7, le=3650)
    backup_retention_days: int = Field(default=7, ge=1, le=35)
    deletion_window_days: int = Field(default=30, ge=7, le=30)
    # False: the job reports a drained epoch `due` and a key administrator schedules the deletion (the landing
    # zone's permissions boundary denies kms:ScheduleKeyDeletion to the Keys role).
    schedule_deletion: bool = True

    @property
    def current(self) -> ShredEpochSettings:
        """The epoch whose KMS key wraps new data keys: the highest."""
        return max(self.epochs, key=lambda e: e.epoch)

    @model_validator(mode="after")
    def _distinct(self) -> ShredSettings:
        if len({e.epoch for e in self.epochs}) != len(self.epochs):
            raise ValueError("shred epochs: each epoch once")
        return self


class VaultSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kms_key_id: str = Field(min_length=1)
    hmac_keys: tuple[HmacKeySettings, ...] = Field(min_length=1, max_length=2)
    decrypt_cache_max_age_seconds: float = Field(default=300.0, gt=0, le=3600)
    db_host: str | None = None
    db_port: int = Field(default=5432, ge=1, le=65535)
    db_name: str | None = None
    db_user: str | None = None
    database_url: str | None = Field(default=None, repr=False)
    clients: tuple[ClientSettings, ...] = ()
    db_tls_ca: Literal["proxy", "rds"] = "proxy"
    purge_grace_days: int = Field(default=30, ge=0, le=3650)
    mtls_mode: Literal["verify", "headers"] = "verify"
    detokenize_per_minute: int = Field(default=DEFAULT_DETOKENIZE_PER_MINUTE, ge=1, le=100_000)
    detokenize_callers: tuple[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,128}$")], ...] | None = Field(
        default=None, min_length=1, max_length=5
    )
    region: str | None = None
    shred: ShredSettings | None = None

    def client(self, subject: str, issuer: str) -> ClientSettings | None:
        """The client whose certificate has this subject and this issuer, or None."""
        for client in self.clients:
            if client.subject == subject and client.issuer == issuer:
                return client
        return None

    @model_validator(mode="after")
    def _distinct_clients(self) -> VaultSettings:
        if len({c.id for c in self.clients}) != len(self.clients):
            raise ValueError("client IDs must be distinct")
        if len({(c.subject, c.issuer) for c in self.clients}) != len(self.clients):
            raise ValueError("a certificate subject and issuer may name one client only")
        return self

    @model_validator(mode="after")
    def _distinct_hmac_versions(self) -> VaultSettings:
        if len({k.version for k in self.hmac_keys}) != len(self.hmac_keys):
            raise ValueError("hmac_keys: each version once")
        return self

    @model_validator(mode="after")
    def _one_database(self) -> VaultSettings:
        direct = (self.db_host, self.db_name, self.db_user)
        if self.database_url is None and not all(direct):
            raise ValueError("set VAULT_DATABASE_URL, or VAULT_DB_HOST, VAULT_DB_NAME and VAULT_DB_USER")
        return self


class SettingsError(RuntimeError):
    """The environment does not describe a usable vault (names the variables, never their values)."""


_JSON_FIELDS = frozenset({"clients", "hmac_keys", "shred", "detokenize_callers"})


def from_environment(environ: dict[str, str] | None = None) -> VaultSettings:
    env = dict(os.environ if environ is None else environ)
    raw: dict[str, object] = {}
    for field in VaultSettings.model_fields:
        value = env.get(f"VAULT_{field.upper()}")
        if value is not None:
            raw[field] = json.loads(value) if field in _JSON_FIELDS else value
    raw.setdefault("region", env.get("AWS_REGION"))
    try:
        return VaultSettings.model_validate(raw)
    except ValidationError as err:
        fields = sorted({f"VAULT_{str(e['loc'][0]).upper()}" for e in err.errors() if e["loc"]})
        raise SettingsError(f"invalid vault settings: {', '.join(fields) or err.errors()[0]['msg']}") from None
