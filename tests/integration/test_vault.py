"""The credential vault: envelope encryption under moto's KMS, integrity failures, defaults and tenant isolation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from sqlalchemy import select, update

from shared.db import session
from shared.db.models import Credential
from shared.errors import Conflict, NotFound, Unavailable
from shared.identity import vault
from shared.identity.vault import VaultError, decrypt_for_job
from tests.conftest import reconfigure

SECRET = "sk-live-0123456789abcdefSECRETvalue-7f3q"
REFRESH = "rt-9876543210zyxwvuREFRESHvalue-k2m4"

pytestmark = pytest.mark.usefixtures("aws_env")


def row_of(credential_id: uuid.UUID | str) -> Credential:
    with session() as s:
        return s.scalars(select(Credential).where(Credential.id == uuid.UUID(str(credential_id)))).one()


def overwrite(credential_id: uuid.UUID, **values: Any) -> None:
    with session() as s:
        s.execute(update(Credential).where(Credential.id == credential_id).values(**values))


def kms() -> Any:
    return boto3.client("kms", region_name="us-east-1")


def second_kms_key() -> str:
    return kms().create_key(Description="another key")["KeyMetadata"]["Arn"]


# --- encryption -----------------------------------------------------------------------------------------------


def test_a_stored_secret_is_ciphertext_in_the_database_and_decrypts_back(alice, aws_env) -> None:  # type: ignore[no-untyped-def]
    # Given a secret with a refresh token stored in the vault
    stored = vault.store_credential(alice.id, provider="openai", secret=SECRET, refresh_token=REFRESH)

    # Then the row holds ciphertext, a 12-byte nonce and a 16-byte tag, never the secret bytes
    row = row_of(stored.id)
    for blob in (row.ciphertext, row.refresh_ciphertext, row.encrypted_data_key, row.nonce, row.tag):
        assert blob
        assert SECRET.encode() not in blob
        assert REFRESH.encode() not in blob
        assert SECRET.encode()[-12:] not in blob
    assert len(row.ciphertext) == len(SECRET.encode())  # GCM: same length, tag stored apart
    assert (len(row.nonce), len(row.tag), len(row.refresh_nonce or b""), len(row.refresh_tag or b"")) == (
        12,
        16,
        12,
        16,
    )
    assert row.nonce != row.refresh_nonce
    assert row.kms_key_id.endswith(aws_env["CONVEYOR_KMS_KEY_ID"])
    assert row.last4 == SECRET[-4:]

    # When a job handler opens it, it gets the secret and the refresh token back
    material = decrypt_for_job(alice.id, stored.id)
    assert (material.secret, material.refresh_token) == (SECRET, REFRESH)
    assert material.kind == "oauth"
    # And the material never shows its secrets in a repr (logs, tracebacks)
    assert SECRET not in repr(material)
    assert REFRESH not in repr(material)


def test_each_record_has_its_own_data_key_and_nonce(alice) -> None:  # type: ignore[no-untyped-def]
    # Given the same secret stored twice
    first = row_of(vault.store_credential(alice.id, provider="openai", secret=SECRET).id)
    second = row_of(vault.store_credential(alice.id, provider="openai", secret=SECRET).id)

    # Then nothing about the two records is alike
    assert first.encrypted_data_key != second.encrypted_data_key
    assert first.nonce != second.nonce
    assert first.ciphertext != second.ciphertext


def test_job_handlers_open_the_providers_default_by_provider(alice) -> None:  # type: ignore[no-untyped-def]
    # Given two credentials for a provider, the second made the default
    vault.store_credential(alice.id, provider="elevenlabs", secret="first-secret-value")
    vault.store_credential(alice.id, provider="elevenlabs", secret="second-secret-value", is_default=True)

    # When a job handler asks for the provider
    material = decrypt_for_job(alice.id, provider="elevenlabs")

    # Then it gets the default one; a provider without credentials is not found
    assert material.secret == "second-secret-value"
    with pytest.raises(NotFound):
        decrypt_for_job(alice.id, provider="anthropic")


# --- integrity failures ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("column", ["tag", "ciphertext", "nonce", "refresh_tag"])
def test_a_tampered_record_fails_loudly_without_leaking_the_secret(alice, caplog, capsys, column: str) -> None:  # type: ignore[no-untyped-def]
    # Given a stored credential whose bytes are altered in the database
    stored = vault.store_credential(alice.id, provider="openai", secret=SECRET, refresh_token=REFRESH)
    original: bytes = getattr(row_of(stored.id), column)
    overwrite(stored.id, **{column: bytes([original[0] ^ 0x01]) + original[1:]})

    # When a job handler opens it, Then the vault refuses with its integrity error
    with pytest.raises(VaultError) as failure:
        decrypt_for_job(alice.id, stored.id)
    assert failure.value.code == "vault_integrity"
    # And neither the error nor the log carries the secret
    printed = capsys.readouterr()
    logged = [f"{r.getMessage()} {r.__dict__}" for r in caplog.records]
    assert any("vault integrity failure" in line for line in logged)
    for text in (str(failure.value), repr(failure.value.details), printed.out, printed.err, *logged):
        assert SECRET not in text
        assert REFRESH not in text


def test_ciphertext_moved_to_another_users_row_does_not_open(alice, bob) -> None:  # type: ignore[no-untyped-def]
    # Given alice's and bob's credentials
    mine = row_of(vault.store_credential(alice.id, provider="openai", secret=SECRET).id)
    theirs = vault.store_credential(bob.id, provider="openai", secret="bob-own-secret-123")

    # When alice's whole sealed record is copied into bob's row
    overwrite(
        theirs.id,
        ciphertext=mine.ciphertext,
        nonce=mine.nonce,
        tag=mine.tag,
        encrypted_data_key=mine.encrypted_data_key,
        kms_key_id=mine.kms_key_id,
    )

    # Then KMS refuses the data key under bob's encryption context
    with pytest.raises(VaultError):
        decrypt_for_job(bob.id, theirs.id)


def test_ciphertext_moved_to_another_row_of_the_same_user_does_not_open(alice) -> None:  # type: ignore[no-untyped-def]
    # Given two of alice's credentials
    source = row_of(vault.store_credential(alice.id, provider="openai", secret=SECRET).id)
    target = vault.store_credential(alice.id, provider="openai", secret="another-secret-456")

    # When one row's sealed secret and data key are copied into the other (same owner, same KMS context)
    overwrite(
        target.id,
        ciphertext=source.ciphertext,
        nonce=source.nonce,
        tag=source.tag,
        encrypted_data_key=source.encrypted_data_key,
    )

    # Then the associated data (bound to the credential id) no longer matches
    with pytest.raises(VaultError):
        decrypt_for_job(alice.id, target.id)


def test_a_refresh_token_swapped_into_the_secret_field_does_not_open(alice) -> None:  # type: ignore[no-untyped-def]
    stored = row_of(vault.store_credential(alice.id, provider="google", secret=SECRET, refresh_token=REFRESH).id)

    overwrite(stored.id, ciphertext=stored.refresh_ciphertext, nonce=stored.refresh_nonce, tag=stored.refresh_tag)

    with pytest.raises(VaultError):
        decrypt_for_job(alice.id, stored.id)


def test_a_record_pointing_at_another_kms_key_fails_loudly(alice) -> None:  # type: ignore[no-untyped-def]
    # Given a credential whose record names a different KMS key than the one that wrapped its data key
    stored = vault.store_credential(alice.id, provider="openai", secret=SECRET)
    overwrite(stored.id, kms_key_id=second_kms_key())

    # Then opening it fails
    with pytest.raises(VaultError) as failure:
        decrypt_for_job(alice.id, stored.id)
    assert failure.value.details["reason"] == "data_key_rejected"


def test_a_data_key_rewrapped_under_another_kms_key_fails_loudly(alice) -> None:  # type: ignore[no-untyped-def]
    # Given a credential whose data key was re-encrypted under a second KMS key behind the vault's back
    stored = row_of(vault.store_credential(alice.id, provider="openai", secret=SECRET).id)
    context = {"conveyor:user_id": str(alice.id), "conveyor:purpose": "credential"}
    rewrapped = kms().re_encrypt(
        CiphertextBlob=stored.encrypted_data_key,
        SourceEncryptionContext=context,
        DestinationKeyId=second_kms_key(),
        DestinationEncryptionContext=context,
    )["CiphertextBlob"]
    overwrite(stored.id, encrypted_data_key=rewrapped)

    # Then the record's own key id no longer matches and the vault refuses it
    with pytest.raises(VaultError):
        decrypt_for_job(alice.id, stored.id)


@pytest.mark.parametrize(
    ("kms_error", "expected"),
    [
        ("DisabledException", VaultError),
        ("KMSInvalidStateException", VaultError),
        ("IncorrectKeyException", VaultError),
        ("ThrottlingException", Unavailable),
    ],
)
def test_kms_refusals_fail_loudly_and_outages_are_unavailable(alice, kms_error: str, expected: type) -> None:  # type: ignore[no-untyped-def]
    # Given a stored credential, and KMS answering decrypt with an error (moto does not model disabled keys)
    stored = vault.store_credential(alice.id, provider="openai", secret=SECRET)
    client = kms()
    stubber = Stubber(client)
    stubber.add_client_error("decrypt", service_error_code=kms_error, http_status_code=400)

    # When a job handler opens it, Then a refused key is an integrity error and an outage is retryable
    with stubber, pytest.raises(expected) as failure:
        decrypt_for_job(alice.id, stored.id, kms=client)
    assert SECRET not in str(failure.value)


def test_changing_the_configured_key_keeps_old_records_readable(alice, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Given a credential stored under the first key
    old = vault.store_credential(alice.id, provider="openai", secret=SECRET)

    # When the settings point at a new key (key rotation by configuration)
    new_key = second_kms_key()
    monkeypatch.setenv("CONVEYOR_KMS_KEY_ID", new_key)
    reconfigure()
    new = vault.store_credential(alice.id, provider="openai", secret="secret-under-the-new-key")

    # Then each record opens with the key it names
    assert row_of(new.id).kms_key_id == new_key
    assert row_of(old.id).kms_key_id != new_key
    assert decrypt_for_job(alice.id, old.id).secret == SECRET
    assert decrypt_for_job(alice.id, new.id).secret == "secret-under-the-new-key"


# --- linked OAuth accounts (seed 003 Account) -----------------------------------------------------------------


def test_linked_oauth_accounts_are_stored_and_relinked_through_the_vault(alice, bob) -> None:  # type: ignore[no-untyped-def]
    # Given a linked account with all of seed 003's token fields
    expires = datetime.now(UTC) + timedelta(hours=1)
    first = vault.link_oauth_account(
        alice.id,
        provider="google",
        provider_account_id="1122334455",
        access_token="ya29.access-token-one",
        refresh_token="1//refresh-token-one",
        expires_at=expires,
        token_type="Bearer",
        scope="openid email",
        id_token="eyJhbGciOi.id-token-one.sig",
    )
    row = row_of(first.id)
    assert row.kind == "oauth"
    assert b"id-token-one" not in repr(row.meta).encode()

    # When the account is linked again with new tokens
    again = vault.link_oauth_account(
        alice.id,
        provider="google",
        provider_account_id="1122334455",
        access_token="ya29.access-token-two",
        refresh_token="1//refresh-token-two",
        id_token="eyJhbGciOi.id-token-two.sig",
    )

    # Then the same row holds the new tokens under a new data key
    assert again.id == first.id
    assert row_of(first.id).encrypted_data_key != row.encrypted_data_key
    material = decrypt_for_job(alice.id, first.id)
    assert (material.secret, material.refresh_token, material.id_token) == (
        "ya29.access-token-two",
        "1//refresh-token-two",
        "eyJhbGciOi.id-token-two.sig",
    )
    assert material.provider_account_id == "1122334455"

    # When a token refresh brings only a new access token
    vault.link_oauth_account(
        alice.id, provider="google", provider_account_id="1122334455", access_token="ya29.access-token-three"
    )

    # Then the stored refresh token, id_token and scope are kept
    material = decrypt_for_job(alice.id, first.id)
    assert (material.secret, material.refresh_token, material.id_token, material.scope) == (
        "ya29.access-token-three",
        "1//refresh-token-two",
        "eyJhbGciOi.id-token-two.sig",
        "openid email",
    )

    # And another user cannot take the account over
    with pytest.raises(Conflict):
        vault.link_oauth_account(
            bob.id, provider="google", provider_account_id="1122334455", access_token="bob-token-0001"
        )


# --- API ------------------------------------------------------------------------------------------------------


def test_the_api_stores_a_secret_and_never_returns_it(alice) -> None:  # type: ignore[no-untyped-def]
    # When alice stores a key through the API
    created = alice.client.post(
        "/v1/credentials", json_body={"provider": "openai", "label": "Work", "secret": SECRET, "refresh_token": REFRESH}
    )

    # Then the response shows metadata and last4 only
    assert created.status == 201, created.json
    body = created.json
    assert set(body) == {
        "id",
        "provider",
        "label",
        "kind",
        "last4",
        "is_default",
        "expires_at",
        "refresh_expires_at",
        "created_at",
        "updated_at",
    }
    assert (body["provider"], body["label"], body["kind"], body["last4"], body["is_default"]) == (
        "openai",
        "Work",
        "oauth",
        SECRET[-4:],
        True,
    )
    # And no response, anywhere in its body, carries the secret or the refresh token
    responses = [
        created,
        alice.client.get("/v1/credentials"),
        alice.client.get(f"/v1/credentials/{body['id']}"),
        alice.client.patch(f"/v1/credentials/{body['id']}", json_body={"label": "Renamed"}),
    ]
    for response in responses:
        assert response.status == 200 or response is created
        for needle in (SECRET, REFRESH, SECRET[:-4]):
            assert needle.encode() not in response.body
    # But a job handler can still open it
    assert decrypt_for_job(alice.id, uuid.UUID(body["id"])).secret == SECRET


def test_short_secrets_show_no_last4_and_api_keys_are_the_default_kind(alice) -> None:  # type: ignore[no-untyped-def]
    response = alice.client.post("/v1/credentials", json_body={"provider": "pin", "secret": "12345"})

    assert response.status == 201
    assert (response.json["last4"], response.json["kind"], response.json["label"]) == (None, "api_key", None)


def test_the_first_credential_is_the_default_and_the_default_switches_atomically(alice) -> None:  # type: ignore[no-untyped-def]
    # Given a first and a second credential for a provider
    first = alice.client.post("/v1/credentials", json_body={"provider": "openai", "secret": "first-secret-1"}).json
    second = alice.client.post("/v1/credentials", json_body={"provider": "openai", "secret": "second-secret-2"}).json
    other = alice.client.post("/v1/credentials", json_body={"provider": "deepl", "secret": "deepl-secret-3"}).json
    assert (first["is_default"], second["is_default"], other["is_default"]) == (True, False, True)

    # When a third is posted as the default
    third = alice.client.post(
        "/v1/credentials", json_body={"provider": "openai", "secret": "third-secret-3", "is_default": True}
    ).json

    # Then it is the only default of its provider, and other providers are untouched
    def defaults(provider: str) -> list[str]:
        listed = alice.client.get("/v1/credentials", query={"provider": provider})
        assert listed.status == 200
        return [c["id"] for c in listed.json["items"] if c["is_default"]]

    assert defaults("openai") == [third["id"]]
    assert defaults("deepl") == [other["id"]]

    # When the second is made the default with PATCH
    patched = alice.client.patch(f"/v1/credentials/{second['id']}", json_body={"is_default": True})
    assert patched.status == 200
    assert defaults("openai") == [second["id"]]

    # Then the default cannot simply be switched off
    refused = alice.client.patch(f"/v1/credentials/{second['id']}", json_body={"is_default": False})
    assert (refused.status, refused.error_code) == (422, "default_required")

    # When the default is deleted, the newest remaining credential becomes the default
    assert alice.client.delete(f"/v1/credentials/{second['id']}").status == 204
    assert alice.client.get(f"/v1/credentials/{second['id']}").status == 404
    assert defaults("openai") == [third["id"]]
    # And deleting a non-default credential changes no default
    assert alice.client.delete(f"/v1/credentials/{first['id']}").status == 204
    assert defaults("openai") == [third["id"]]


def test_patch_renames_and_clears_the_label(alice) -> None:  # type: ignore[no-untyped-def]
    created = alice.client.post("/v1/credentials", json_body={"provider": "openai", "secret": SECRET}).json

    renamed = alice.client.patch(f"/v1/credentials/{created['id']}", json_body={"label": "Personal"})
    kept = alice.client.patch(f"/v1/credentials/{created['id']}", json_body={})
    cleared = alice.client.patch(f"/v1/credentials/{created['id']}", json_body={"label": None})

    assert (renamed.json["label"], kept.json["label"], cleared.json["label"]) == ("Personal", "Personal", None)


def test_another_users_credential_is_not_found(alice, bob) -> None:  # type: ignore[no-untyped-def]
    # Given alice's credential
    created = alice.client.post("/v1/credentials", json_body={"provider": "openai", "secret": SECRET}).json
    path = f"/v1/credentials/{created['id']}"

    # When bob reads, changes or deletes it, Then it does not exist for him
    for response in (
        bob.client.get(path),
        bob.client.patch(path, json_body={"label": "mine now", "is_default": True}),
        bob.client.delete(path),
    ):
        assert (response.status, response.error_code) == (404, "not_found")
    assert bob.client.get("/v1/credentials").json["items"] == []
    with pytest.raises(NotFound):
        decrypt_for_job(bob.id, uuid.UUID(created["id"]))

    # And alice's credential is unchanged
    mine = alice.client.get(path).json
    assert (mine["label"], mine["is_default"]) == (None, True)


@pytest.mark.parametrize(
    "body",
    [
        {"provider": "OpenAI", "secret": SECRET},
        {"provider": "open ai", "secret": SECRET},
        {"provider": "x" * 41, "secret": SECRET},
        {"provider": "openai", "secret": ""},
        {"provider": "openai", "secret": "s" * 8193},
        {"provider": "openai", "secret": SECRET, "label": "l" * 101},
        {"provider": "openai", "secret": SECRET, "expires_at": "2030-01-01T00:00:00"},
        {"provider": "openai", "secret": SECRET, "kms_key_id": "mine"},
        {"provider": "openai"},
    ],
)
def test_invalid_credentials_are_refused_and_nothing_is_stored(alice, body: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    response = alice.client.post("/v1/credentials", json_body=body)

    assert (response.status, response.error_code) == (422, "validation_failed")
    assert SECRET.encode() not in response.body
    with session() as s:
        assert s.scalars(select(Credential)).all() == []


def test_a_provider_account_linked_elsewhere_is_a_conflict(alice, bob) -> None:  # type: ignore[no-untyped-def]
    body = {"provider": "deviantart", "secret": "da-access-token-1", "provider_account_id": "da-42"}
    assert alice.client.post("/v1/credentials", json_body=body).status == 201

    response = bob.client.post("/v1/credentials", json_body=body)

    assert (response.status, response.error_code) == (409, "credential_account_taken")


def test_a_refresh_expiry_without_a_refresh_token_is_refused(alice) -> None:  # type: ignore[no-untyped-def]
    response = alice.client.post(
        "/v1/credentials",
        json_body={"provider": "openai", "secret": SECRET, "refresh_expires_at": "2030-01-01T00:00:00Z"},
    )

    assert (response.status, response.error_code) == (422, "invalid_input")
