"""Entra ID bearer tokens on the pipeline webhook: signature, issuer, audience, allowed principals.

The signing keys come from the configured JWKS URL (the tenant's Entra ID keys by default), never
from anything in the request. PyJWT does the cryptography.
"""

from __future__ import annotations

import threading
from typing import Any

from shared.connections import WebhookAuth
from shared.errors import Rejected, Unavailable


class EntraTokenVerifier:
    def __init__(self, auth: WebhookAuth, *, leeway: float = 60.0) -> None:
        self._auth = auth
        self._leeway = leeway
        self._jwks: Any = None
        self._lock = threading.Lock()

    def _client(self) -> Any:
        with self._lock:
            if self._jwks is None:
                import jwt

                self._jwks = jwt.PyJWKClient(self._auth.jwks_url, cache_keys=True, lifespan=3600, timeout=10)
            return self._jwks

    def verify(self, authorization: str | None) -> str:
        """The caller's object id; Rejected(401) for a missing or invalid token, Rejected(403) for a valid
        token of a principal that is not allowed."""
        import jwt

        if not authorization or not authorization.lower().startswith("bearer "):
            raise Rejected("a bearer token is required (Authorization: Bearer <token>)", status=401)
        token = authorization.split(" ", 1)[1].strip()
        tenant = self._auth.tenant_id
        issuers = [f"https://sts.windows.net/{tenant}/", f"https://login.microsoftonline.com/{tenant}/v2.0"]
        try:
            key = self._client().get_signing_key_from_jwt(token)
            claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=self._auth.audience,
                                issuer=issuers, leeway=self._leeway,
                                options={"require": ["exp", "iat", "aud", "iss"]})
        except jwt.PyJWKClientConnectionError as exc:
            raise Unavailable("the token signing keys cannot be fetched right now") from exc
        except (jwt.PyJWTError, ValueError) as exc:
            raise Rejected(f"the bearer token is not valid: {type(exc).__name__}", status=401) from exc
        principal = str(claims.get("oid") or claims.get("appid") or claims.get("azp") or "")
        if principal not in self._auth.allowed_principals:
            raise Rejected("this principal may not call the pipeline webhook", status=403)
        return principal
