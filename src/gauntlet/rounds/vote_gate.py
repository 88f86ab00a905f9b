"""Who is voting, as far as limits that survive clearing cookies need to know.

- `client_address`: the peer's address, or, when the peer is one of the
  configured trusted proxies, the address that proxy put in the configured
  header (`X-Forwarded-For` style: read from the right, skipping our own
  proxies, so a client cannot pick its address by sending the header itself).
- `OriginKeys`: one-way keys of the address and of its network prefix (/24
  for IPv4, /48 for IPv6: one household, office or small provider block);
  the raw address is never stored.
- A hashcash proof of work bound to the battle id: the browser (or any
  client) finds a nonce whose SHA-256 with the battle id starts with `bits`
  zero bits.  It costs an honest voter a fraction of a second per battle and
  a vote farm the same per vote, with no third-party service.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from functools import lru_cache
from itertools import count

from gauntlet.errors import InputError

IPV4_PREFIX = 24
IPV6_PREFIX = 48
MAX_NONCE_CHARS = 32


def client_address(peer: str | None, forwarded: str | None, trusted_proxies: tuple[str, ...]) -> str:
    """The voter's address: `peer`, or the right-most untrusted entry of `forwarded` when
    `peer` is a trusted proxy.  Unparseable entries end the walk (a client wrote them)."""
    networks = [ipaddress.ip_network(n, strict=False) for n in trusted_proxies]

    def trusted(text: str) -> bool:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return False
        return any(address in n for n in networks)

    if not peer or not forwarded or not trusted(peer):
        return peer or ""
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    address = peer
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break
        address = hop
        if not trusted(hop):
            break
    return address


def network_of(address: str) -> str:
    """The address's network prefix as text ("" for an unparseable address)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return ""
    if parsed.version == 6 and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    prefix = IPV4_PREFIX if parsed.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{parsed}/{prefix}", strict=False))


class OriginKeys:
    def __init__(self, secret: bytes, *, remembered: int = 1 << 16) -> None:
        self._secret = hashlib.sha256(b"gauntlet arena origin|" + secret).digest()
        # A voter's address is the same on every request: parse and hash it once.
        self.of = lru_cache(maxsize=remembered)(self._of)

    def _key(self, kind: str, value: str) -> str:
        return hmac.new(self._secret, f"{kind}|{value}".encode(), hashlib.sha256).hexdigest()[:24]

    def _of(self, address: str) -> tuple[str, str]:
        """(address key, network key); empty strings when the peer is not an IP address
        (a Unix socket, an in-process test client): there is nothing to limit by."""
        network = network_of(address)
        if not network:
            return "", ""
        return self._key("address", address), self._key("network", network)


def _leading_zero_bits(digest: bytes) -> int:
    bits = 0
    for byte in digest:
        if byte:
            return bits + 8 - byte.bit_length()
        bits += 8
    return bits


def proof_of_work_ok(battle_id: str, nonce: str, bits: int) -> bool:
    if bits <= 0:
        return True
    if not nonce or len(nonce) > MAX_NONCE_CHARS:
        return False
    return _leading_zero_bits(hashlib.sha256(f"{battle_id}:{nonce}".encode()).digest()) >= bits


def check_proof_of_work(battle_id: str, nonce: str | None, bits: int) -> None:
    if not proof_of_work_ok(battle_id, nonce or "", bits):
        raise InputError(f"this arena asks anonymous voters for a proof of work ({bits} bits) with each vote; "
                         "reload the page and let it finish")


def solve_proof_of_work(battle_id: str, bits: int) -> str:
    """The nonce a client sends (what the arena page computes in the browser)."""
    for n in count():
        if proof_of_work_ok(battle_id, str(n), bits):
            return str(n)
    raise AssertionError("unreachable")
