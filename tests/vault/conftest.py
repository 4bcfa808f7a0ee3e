"""Fixtures of the card-vault tests: a real PostgreSQL and moto's KMS (data keys and the HMAC key).

The database is the embedded `pgserver` PostgreSQL unless `PCI_TEST_DATABASE_URL` names another
server (a superuser URL: the tests create a database and the vault's roles). Each session gets a
fresh database migrated by the vault's own migrations; each test starts with empty tables.

Suite-wide guard: every vault test runs with X-Ray tracing on, the segments going to a local
UDP X-Ray daemon on 127.0.0.1 (`xray_daemon`), and fails if a Luhn-valid card number appears in
anything it captured: stdout/stderr (where Powertools writes logs and EMF metrics), log records
before formatting, every trace segment the daemon received, and any response or exception the
helpers recorded (`leak_guard`).
"""

from __future__ import annotations

import io
import json
import logging
import os
import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
import psycopg
import pytest
from card_vault import migrate, runtime
from card_vault.envelope import EnvelopeCipher
from card_vault.keyed_hash import HmacKey, KeyedHasher
from card_vault.logs import SERVICE, MaskingFormatter
from card_vault.pan import find_pans
from card_vault.settings import ClientSettings, HmacKeySettings, Right, VaultSettings
from card_vault.store import CardStore, open_pool
from card_vault.tracing import trace_aws_calls
from card_vault.vault import Vault
from moto import mock_aws
from moto.moto_api._internal import mock_random
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.vault.events import fixed_trace_env

# Powertools would enable the X-Ray SDK only inside Lambda: `tracing_on` turns it on per test,
# pointed at `xray_daemon`, so nothing here reaches a real daemon or AWS.
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
os.environ.setdefault("POWERTOOLS_DEV", "0")

REGION = "eu-west-1"
MOTO_SEED = 1919
CLIENT_SUBJECT = "CN=payments-client,OU=Payments,O=Example Corp,C=GB"
CLIENT_ISSUER = "CN=Example Corp Client CA,O=Example Corp,C=GB"
CLIENT_ID = "payments"
ALL_RIGHTS: frozenset[Right] = frozenset({"tokenize", "lookup", "dispose", "update"})
# A second client, same CA, its own token domain: must learn nothing about the first one's cards.
OTHER_SUBJECT = "CN=refunds-client,OU=Refunds,O=Example Corp,C=GB"
OTHER_ID = "refunds"
# Lookup only: may not tokenize or dispose.
# What a direct Vault.detokenize call in a test records in the audit trail.
AUDIT = {"reason_code": "refund", "ticket": "TEST-1", "request_id": "test-request", "caller": "caller-test"}
READER_SUBJECT = "CN=reporting-client,OU=Reporting,O=Example Corp,C=GB"
READER_ID = "reporting"
_server_description: list[str] = []


@dataclass
class Database:
    admin_url: str
    role_urls: dict[str, str]
    description: str

    def admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.admin_url, autocommit=True)


@dataclass
class Aws:
    session: boto3.session.Session
    kms_key_arn: str
    hmac_key_arn: str

    def hmac_key(self, version: int = 1) -> HmacKey:
        return HmacKey(version, self.hmac_key_arn)


def create_hmac_key(session: boto3.session.Session) -> str:
    """An HMAC_256 KMS key (GenerateMac/VerifyMac), as the construct creates it."""
    return str(
        session.client("kms").create_key(
            Description="card vault keyed hash (test)", KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC"
        )["KeyMetadata"]["Arn"]
    )


@dataclass
class Captured:
    texts: list[str] = field(default_factory=list)

    def add(self, value: object) -> None:
        self.texts.append(value if isinstance(value, str) else json.dumps(value, default=str))


