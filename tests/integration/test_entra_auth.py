"""Entra ID bearer tokens on the webhook, with keys generated here and served by a local JWKS endpoint."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.adapters.entra import EntraTokenVerifier
from shared.connections import WebhookAuth
from shared.errors import Rejected

TENANT = "11111111-2222-3333-4444-555555555555"
AUDIENCE = "api://adf-autopilot-webhook"
FACTORY_OID = "99999999-8888-7777-6666-555555555555"


def _jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**public, "kid": kid, "use": "sig", "alg": "RS256"}


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url(signing_key: rsa.RSAPrivateKey) -> Iterator[str]:
    body = json.dumps({"keys": [_jwk(signing_key, "k1")]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/discovery/v2.0/keys"
    server.shutdown()
    server.server_close()


def token(key: rsa.RSAPrivateKey, kid: str = "k1", **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": f"https://sts.windows.net/{TENANT}/", "aud": AUDIENCE, "oid": FACTORY_OID, "iat": now,
            "nbf": now, "exp": now + 600, **claims}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def verifier(jwks_url: str) -> EntraTokenVerifier:
    return EntraTokenVerifier(WebhookAuth(AUDIENCE, TENANT, (FACTORY_OID,), jwks_url))


def test_the_factorys_token_is_accepted(verifier: EntraTokenVerifier, signing_key: rsa.RSAPrivateKey) -> None:
    assert verifier.verify(f"Bearer {token(signing_key)}") == FACTORY_OID


@pytest.mark.parametrize("authorization", [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer not.a.jwt"])
def test_a_missing_or_malformed_token_is_401(verifier: EntraTokenVerifier, authorization: str | None) -> None:
    with pytest.raises(Rejected) as info:
        verifier.verify(authorization)
    assert info.value.status == 401


def test_a_token_signed_by_another_key_is_401(verifier: EntraTokenVerifier) -> None:
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(Rejected) as info:
        verifier.verify(f"Bearer {token(forger)}")
    assert info.value.status == 401


@pytest.mark.parametrize("claims", [
    {"aud": "api://something-else"},
    {"iss": "https://sts.windows.net/00000000-0000-0000-0000-000000000000/"},
    {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200, "nbf": int(time.time()) - 7200},
])
def test_wrong_audience_issuer_or_an_expired_token_is_401(verifier: EntraTokenVerifier,
                                                          signing_key: rsa.RSAPrivateKey,
                                                          claims: dict[str, Any]) -> None:
    with pytest.raises(Rejected) as info:
        verifier.verify(f"Bearer {token(signing_key, **claims)}")
    assert info.value.status == 401


def test_a_valid_token_of_another_principal_is_403(verifier: EntraTokenVerifier,
                                                   signing_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(Rejected) as info:
        verifier.verify(f"Bearer {token(signing_key, oid='00000000-1111-2222-3333-444444444444')}")
    assert info.value.status == 403


def test_an_unsigned_token_is_401(verifier: EntraTokenVerifier) -> None:
    unsigned = jwt.encode({"aud": AUDIENCE, "oid": FACTORY_OID}, key=None, algorithm="none")
    with pytest.raises(Rejected) as info:
        verifier.verify(f"Bearer {unsigned}")
    assert info.value.status == 401
