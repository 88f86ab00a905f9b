"""A served battle, sealed into the id the voter sends back with the vote.

Serving a battle writes nothing: the two models, the prompt, the voter and
the time are encrypted and authenticated (AES-GCM from `cryptography`) into
the battle id, and the vote stores battle and vote in one transaction.  The
voter cannot read which models they were shown (the ciphertext says
nothing), cannot change them (the tag fails), and any process holding the
store's secret can take the vote, so several `gauntlet serve` workers need
no shared memory.  A ticket is valid for `max_age` seconds.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gauntlet.errors import StoreError

MAX_TICKET_CHARS = 600


@dataclass(frozen=True)
class ServedBattle:
    id: str  # the battle's public id in the store (random)
    round_key: str
    voter_id: str
    prompt_id: str
    model_a: str
    model_b: str
    served_at: float  # seconds since the epoch


class UnknownBattle(StoreError):
    """A battle id that this arena did not serve, or served too long ago (HTTP 404)."""


class BattleTickets:
    def __init__(self, secret: bytes, *, max_age: float = 6 * 3600) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"gauntlet arena battle").derive(secret)
        self._aead = AESGCM(key)
        self.max_age = max_age

    def issue(self, battle: ServedBattle) -> str:
        payload = json.dumps([battle.id, battle.round_key, battle.voter_id, battle.prompt_id, battle.model_a,
                              battle.model_b, battle.served_at], separators=(",", ":")).encode()
        nonce = os.urandom(12)
        sealed = nonce + self._aead.encrypt(nonce, payload, None)
        return base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def open(self, ticket: str, now: float) -> ServedBattle:
        if not ticket or len(ticket) > MAX_TICKET_CHARS:
            raise UnknownBattle(f"unknown battle {ticket[:40]!r}")
        try:
            sealed = base64.urlsafe_b64decode(ticket + "=" * (-len(ticket) % 4))
            fields = json.loads(self._aead.decrypt(sealed[:12], sealed[12:], None))
            battle = ServedBattle(*fields)
        except (ValueError, TypeError, InvalidTag):
            raise UnknownBattle(f"unknown battle {ticket[:40]!r}") from None
        if now - battle.served_at > self.max_age:
            raise UnknownBattle("this battle was served too long ago; take a new one")
        return battle


def new_battle_id() -> str:
    return secrets.token_urlsafe(18)
