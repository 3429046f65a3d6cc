"""Django's Redis cache, with one redis-py client per connection pool.

Django makes a new redis.Redis object for every cache call (RedisCacheClient.get_client);
since redis-py 6 that object builds its event dispatcher, retry and callbacks each time,
which costs more CPU than the command it sends. A client shares its pool's connections and
is safe to share between threads, so one per pool is kept and reused (issue 13).
"""

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class ReusedClients(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ReusedClients

    def client(self):
        """The redis-py client for what Django's cache API cannot say (accounts.checking's
        script); keys made with make_key(), as the cache's own."""
        return self._cache.get_client(write=True)
