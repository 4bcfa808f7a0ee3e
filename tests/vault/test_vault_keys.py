"""Issue 19, findings 3, 6 and 8: the keyed hash in KMS, the key lifecycle, and what a delete leaves.

Attacks through the vault's own rights, on the embedded PostgreSQL and moto's KMS:
3. with everything the API role can read (its database columns, its settings) a stored card cannot be
   brute-forced offline: every guess is one `GenerateMac` (counted here), and the KMS calls per
   tokenization are measured and printed;
6. an HMAC key rotation neither duplicates a card nor loses one (both versions checked, the re-hash job
   moves rows), data keys decrypt with the KMS key recorded beside them and the rewrap job moves them,
   the decrypt cache stops serving a disabled key within its max age, an unknown format is refused;
8. after DELETE no API call and no vault login finds the card again.
"""

from __future__ import annotations

import collections
import random
from pathlib import Path
from typing import Any

import psycopg
import pytest
from botocore.exceptions import ClientError
from card_vault import detokenize, keys, runtime
from card_vault.envelope import Sealed, UnsupportedFormatError
from card_vault.keyed_hash import LEGACY_VERSION, MAC_ALGORITHM, HmacKey
from card_vault.models import TokenizeRequest
from card_vault.settings import VaultSettings
from card_vault.vault import CardNotFoundError, IdempotencyMismatchError, Vault
from cryptography.hazmat.primitives import hashes, hmac

from tests.vault.api_calls import call, payload
from tests.vault.cards import card_body, card_number
from tests.vault.conftest import AUDIT, CLIENT_ID, Aws, Captured, Database, create_hmac_key, make_vault
from tests.vault.events import FakeContext

RNG_SEED = 19_0306
print(f"card numbers of the key-lifecycle tests come from random.Random({RNG_SEED})")


def _request(pan: str, **overrides: object) -> TokenizeRequest:
    return TokenizeRequest.model_validate(card_body(pan, **overrides))


