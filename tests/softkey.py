"""A passkey in software, for tests: it answers a page's WebAuthn options the way a phone or
security key does (ECDSA P-256, "none" attestation), so the server's real checks run on real
signatures. The browser tests use Chromium's own virtual authenticator instead
(tests/e2e/test_passkeys_journey.py)."""

import base64
import hashlib
import html
import json
import os
import re
import struct

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, AT = 0x01, 0x04, 0x40  # flags: user present, user verified, credential data follows


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def options_in(page: str) -> dict:
    """The WebAuthn options a page hands the browser."""
    found = re.search(r'<script type="application/json" id="passkey-options">(.*?)</script>', page)
    assert found, "the page has no passkey options"
    return json.loads(html.unescape(found[1]))


class SoftPasskey:
    def __init__(self, origin: str = "http://testserver", rp_id: str = "testserver"):
        self.origin, self.rp_id = origin, rp_id
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(16)
        self.user_handle = b""
        self.counter = 0

    @property
    def id(self) -> str:
        return b64url(self.credential_id)

    def _client_data(self, kind: str, options: dict, origin: str | None) -> bytes:
        data = {
            "type": kind,
            "challenge": options["challenge"],
            "origin": origin or self.origin,
            "crossOrigin": False,
        }
        return json.dumps(data).encode()

    def _auth_data(self, flags: int, extra: bytes = b"") -> bytes:
        rp_hash = hashlib.sha256(self.rp_id.encode()).digest()
        return rp_hash + bytes([flags]) + struct.pack(">I", self.counter) + extra

    def create(self, options: dict, *, origin: str | None = None) -> str:
        """The answer to navigator.credentials.create() with these options."""
        self.user_handle = unb64url(options["user"]["id"])
        numbers = self.key.public_key().public_numbers()
        cose = cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )
        attested = bytes(16) + struct.pack(">H", len(self.credential_id)) + self.credential_id
        auth_data = self._auth_data(UP | UV | AT, attested + cose)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        answer = {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(self._client_data("webauthn.create", options, origin)),
                "attestationObject": b64url(attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }
        return json.dumps(answer)

    def get(self, options: dict, *, origin: str | None = None, verified: bool = True) -> str:
        """The answer to navigator.credentials.get() with these options."""
        self.counter += 1
        auth_data = self._auth_data(UP | (UV if verified else 0))
        client_data = self._client_data("webauthn.get", options, origin)
        signed = auth_data + hashlib.sha256(client_data).digest()
        signature = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        answer = {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(self.user_handle),
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }
        return json.dumps(answer)
