"""Rate limiting per token: a fixed one-minute window, in process memory by default and in
Redis (shared by every web process) when CRM_REDIS_URL is set."""

from __future__ import annotations

import logging

import pytest

from core import api, create_app
from core.api_tokens import hash_token
from core.db import get_database
from core.testing import base_test_config
from tests.core.test_api import PLUGIN, TEAMS, assert_problem, bearer, make_token

REDIS_URL = "redis://127.0.0.1:6379/15"
LIMIT = 3
NOW = 1_800_000_010.0  # ten seconds into a window


def redis_or_skip():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis at 127.0.0.1:6379 is unreachable ({error}); the Redis limiter is untested here")
    return client


@pytest.fixture
def clock(monkeypatch):
    """Stops the limiter's clock, so a test never straddles two windows."""
    moment = {"now": NOW}
    monkeypatch.setattr(api, "_clock", lambda: moment["now"])
    return moment


@pytest.fixture(params=["memory", "redis"])
def backend(request):
    if request.param == "redis":
        redis_or_skip()
    return request.param


@pytest.fixture
def app_config(fixture_plugins_path, backend):
    config = {"CRM_PLUGIN_MODULES": [PLUGIN], "CRM_API_RATE_LIMIT": LIMIT}
    if backend == "redis":
        config["CRM_REDIS_URL"] = REDIS_URL
    return config


@pytest.fixture
def crm_plugins():
    return [PLUGIN]


@pytest.fixture
def second_process(app, tmp_path, app_config, crm_plugins):
    """Another application on the same database and configuration: a second web process."""
    config = base_test_config(tmp_path / "second", get_database(app).url, crm_plugins)
    config.update(app_config)
    config["CRM_CHECK_SCHEMA"] = False
    other = create_app(config)
    yield other
    get_database(other).dispose()


@pytest.fixture
def secret(app, company):
    company.enable(PLUGIN)
    return make_token(app, company)


def test_the_limiter_is_the_configured_backend(app, backend):
    expected = api.RedisRateLimiter if backend == "redis" else api.MemoryRateLimiter
    assert isinstance(api.rate_limiter(app), expected)


def test_requests_over_the_limit_answer_429_with_retry_after(client, secret, clock):
    remaining = []
    for _ in range(LIMIT):
        response = client.get(TEAMS, headers=bearer(secret))
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == str(LIMIT)
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))

    refused = client.get(TEAMS, headers=bearer(secret))

    assert remaining == [2, 1, 0]
    body = assert_problem(refused, 429)
    assert refused.headers["Retry-After"] == "50"  # the window ends 50 seconds after NOW
    assert "50 seconds" in body["detail"]


def test_the_next_window_lets_requests_through_again(client, secret, clock):
    for _ in range(LIMIT + 1):
        client.get(TEAMS, headers=bearer(secret))

    clock["now"] = NOW + api.RATE_WINDOW_SECONDS

    assert client.get(TEAMS, headers=bearer(secret)).status_code == 200


def test_each_token_has_its_own_count(app, client, company, secret, clock):
    other = make_token(app, company)
    for _ in range(LIMIT + 1):
        client.get(TEAMS, headers=bearer(secret))

    assert client.get(TEAMS, headers=bearer(other)).status_code == 200


def test_requests_without_a_valid_token_are_not_counted_against_it(client, secret, clock):
    for _ in range(LIMIT + 2):
        client.get(TEAMS, headers=bearer(secret + "x"))

    assert client.get(TEAMS, headers=bearer(secret)).status_code == 200


def test_a_limit_of_zero_turns_limiting_off(app, client, secret, clock):
    app.config["CRM_API_RATE_LIMIT"] = 0

    for _ in range(LIMIT + 2):
        response = client.get(TEAMS, headers=bearer(secret))
        assert response.status_code == 200
    assert "X-RateLimit-Limit" not in response.headers


def test_two_web_processes_share_the_count_only_in_redis(client, second_process, secret, backend, clock):
    for _ in range(LIMIT):
        assert client.get(TEAMS, headers=bearer(secret)).status_code == 200

    response = second_process.test_client().get(TEAMS, headers=bearer(secret))

    # In memory each process counts alone: the documented limitation.
    assert response.status_code == (429 if backend == "redis" else 200)


@pytest.mark.parametrize("backend", ["redis"], indirect=True)
def test_redis_keeps_each_window_only_briefly(client, secret, clock):
    client.get(TEAMS, headers=bearer(secret))

    key = f"{api.RedisRateLimiter.PREFIX}{hash_token(secret)[:32]}:{int(NOW // 60)}"
    redis = redis_or_skip()
    assert int(redis.get(key)) == 1
    assert 0 < redis.ttl(key) <= 2 * api.RATE_WINDOW_SECONDS


def test_an_unreachable_redis_lets_requests_through_and_warns(caplog):
    limiter = api.RedisRateLimiter("redis://127.0.0.1:1/0")

    with caplog.at_level(logging.WARNING, logger="core.api"):
        count = limiter.hit("some-token", 1, now=NOW)
        count = limiter.hit("some-token", 1, now=NOW)

    assert count.allowed
    assert "Redis is unavailable" in caplog.text


def test_the_memory_limiter_counts_in_fixed_windows():
    limiter = api.MemoryRateLimiter()

    first = [limiter.hit("k", 2, now=NOW).allowed for _ in range(3)]
    later = limiter.hit("k", 2, now=NOW + 60)

    assert first == [True, True, False]
    assert later.allowed and later.remaining == 1