class KmsCounter:
    """Counts each KMS operation a boto3 client sends (botocore's before-call event), per operation name."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: collections.Counter[str] = collections.Counter()
        client.meta.events.register("before-call.kms", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1


@pytest.fixture
def counted(aws: Aws) -> KmsCounter:
    return KmsCounter(aws.session.client("kms"))


@pytest.fixture
def key_job(database: Database, aws: Aws) -> Vault:
    return make_vault(database, aws, "card_vault_keys")


# --- Finding 3: the keyed hash lives in KMS --------------------------------------------------------


def test_kms_calls_per_tokenization_are_one_generate_mac(database: Database, aws: Aws, counted: KmsCounter) -> None:
    rng = random.Random(RNG_SEED)
    vault = make_vault(database, aws, kms=counted.client)
    pans = [card_number(rng=rng) for _ in range(200)]
    for pan in pans:
        vault.tokenize(_request(pan), client_id=CLIENT_ID)
    for pan in pans[:50]:  # the same cards again: answered from the unique index, still one MAC each
        assert not vault.tokenize(_request(pan), client_id=CLIENT_ID).created
    calls = dict(counted.calls)
    print(f"KMS requests for 250 tokenizations (200 new, 50 repeated) on one warm function: {calls}")
    assert calls == {"GenerateMac": 250, "GenerateDataKey": 1}
    # During a rotation (two key versions held) every tokenization hashes under both.
    counted.calls.clear()
    rotating = make_vault(
        database, aws, kms=counted.client, hmac_keys=(HmacKey(2, create_hmac_key(aws.session)), aws.hmac_key(1))
    )
    for pan in pans[50:60]:
        rotating.tokenize(_request(pan), client_id=CLIENT_ID)
    print(f"KMS requests for 10 tokenizations during a rotation: {dict(counted.calls)}")
    assert counted.calls["GenerateMac"] == 20


def test_the_api_role_cannot_brute_force_a_stored_card_offline(
    database: Database, aws: Aws, settings: VaultSettings, counted: KmsCounter
) -> None:
    """Everything the API's login and settings expose, tried as HMAC keys, matches no stored hash; the one way
    to test a guess is KMS GenerateMac, one request (and one CloudTrail event) per guess."""
    rng = random.Random(RNG_SEED + 3)
    pan = card_number("4", 13, rng)  # 13 digits: six known, four known, 3 unknown incl. the check digit
    make_vault(database, aws).tokenize(_request(pan), client_id=CLIENT_ID)
    # The API login reads no card row (migration 0014) and no hash (0012); the attacker is granted the first
    # six, last four and hash anyway (read here as the owner), and still cannot search offline.
    with database.admin() as conn:
        first6, last4 = conn.execute("SELECT first6, last4 FROM vault.cards").fetchone() or ("", "")
    with (
        psycopg.connect(database.role_urls["card_vault_app"]) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute("SELECT pan_hmac FROM vault.cards")
    with database.admin() as conn:
        (stored,) = conn.execute("SELECT pan_hmac FROM vault.cards").fetchone() or (b"",)
    candidates = [f"{first6}{middle:03d}{last4}" for middle in range(1000)]
    assert pan in candidates
    # Offline: every value of the API's configuration (the attacker's best guess at a key) as the HMAC key.
    visible = [settings.model_dump_json(), settings.kms_key_id, *(k.key_id for k in settings.hmac_keys)]
    visible += [c.subject for c in settings.clients] + [c.issuer for c in settings.clients]
    for key in visible:
        for guess in candidates:
            mac = hmac.HMAC(key.encode(), hashes.SHA256())
            mac.update(guess.encode())
            assert mac.finalize() != bytes(stored)
    # The KMS key has no export: HMAC key material is generated in KMS and never returned by any API.
    description = aws.session.client("kms").describe_key(KeyId=aws.hmac_key_arn)["KeyMetadata"]
    assert description["KeySpec"] == "HMAC_256"
    assert description["KeyUsage"] == "GENERATE_VERIFY_MAC"
    assert description["Origin"] == "AWS_KMS"
    # Online, through KMS: the search costs one GenerateMac per guess.
    hasher = make_vault(database, aws, kms=counted.client).parts().hasher
    found = next(guess for guess in candidates if hasher.digest(guess) == bytes(stored))
    assert found == pan
    assert counted.calls["GenerateMac"] == candidates.index(pan) + 1
    assert counted.calls["GenerateMac"] == 241  # the seeded card; the README quotes this figure
    print(
        f"online search of a 13-digit card with 3 unknown digits: {counted.calls['GenerateMac']} GenerateMac requests"
        " (a 16-digit card: up to 100,000, six unknown digits of which the check digit is in the last four;"
        " each a request against KMS's shared cryptographic request quota"
        " and a CloudTrail event)"
    )


def test_the_hash_is_hmac_sha256_computed_in_kms(database: Database, aws: Aws) -> None:
    pan = card_number(rng=random.Random(RNG_SEED + 4))
    hasher = make_vault(database, aws).parts().hasher
    mac = aws.session.client("kms").generate_mac(
        KeyId=aws.hmac_key_arn, MacAlgorithm=MAC_ALGORITHM, Message=pan.encode()
    )
    assert hasher.digest(pan) == mac["Mac"]
    assert len(mac["Mac"]) == 32


# --- Finding 6: key lifecycle --------------------------------------------------------------------


def test_hmac_rotation_keeps_one_token_per_card_and_the_rehash_job_moves_every_row(
    database: Database, aws: Aws, key_job: Vault
) -> None:
    rng = random.Random(RNG_SEED + 6)
    old_card, other = card_number(rng=rng), card_number(rng=rng)
    v1, v2 = aws.hmac_key(1), HmacKey(2, create_hmac_key(aws.session))
    before = make_vault(database, aws, hmac_keys=(v1,))
    token = before.tokenize(_request(old_card), client_id=CLIENT_ID).view.token
    before.tokenize(_request(other), client_id=CLIENT_ID)
    rotating = make_vault(database, aws, hmac_keys=(v2, v1))
    again = rotating.tokenize(_request(old_card), client_id=CLIENT_ID)
    assert (again.view.token, again.created) == (token, False)  # found under the previous version
    new = rotating.tokenize(_request(card_number(rng=rng)), client_id=CLIENT_ID)
    assert new.created
    with database.admin() as conn:
        versions = dict(conn.execute("SELECT token, hmac_key_version FROM vault.cards").fetchall())
    assert versions[new.view.token] == 2
    assert versions[token] == 1
    job = make_vault(database, aws, "card_vault_keys", hmac_keys=(v2, v1)).parts()
    answer = keys.rehash(store=job.store, cipher=job.cipher, hasher=job.hasher, limit=1)
    assert answer["rehashed"] == 1
    assert answer["more"] is True  # resumable: one row per run here
    answer = keys.rehash(store=job.store, cipher=job.cipher, hasher=job.hasher)
    assert (answer["rehashed"], answer["conflicts"], answer["more"]) == (1, 0, False)
    assert keys.rehash(store=job.store, cipher=job.cipher, hasher=job.hasher)["seen"] == 0  # idempotent
    with database.admin() as conn:
        assert conn.execute("SELECT DISTINCT hmac_key_version FROM vault.cards").fetchall() == [(2,)]
    after = make_vault(database, aws, hmac_keys=(v2,))  # version 1 dropped
    again = after.tokenize(_request(old_card), client_id=CLIENT_ID)
    assert (again.view.token, again.created) == (token, False)
    with database.admin() as conn:
        assert conn.execute("SELECT count(*) FROM vault.cards").fetchone() == (3,)


def test_idempotency_keys_check_every_held_hmac_key_version(database: Database, aws: Aws, counted: KmsCounter) -> None:
    """During a rotation the Idempotency-Key path neither stores a card twice nor refuses its own replay."""
    rng = random.Random(RNG_SEED + 14)
    old_card, replayed_card = card_number(rng=rng), card_number(rng=rng)
    v1, v2 = aws.hmac_key(1), HmacKey(2, create_hmac_key(aws.session))
    before = make_vault(database, aws, hmac_keys=(v1,))
    token = before.tokenize(_request(old_card), client_id=CLIENT_ID).view.token
    first = before.tokenize_idempotent(_request(replayed_card), client_id=CLIENT_ID, key="rotation-replay-1")
    assert first.created
    rotating = make_vault(database, aws, kms=counted.client, hmac_keys=(v2, v1))
    # a card stored under version 1, sent with a new key: its token, not a second row under version 2
    again = rotating.tokenize_idempotent(_request(old_card), client_id=CLIENT_ID, key="rotation-new-key-1")
    assert (again.view.token, again.created, again.replayed) == (token, False, False)
    replay = rotating.tokenize_idempotent(_request(old_card), client_id=CLIENT_ID, key="rotation-new-key-1")
    assert (replay.view.token, replay.created, replay.replayed) == (token, False, True)
    # a key first used under version 1, replayed under version 2: the same answer, not a mismatch
    counted.calls.clear()
    replay = rotating.tokenize_idempotent(_request(replayed_card), client_id=CLIENT_ID, key="rotation-replay-1")
    assert (replay.view.token, replay.created, replay.replayed) == (first.view.token, True, True)
    assert counted.calls["GenerateMac"] == 2  # the current version's fingerprint, then version 1's
    # another request under that key is still refused, under either version's fingerprint
    with pytest.raises(IdempotencyMismatchError):
        rotating.tokenize_idempotent(_request(old_card), client_id=CLIENT_ID, key="rotation-replay-1")
    with database.admin() as conn:
        rows = conn.execute("SELECT hmac_key_version, count(*) FROM vault.cards GROUP BY 1").fetchall()
    assert rows == [(1, 2)]  # both cards once, under the version they were stored with


def test_legacy_secret_hashes_are_rehashed_and_a_duplicate_is_reported_not_deleted(
    database: Database, aws: Aws, vault: Vault
) -> None:
    """Rows hashed under the retired Secrets Manager key (version 0): the job re-hashes them; a card its
    client submitted again before the job ran is reported as a conflict, and both tokens keep working."""
    rng = random.Random(RNG_SEED + 7)
    legacy, resubmitted = card_number(rng=rng), card_number(rng=rng)
    tokens = [vault.tokenize(_request(pan), client_id=CLIENT_ID).view.token for pan in (legacy, resubmitted)]
    with database.admin() as conn:  # as migration 0005 leaves rows of the Secrets Manager era
        conn.execute("UPDATE vault.cards SET hmac_key_version = %s, pan_hmac = sha256(pan_hmac)", (LEGACY_VERSION,))
    duplicate = vault.tokenize(_request(resubmitted), client_id=CLIENT_ID)
    assert duplicate.created  # the window the README names: version 0 cannot be checked any more
    job = make_vault(database, aws, "card_vault_keys").parts()
    answer = keys.rehash(store=job.store, cipher=job.cipher, hasher=job.hasher)
    assert (answer["rehashed"], answer["conflicts"], answer["gone"]) == (1, 1, 0)
    for token in [*tokens, duplicate.view.token]:
        assert vault.lookup(token, client_id=CLIENT_ID).token == token
    again = vault.tokenize(_request(legacy), client_id=CLIENT_ID)
    assert (again.view.token, again.created) == (tokens[0], False)


def test_data_keys_decrypt_with_their_recorded_kms_key_and_the_rewrap_job_moves_them(
    database: Database, aws: Aws, key_job: Vault
) -> None:
    rng = random.Random(RNG_SEED + 8)
    kms = aws.session.client("kms")
    replaced = kms.create_key(Description="the cardholder-data key before a replacement")["KeyMetadata"]["Arn"]
    pan = card_number(rng=rng)
    writer = make_vault(database, aws)
    writer._cipher._key_id = replaced  # a row written while the old key was configured
    token = writer.tokenize(_request(pan), client_id=CLIENT_ID).view.token
    # The readers are configured with the new key; the data key names the old one and decrypts with it.
    assert make_vault(database, aws, "card_vault_detokenize").detokenize(token, **AUDIT) == pan
    job = key_job.parts()
    assert keys.rewrap(store=job.store, kms=job.kms, target_key_id=aws.kms_key_arn, dry_run=True)["rewrapped"] == 0
    answer = keys.rewrap(store=job.store, kms=job.kms, target_key_id=aws.kms_key_arn)
    assert (answer["rewrapped"], answer["more"]) == (1, False)
    with database.admin() as conn:
        assert conn.execute("SELECT DISTINCT kms_key_arn FROM vault.data_keys").fetchall() == [(aws.kms_key_arn,)]
    # After the rewrap the old key can go: a reader whose KMS refuses it entirely still decrypts.
    refusing = RefusingKms(kms, refused={replaced})
    assert make_vault(database, aws, "card_vault_detokenize", kms=refusing).detokenize(token, **AUDIT) == pan
    assert keys.rewrap(store=job.store, kms=job.kms, target_key_id=aws.kms_key_arn)["seen"] == 0
    every = keys.rewrap(store=job.store, kms=job.kms, target_key_id=aws.kms_key_arn, every=True)
    assert every["rewrapped"] == 1  # after a rotation of the key material: everything, newest material


class RefusingKms:
    """A KMS client that answers DisabledException for the keys in `refused` (a disabled key)."""

    def __init__(self, client: Any, refused: set[str]) -> None:
        self._client = client
        self.refused = refused

    def __getattr__(self, name: str) -> Any:
        operation = getattr(self._client, name)

        def call(**kwargs: Any) -> Any:
            if kwargs.get("KeyId") in self.refused:
                raise ClientError({"Error": {"Code": "DisabledException", "Message": "key disabled"}}, name)
            return operation(**kwargs)

        return call


def test_disabling_the_key_stops_warm_detokenize_within_the_cache_max_age(
    database: Database, aws: Aws, vault: Vault, settings: VaultSettings, captured: Captured
) -> None:
    pan = card_number(rng=random.Random(RNG_SEED + 9))
    token = vault.tokenize(_request(pan), client_id=CLIENT_ID).view.token
    clock_value = [0.0]
    kms = RefusingKms(aws.session.client("kms"), refused=set())
    reader = make_vault(
        database, aws, "card_vault_detokenize", kms=kms, decrypt_cache_max_age_seconds=300, clock=lambda: clock_value[0]
    )
    assert reader.detokenize(token, **AUDIT) == pan
    kms.refused.add(aws.kms_key_arn)  # the incident: the key is disabled
    clock_value[0] = 299.0
    assert reader.detokenize(token, **AUDIT) == pan  # still warm, within the max age
    clock_value[0] = 300.0
    with pytest.raises(ClientError, match="DisabledException"):
        reader.detokenize(token, **AUDIT)
    runtime.install(reader, settings)
    answer = detokenize.handler({"token": token, "reason_code": "chargeback", "ticket": "CASE-6"}, FakeContext())
    captured.add(answer)
    assert answer == {"error": "internal error"}


def test_an_unknown_format_version_is_refused_by_name_without_the_card(
    database: Database, vault: Vault, detokenizer: Vault, settings: VaultSettings, captured: Captured
) -> None:
    pan = card_number(rng=random.Random(RNG_SEED + 10))
    token = vault.tokenize(_request(pan), client_id=CLIENT_ID).view.token
    sealed = detokenizer._store.sealed_pan(token, **AUDIT)
    assert sealed is not None
    with pytest.raises(UnsupportedFormatError, match="stored format version 7 is not supported") as refused:
        detokenizer._cipher.open(Sealed(7, sealed.data_key_id, sealed.ciphertext), token=token, field="pan")
    captured.add(str(refused.value))
    with database.admin() as conn:
        conn.execute("UPDATE vault.cards SET format_version = 7 WHERE token = %s", (token,))
    runtime.install(detokenizer, settings)
    answer = detokenize.handler({"token": token, "reason_code": "refund", "ticket": "CASE-7"}, FakeContext())
    captured.add(answer)
    assert answer == {"error": "decryption failed"}


def test_keys_job_handler_answers_counts_only(
    database: Database, aws: Aws, vault: Vault, key_job: Vault, settings: VaultSettings, captured: Captured
) -> None:
    vault.tokenize(_request(card_number(rng=random.Random(RNG_SEED + 11))), client_id=CLIENT_ID)
    runtime.install(key_job, settings)
    for event in ({"job": "rehash"}, {"job": "rewrap"}, {"job": "rewrap", "every": True, "dry_run": True}):
        answer = keys.handler(event, FakeContext())
        captured.add(answer)
        assert answer["more"] is False
        assert not any(isinstance(v, str) and v.startswith("tok_") for v in answer.values())
    with pytest.raises(ValueError, match="job"):
        keys.handler({"job": "export"}, FakeContext())


# --- Finding 8: deleted is gone for every vault login and API call ------------------------------

_ROLE_COLUMNS = {
    "card_vault_app": (),  # reads cards only through vault.get_card and the tokenize functions (0012, 0014)
    "card_vault_detokenize": (),  # reads cards only through vault.open_for_detokenize (migration 0012)
    "card_vault_purge": ("token",),
    "card_vault_keys": ("token", "pan_hmac"),
}


@pytest.mark.usefixtures("installed")
def test_after_delete_no_api_call_and_no_vault_login_recovers_the_card(
    database: Database, detokenizer: Vault, settings: VaultSettings, captured: Captured, key_job: Vault
) -> None:
    pan = card_number(rng=random.Random(RNG_SEED + 12))
    token = payload(call(captured, "POST", "/v1/cards", card_body(pan)))["token"]
    with database.admin() as conn:
        (mac,) = conn.execute("SELECT pan_hmac FROM vault.cards WHERE token = %s", (token,)).fetchone() or (b"",)
    assert call(captured, "DELETE", f"/v1/cards/{token}")["statusCode"] == 204
    # Through the API: gone, and tokenizing the number again is a new card with a new token.
    assert call(captured, "GET", f"/v1/cards/{token}")["statusCode"] == 404
    assert call(captured, "DELETE", f"/v1/cards/{token}")["statusCode"] == 404
    again = call(captured, "POST", "/v1/cards", card_body(pan))
    assert again["statusCode"] == 201
    assert payload(again)["token"] != token
    # Detokenize: not found.
    runtime.install(detokenizer, settings)
    answer = detokenize.handler({"token": token, "reason_code": "chargeback", "ticket": "CASE-8"}, FakeContext())
    captured.add(answer)
    assert answer == {"error": "not found"}
    with pytest.raises(CardNotFoundError):
        detokenizer.detokenize(token, **AUDIT)
    # Every vault login: no row holds the token, nor (where it may read hashes) the old row's hash beside
    # another token; none can read files or dead tuples (no superuser, no server-file reading role).
    for role, columns in _ROLE_COLUMNS.items():
        with psycopg.connect(database.role_urls[role], autocommit=True) as conn:
            if "token" in columns:
                assert conn.execute("SELECT count(*) FROM vault.cards WHERE token = %s", (token,)).fetchone() == (0,)
            if "pan_hmac" in columns:
                rows = conn.execute("SELECT token FROM vault.cards WHERE pan_hmac = %s", (mac,)).fetchall()
                assert rows == [(payload(again)["token"],)]  # only the new card, never the deleted one
            privileges = conn.execute(
                "SELECT rolsuper, pg_has_role(current_user, 'pg_read_server_files', 'MEMBER'),"
                " has_function_privilege('pg_read_binary_file(text)', 'EXECUTE'),"
                " pg_has_role(current_user, 'pg_read_all_data', 'MEMBER')"
                " FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
            assert privileges == (False, False, False, False), role
    # The key jobs never bring it back.
    job = key_job.parts()
    keys.rehash(store=job.store, cipher=job.cipher, hasher=job.hasher)
    with database.admin() as conn:
        assert conn.execute("SELECT count(*) FROM vault.cards WHERE token = %s", (token,)).fetchone() == (0,)


def test_what_a_delete_leaves_in_the_table_file_until_vacuum(database: Database, vault: Vault) -> None:
    """Measured, for the README's disposal section: the deleted row's ciphertext bytes stay in the table's
    heap file (a dead tuple) after DELETE and a checkpoint; VACUUM frees the tuple for reuse."""
    if not database.description.startswith("PostgreSQL") or "embedded pgserver" not in database.description:
        pytest.skip("reads the embedded server's data files")
    rng = random.Random(RNG_SEED + 13)
    neighbours = [vault.tokenize(_request(card_number(rng=rng)), client_id=CLIENT_ID) for _ in range(3)]
    token = vault.tokenize(_request(card_number(rng=rng)), client_id=CLIENT_ID).view.token
    for _ in range(3):  # live rows on the same page both sides, so VACUUM cannot just truncate the file
        vault.tokenize(_request(card_number(rng=rng)), client_id=CLIENT_ID)
    assert all(n.created for n in neighbours)
    with database.admin() as conn:

        def one(query: str, *params: object) -> Any:
            row = conn.execute(query, params).fetchone()
            assert row is not None
            return row[0]

        ciphertext = one("SELECT pan_ciphertext FROM vault.cards WHERE token = %s", token)
        data_dir = Path(one("SHOW data_directory"))
        heap = data_dir / one("SELECT pg_relation_filepath('vault.cards')")
        conn.execute("CHECKPOINT")
        in_file = {"stored": bytes(ciphertext) in heap.read_bytes()}
        vault.dispose(token, client_id=CLIENT_ID)
        conn.execute("CHECKPOINT")
        in_file["after DELETE"] = bytes(ciphertext) in heap.read_bytes()
        conn.execute("VACUUM vault.cards")
        conn.execute("CHECKPOINT")
        in_file["after VACUUM"] = bytes(ciphertext) in heap.read_bytes()
        heap_after_full = heap
        conn.execute("VACUUM FULL vault.cards")
        conn.execute("CHECKPOINT")
        rewritten = data_dir / one("SELECT pg_relation_filepath('vault.cards')")
        in_file["after VACUUM FULL (new file)"] = bytes(ciphertext) in rewritten.read_bytes()
        wal = sorted((data_dir / "pg_wal").glob("0*"))
        in_file["in the WAL"] = any(bytes(ciphertext) in segment.read_bytes() for segment in wal)
    print(f"deleted card's 44-byte ciphertext found in: {in_file} (old heap file kept: {heap_after_full.exists()})")
    assert in_file["stored"]
    assert in_file["after DELETE"]  # DELETE only marks the tuple dead
    assert in_file["in the WAL"]
    assert not in_file["after VACUUM"]  # here compaction overwrote it; the README says why that is not assured
    assert not in_file["after VACUUM FULL (new file)"]
