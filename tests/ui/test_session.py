"""Signed UI sessions: round trip, idle and absolute expiry, tampering, revocation, CSRF."""

from __future__ import annotations

from gateway.exchange import Principal
from gateway.ui.session import SessionCodec, SessionPolicy

GRACE = Principal("grace", ("compliance",), ("*",), "api_key")


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def codec(clock: Clock, key: bytes = b"master-key-0123456789") -> SessionCodec:
    return SessionCodec(key, SessionPolicy(idle_seconds=600, absolute_seconds=3600), clock)


def test_round_trip_keeps_the_principal():
    clock = Clock()
    c = codec(clock)
    session = c.new(GRACE)
    back = c.decode(c.encode(session))
    assert back == session and back.principal == GRACE
    anonymous = c.new(None)
    assert c.decode(c.encode(anonymous)).principal is None
    assert anonymous.sid != session.sid


def test_idle_and_absolute_expiry():
    clock = Clock()
    c = codec(clock)
    session = c.new(GRACE)
    clock.now += 599
    assert c.decode(c.encode(session)) is not None
    clock.now += 1
    assert c.decode(c.encode(session)) is None  # idle for 600 s
    active = c.new(GRACE)
    for _ in range(6):  # a request every 9 minutes keeps it alive ...
        clock.now += 540
        active = c.touch(active)
        assert c.decode(c.encode(active)) is not None
    clock.now += 540
    assert c.decode(c.encode(c.touch(active))) is None  # ... but not past one hour


def test_forged_cookies_are_refused():
    clock = Clock()
    c = codec(clock)
    value = c.encode(c.new(GRACE))
    payload, mac = value.split(".")
    admin = codec(clock).encode(c.new(Principal("mallory", ("admin",))))
    assert c.decode(payload + "." + admin.split(".")[1]) is None
    assert c.decode(payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
                    + "." + mac) is None
    assert codec(clock, b"another-master-key-987").decode(value) is None
    for junk in ("", "abc", "a.b.c", "." * 5000, None):
        assert c.decode(junk) is None


def test_sessions_from_the_future_are_refused():
    clock = Clock()
    c = codec(clock)
    clock.now += 3000
    value = c.encode(c.new(GRACE))
    clock.now -= 3000
    assert c.decode(value) is None


def test_revoked_sessions_stay_revoked():
    clock = Clock()
    c = codec(clock)
    session = c.new(GRACE)
    other = c.new(GRACE)
    c.revoke(session)
    assert c.decode(c.encode(session)) is None
    assert c.decode(c.encode(other)) is not None


def test_csrf_token_is_bound_to_the_session():
    clock = Clock()
    c = codec(clock)
    one, two = c.new(GRACE), c.new(GRACE)
    assert c.csrf_ok(one, c.csrf_token(one))
    assert not c.csrf_ok(one, c.csrf_token(two))
    assert not c.csrf_ok(one, None)
    assert not c.csrf_ok(one, "")
    assert not codec(clock, b"another-master-key-987").csrf_ok(one, c.csrf_token(one))
