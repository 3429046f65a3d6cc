"""Django's PostgreSQL backend, with a health check that costs no round trip.

A connection kept between requests (DATABASE_CONN_MAX_AGE) is checked before a request first
uses it (CONN_HEALTH_CHECKS). Django checks by sending SELECT 1 and waiting for the answer:
a round trip on every request that touches the database, about 0.1 ms of the app server's
CPU, and PostgreSQL's, twice a sign-in (issue 13). A connection the server has ended (a
restart, an idle timeout, pg_terminate_backend) has the server's last message and the end of
the stream waiting on its socket, and a healthy idle connection has nothing to read, so a
look at the socket, without waiting, tells them apart.

What a look cannot see is a connection dropped without a word: a database host that crashed,
or a firewall that forgot an idle connection. SELECT 1 would have met the reset and
reconnected; here the first request to use that connection fails, and Django then closes it
(is_usable is asked again after an error, and a broken connection answers False), so each
worker loses one request. Connections are kept 60 s at most (DATABASE_CONN_MAX_AGE), well
under the idle timeouts of firewalls.
"""

import select

from django.db.backends.postgresql.base import DatabaseWrapper as PostgresDatabaseWrapper
from psycopg import pq

# What the connection may be doing between requests and still take the next statement: idle,
# or (when called inside a transaction) in one that has not failed.
_READY = (pq.TransactionStatus.IDLE, pq.TransactionStatus.INTRANS)


class DatabaseWrapper(PostgresDatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed:
            return False
        if connection.pgconn.status != pq.ConnStatus.OK:
            return False
        if connection.info.transaction_status not in _READY:
            return False
        # Anything to read on an idle connection was not asked for: the server's goodbye, or
        # a message no request expects. Either way a new connection is the safe answer.
        poll = select.poll()
        poll.register(connection.fileno(), select.POLLIN)
        return not poll.poll(0)
