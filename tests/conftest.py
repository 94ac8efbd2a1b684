"""Shared factories: real aiohttp servers on 127.0.0.1 as upstreams and gateways."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.app import create_app
from gateway.config import Config, parse_config
from gateway.exchange import Exchange, RequestData

StartUpstream = Callable[[web.Application], Awaitable[str]]
StartGateway = Callable[..., Awaitable["RunningGateway"]]


class RunningGateway:
    def __init__(self, server: TestServer, config: Config) -> None:
        self.server = server
        self.config = config
        self.app = server.app
        self.url = str(server.make_url("")).rstrip("/")


def make_config(targets: dict[str, str], tmp_path: Path, **overrides: Any) -> Config:
    data: dict[str, Any] = {
        "upstreams": {name: {"url": url} for name, url in targets.items()},
        "routes": [{"name": "default", "prefix": "/", "upstream": next(iter(targets))}],
        "state_dir": str(tmp_path / "state"),
        "secrets": {"hmac_key": "test-hmac-key-0123456789abcdef"},
    }
    data.update(overrides)
    return parse_config(data, env={})


def make_exchange(method: str = "GET", path: str = "/", **kwargs: Any) -> Exchange:
    from multidict import CIMultiDict

    request = RequestData(
        method=method, path=path, query_string=kwargs.pop("query_string", ""),
        headers=CIMultiDict(kwargs.pop("headers", {})), client_ip="127.0.0.1",
    )
    return Exchange(request_id="test-request", request=request, **kwargs)


@pytest.fixture(scope="session", autouse=True)
def shared_text_recognizers():
    """Load jieba's dictionary once per test session instead of once per gateway.

    The same real recognizers are handed to every engine; nothing is faked.
    """
    import functools

    from gateway import detection

    cached = functools.lru_cache(maxsize=8)(detection.build_text_recognizers)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(detection, "build_text_recognizers", cached)
        yield


@pytest.fixture
async def start_upstream() -> AsyncIterator[StartUpstream]:
    servers: list[TestServer] = []

    async def start(app: web.Application) -> str:
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return str(server.make_url("")).rstrip("/")

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
async def start_gateway(tmp_path: Path) -> AsyncIterator[StartGateway]:
    servers: list[TestServer] = []

    async def start(target: dict[str, str] | str, **overrides: Any) -> RunningGateway:
        upstreams = {"crm": target} if isinstance(target, str) else target
        config = overrides.pop("config", None) or make_config(upstreams, tmp_path, **overrides)
        server = TestServer(create_app(config), host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return RunningGateway(server, config)

    yield start
    for server in servers:
        await server.close()


POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"


def _postgres_reason() -> str | None:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL at 127.0.0.1:5432/test is not reachable ({type(exc).__name__})"
    return None


def _redis_reason() -> str | None:
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.ping()
        client.close()
    except Exception as exc:
        return f"Redis at 127.0.0.1:6379 is not reachable ({type(exc).__name__})"
    return None


@contextmanager
def postgres_schema(prefix: str = "t_") -> Iterator[str]:
    """A PostgreSQL URL whose connections live in a fresh schema, dropped afterwards."""
    import secrets

    import sqlalchemy as sa

    schema = prefix + secrets.token_hex(6)
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    reason = _postgres_reason()
    if reason:
        pytest.skip(reason)
    with postgres_schema() as url:
        yield url


class Clock:
    """A settable clock for stores and stages that take ``clock=``."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test against the embedded SQLite file and the shared PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis URL with a unique key prefix in ``DLPGW_TEST_PREFIX``; keys are removed after."""
    import redis

    reason = _redis_reason()
    if reason:
        pytest.skip(reason)
    yield REDIS_URL
    client = redis.Redis.from_url(REDIS_URL)
    client.close()