def _server_url(tmp_root: Path) -> tuple[str, str]:
    url = os.environ.get("PCI_TEST_DATABASE_URL")
    if url:
        params = conninfo_to_dict(url)
        return url, f"PCI_TEST_DATABASE_URL ({params.get('host', 'local socket')}:{params.get('port', 5432)})"
    import pgserver

    server = pgserver.get_server(tmp_root / "pgdata", cleanup_mode="stop")
    return server.get_uri("postgres"), f"embedded pgserver at {tmp_root / 'pgdata'}"


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    # pgserver runs postgres as an unprivileged user when we are root: keep its data dir short and open.
    tmp_root = Path(tempfile.mkdtemp(prefix="vaultpg-"))
    tmp_root.chmod(0o755)
    server_url, where = _server_url(tmp_root)
    name = f"vault_test_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
    params = conninfo_to_dict(server_url)
    params["dbname"] = name
    admin_url = make_conninfo("", **params)
    migrate.apply_migrations(_as_url(params))
    passwords = {role: secrets.token_urlsafe(24) for role in migrate.APP_ROLES}
    migrate.set_logins(admin_url, "password", passwords)
    role_urls = {role: make_conninfo("", **{**params, "user": role, "password": pw}) for role, pw in passwords.items()}
    description = f"PostgreSQL {version[0] if version else '?'} ({where})"
    _server_description.append(description)
    yield Database(admin_url, role_urls, description)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(psycopg.sql.Identifier(name)))


