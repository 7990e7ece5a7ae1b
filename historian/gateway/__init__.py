"""The IT/OT gateway: push-only replication out of the plant network (``docs/gateway.md``).

Modules, one job each: :mod:`~historian.gateway.source` reads the OT store's commit log,
:mod:`~historian.gateway.sink` applies versions to a copy (a folder or ``s3://``),
:mod:`~historian.gateway.protocol` frames the push protocol, :mod:`~historian.gateway.receive`
is the TLS receiver on the IT side, :mod:`~historian.gateway.replicate` is the sender, and
:mod:`~historian.gateway.diode` is the one-way (data diode) mode over UDP.
"""
