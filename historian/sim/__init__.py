"""A simulated plant served by real Modbus TCP and OPC UA servers on 127.0.0.1.

For the demo, the tests and trying a collector config without a PLC::

    from historian.sim import SimServers
    async with SimServers() as sim:       # ports picked for you
        print(sim.endpoints, sim.config())

or, blocking, from a script/notebook: ``serve_plant(modbus_port=5020, opcua_port=4840)``.
"""

from historian.sim.modbus_server import SimModbusServer
from historian.sim.opcua_server import NAMESPACE_URI, SimOpcuaServer
from historian.sim.plant import TAGS, Plant, TagInfo
from historian.sim.servers import (
    MODBUS_POINTS,
    OPCUA_TAGS,
    SimServers,
    plant_config,
    plant_config_toml,
    serve_plant,
    server_ssl_context,
)

__all__ = [
    "MODBUS_POINTS",
    "NAMESPACE_URI",
    "OPCUA_TAGS",
    "TAGS",
    "Plant",
    "SimModbusServer",
    "SimOpcuaServer",
    "SimServers",
    "TagInfo",
    "plant_config",
    "plant_config_toml",
    "serve_plant",
    "server_ssl_context",
]