def _as_url(params: dict[str, Any]) -> str:
    """A postgresql:// URL (what yoyo reads) from libpq parameters, socket directory as `host` query."""
    user = quote(str(params.get("user", "postgres")), safe="")
    password = quote(str(params.get("password", "")), safe="")
    host = str(params.get("host", ""))
    port = params.get("port")
    query = []
    netloc_host = host
    if host.startswith("/"):
        netloc_host = ""
        query.append(f"host={quote(host)}")
    for key in ("sslmode", "sslrootcert"):
        if key in params:
            query.append(f"{key}={quote(str(params[key]))}")
    return (
        f"postgresql://{user}:{password}@{netloc_host}{':' + str(port) if port and netloc_host else ''}"
        f"/{params['dbname']}{'?' + '&'.join(query) if query else ''}"
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for description in _server_description:
        terminalreporter.write_line(f"card-vault tests ran against {description}")


@pytest.fixture(scope="module")
def aws() -> Iterator[Aws]:
    # Module scope, not session: a moto mock left active makes every later `mock_aws()` of another
    # module on the same pytest-xdist worker a nested mock, which moto does not reset (test_preflight).
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    with mock_aws():
        # moto's key IDs (uuid4) and request IDs come from its own generator: seeded, they are the
        # same on every run, so the PAN guard never meets a key ARN whose digits pass Luhn by chance.
        mock_random.seed(MOTO_SEED)
        session = boto3.session.Session(region_name=REGION)
        key = session.client("kms").create_key(Description="cardholder data (test)")["KeyMetadata"]["Arn"]
        aws = Aws(session, key, create_hmac_key(session))
        assert not find_pans(key), "moto's seeded key ID has a Luhn-valid digit run: change MOTO_SEED"
        yield aws
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(autouse=True)
def _empty_tables(request: pytest.FixtureRequest) -> None:
    if "database" in request.fixturenames:
        db: Database = request.getfixturevalue("database")
        with db.admin() as conn:
            conn.execute(
                "TRUNCATE vault.cards, vault.data_keys, vault.tokenize_spend, vault.idempotency_keys,"
                " vault.sibling_counts, vault.sibling_credits, vault.detokenize_budget, vault.shred_epochs,"
                " vault.unreadable_cards"
            )
            # The reset guard of migration 0033: open, its sentinel present (the server has not been reset).
            conn.execute("INSERT INTO vault.sibling_sentinel (singleton) VALUES (true) ON CONFLICT DO NOTHING")
            conn.execute("UPDATE vault.sibling_guard SET closed_until = '-infinity', reset_seen_at = NULL")
        # The configured card-search bound's defaults, as the migration function writes them (0021), and the
        # data keys' epoch of a vault without shred epochs (0029).
        set_card_search(db, max_siblings=migrate.DEFAULT_MAX_SIBLINGS)
        # The tokenize budgets, as the migration function writes them from the configuration (0034): one row per
        # configured client, the only client IDs the database accepts (migration 0036, red team r19e).
        configure_clients(db)
        migrate.set_data_key_epoch(db.admin_url, epoch=0, kms_key_arn=None)


# The client IDs the tests' configurations name (the `settings` fixture's three, and test_vault_routes' `updater`).
CONFIGURED_CLIENTS = (CLIENT_ID, OTHER_ID, READER_ID, "updater")


def configure_clients(database: Database, limits: dict[str, int] | None = None) -> None:
    """Every configured client's tokenize budget (`limits` overriding the default of 600 a minute), written as the
    migration function writes them (`card_vault.migrate.set_tokenize_limits`): a client ID not here is refused."""
    clients = dict.fromkeys(CONFIGURED_CLIENTS, migrate.DEFAULT_TOKENIZE_PER_MINUTE) | (limits or {})
    migrate.set_tokenize_limits(database.admin_url, default=migrate.DEFAULT_TOKENIZE_PER_MINUTE, clients=clients)


def set_card_search(
    database: Database, *, max_siblings: int, window_seconds: int = migrate.DEFAULT_SIBLING_WINDOW_SECONDS
) -> None:
    """The sibling limit and window in `vault.card_search_settings`, as the migration function sets them
    from the configuration (`card_vault.migrate.set_card_search`, the owner's login)."""
    migrate.set_card_search(database.admin_url, max_siblings=max_siblings, window_seconds=window_seconds)


def make_vault(
    database: Database,
    aws: Aws,
    role: str = "card_vault_app",
    *,
    pool_size: int = 4,
    hmac_keys: tuple[HmacKey, ...] | None = None,
    kms: Any = None,
    **cipher: Any,
) -> Vault:
    store = CardStore(open_pool(database.role_urls[role], max_size=pool_size))
    trace_aws_calls(aws.session)  # as runtime.build_vault does: the AWS calls get their subsegments
    kms = kms or aws.session.client("kms")
    return Vault(
        store=store,
        cipher=EnvelopeCipher(kms=kms, key_id=aws.kms_key_arn, store=store, **cipher),
        hasher=KeyedHasher(kms=kms, keys=hmac_keys or (aws.hmac_key(),)),
    )


@pytest.fixture
def vault(database: Database, aws: Aws) -> Vault:
    return make_vault(database, aws)


@pytest.fixture
def detokenizer(database: Database, aws: Aws) -> Vault:
    return make_vault(database, aws, "card_vault_detokenize")


@pytest.fixture
def purger(database: Database, aws: Aws) -> Vault:
    return make_vault(database, aws, "card_vault_purge")


@pytest.fixture
def settings(database: Database, aws: Aws) -> VaultSettings:
    return VaultSettings(
        kms_key_id=aws.kms_key_arn,
        hmac_keys=(HmacKeySettings(version=1, key_id=aws.hmac_key_arn),),
        database_url=database.role_urls["card_vault_app"],
        clients=(
            ClientSettings(id=CLIENT_ID, subject=CLIENT_SUBJECT, issuer=CLIENT_ISSUER, rights=ALL_RIGHTS),
            ClientSettings(id=OTHER_ID, subject=OTHER_SUBJECT, issuer=CLIENT_ISSUER, rights=ALL_RIGHTS),
            ClientSettings(id=READER_ID, subject=READER_SUBJECT, issuer=CLIENT_ISSUER, rights=frozenset({"lookup"})),
        ),
        purge_grace_days=30,
        region=REGION,
    )


@pytest.fixture
def installed(vault: Vault, settings: VaultSettings) -> Vault:
    runtime.install(vault, settings)
    return vault


@pytest.fixture
def captured() -> Captured:
    return Captured()


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """The service's log lines exactly as the Lambda would print them (Powertools JSON, masked)."""
    from card_vault import api  # the first Logger of the service sets up the handler all share

    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    formatter = api.logger.registered_formatter
    assert isinstance(formatter, MaskingFormatter)
    handler.setFormatter(formatter)
    service_logger = logging.getLogger(SERVICE)
    service_logger.addHandler(handler)
    yield buffer
    service_logger.removeHandler(handler)


class XRayDaemon:
    """A UDP listener standing in for the X-Ray daemon: keeps every segment document it receives."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._socket.getsockname()[1]}"
        self.datagrams: list[str] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._receive, name="fake-xray-daemon", daemon=True).start()

    def _receive(self) -> None:
        while True:
            data, _ = self._socket.recvfrom(65535)
            with self._lock:
                self.datagrams.append(data.decode("utf-8", "replace"))

    def drain(self) -> list[str]:
        """Everything received so far (after a marker sent now has arrived), then forget it."""
        marker = f"drain-{secrets.token_hex(8)}"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            host, port = self.address.split(":")
            sender.sendto(marker.encode(), (host, int(port)))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with self._lock:
                if marker in self.datagrams:
                    received = [d for d in self.datagrams if d != marker]
                    self.datagrams.clear()
                    return received
            time.sleep(0.005)
        raise AssertionError("the fake X-Ray daemon did not receive its own marker")

    def segments(self, datagrams: list[str]) -> list[dict[str, Any]]:
        """The JSON segment documents of `datagrams` (each is a header line, then the document)."""
        return [json.loads(d.split("\n", 1)[1]) for d in datagrams if "\n" in d]


@pytest.fixture(scope="session")
def xray_daemon() -> XRayDaemon:
    return XRayDaemon()


@pytest.fixture(autouse=True)
def tracing_on(xray_daemon: XRayDaemon, monkeypatch: pytest.MonkeyPatch) -> XRayDaemon:
    """X-Ray on as in Lambda (active tracing, sampled): the variables Lambda sets for an invocation,
    the daemon address pointing at `xray_daemon`. The functions' own subsegments
    (`card_vault.tracing`) and their AWS SDK calls' subsegments go there."""
    trace_id = fixed_trace_env()  # not random hex: see `events.fixed_request_id`
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    monkeypatch.setenv("_X_AMZN_TRACE_ID", trace_id)
    monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", xray_daemon.address)
    monkeypatch.delenv("AWS_XRAY_SDK_ENABLED", raising=False)
    xray_daemon.drain()
    return xray_daemon


def trace_texts(daemon: XRayDaemon, datagrams: list[str]) -> list[str]:
    """Every segment document, decoded (no \\u escapes hide a digit), identifiers included (the vault draws
    subsegment IDs that are never PAN-shaped and traces no invocation whose trace ID is: red team r19g).

    A datagram that is not a header line and a JSON document is kept as sent.
    """
    texts = []
    for datagram in datagrams:
        try:
            document = json.loads(datagram.split("\n", 1)[1])
        except (IndexError, ValueError):
            texts.append(datagram)
            continue
        texts.append(json.dumps(document, ensure_ascii=False))
    return texts


@pytest.fixture(autouse=True)
def leak_guard(
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    captured: Captured,
    log_lines: io.StringIO,
    tracing_on: XRayDaemon,
) -> Iterator[None]:
    """No Luhn-valid card number in output, log records, trace segments, metrics, responses or exceptions."""
    caplog.set_level(logging.INFO)
    yield
    out, err = capfd.readouterr()
    texts = [out, err, log_lines.getvalue(), *captured.texts, *trace_texts(tracing_on, tracing_on.drain())]
    for record in caplog.records:
        texts.append(record.getMessage())
        texts.append(json.dumps({k: v for k, v in vars(record).items() if k not in {"args", "exc_info"}}, default=str))
        if record.exc_info and record.exc_info[1] is not None:
            texts.append(str(record.exc_info[1]))
    leaks = [found for text in texts for found in find_pans(text)]
    assert not leaks, f"{len(leaks)} card number(s) leaked into captured output, logs, traces or responses"
    # Output is consumed by the guard; show it again so a failing test still prints it.
    print(out, end="")
