"""`ip_address__in_network`: the addresses inside a network, for staff searching the security
log or the lockouts list by one ("2001:db8:1:2::/64", as the lockouts list shows an IPv6
client, or an office's "203.0.113.0/28").

PostgreSQL keeps addresses as `inet` and answers `<<=` itself, from the column's index.
SQLite keeps text: a function of ours, added to each connection, answers there.
"""

import ipaddress

from django.db.backends.signals import connection_created
from django.db.models import GenericIPAddressField, Lookup


@GenericIPAddressField.register_lookup
class InNetwork(Lookup):
    lookup_name = "in_network"
    prepare_rhs = False  # a network, which the field's own preparation would refuse

    def get_db_prep_lookup(self, value, connection):
        return "%s", [str(ipaddress.ip_network(value, strict=False))]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"jenco_in_network({lhs}, {rhs})", (*lhs_params, *rhs_params)

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} <<= {rhs}::inet", (*lhs_params, *rhs_params)


def _in_network(address: str | None, network: str) -> bool:
    if not address:
        return False
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(network)
    except ValueError:  # a row from before addresses were checked: in no network
        return False


def _add_to_sqlite(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            "jenco_in_network", 2, _in_network, deterministic=True
        )


connection_created.connect(_add_to_sqlite)
