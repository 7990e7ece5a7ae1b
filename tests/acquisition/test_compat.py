"""Each dependency internal historian relies on (historian.acquisition.compat) still exists in
the installed pymodbus/asyncua with the shape we use: an upgrade that changes one fails here,
by name, instead of in a collector."""

from __future__ import annotations

import asyncio
import importlib
import inspect

import pytest

from historian.acquisition import compat


def _modbus_client():
    from pymodbus.client import AsyncModbusTcpClient

    # never connected: the port is not used, nothing is sent
    return AsyncModbusTcpClient("127.0.0.1", port=1, timeout=0.1, retries=0, reconnect_delay=0)


def test_pymodbus_disconnect_counters_exist_and_are_set():
    async def main() -> None:
        client = _modbus_client()
        try:
            ctx = client.ctx
            assert isinstance(ctx.max_until_disconnect, int)
            assert isinstance(ctx.count_until_disconnect, int)
            assert compat.keep_connection_on_timeouts(client) is True
            assert ctx.max_until_disconnect == ctx.count_until_disconnect == 2**62
        finally:
            client.close()

    asyncio.run(main())


def test_pymodbus_response_future_is_where_a_pending_request_waits():
    async def main() -> None:
        client = _modbus_client()
        try:
            assert hasattr(client.ctx, "response_future")  # the attribute pymodbus sets
            assert compat.pending_response(client) is None or isinstance(
                compat.pending_response(client), asyncio.Future
            )
            waiting: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            client.ctx.response_future = waiting
            assert compat.pending_response(client) is waiting
            waiting.set_result(None)
            assert compat.pending_response(client) is None  # done: nothing to fail
        finally:
            client.close()

    asyncio.run(main())


@pytest.mark.parametrize(
    ("module", "cls", "method", "params"),
    compat.ASYNCUA_OVERRIDES,
    ids=[f"{c}.{m}" for _, c, m, _ in compat.ASYNCUA_OVERRIDES],
)
def test_asyncua_private_methods_we_override_keep_their_signature(module, cls, method, params):
    klass = getattr(importlib.import_module(module), cls)
    func = getattr(klass, method)
    names = [p.name for p in inspect.signature(func).parameters.values()][1:]  # after self
    assert tuple(names[: len(params)]) == params, names


def test_asyncua_uaclient_has_the_hooks_a_protocol_is_wired_with():
    from asyncua import Client

    uaclient = Client("opc.tcp://127.0.0.1:1").uaclient  # nothing connects
    for name in ("_timeout", "_pre_request_hook", "_on_transport_lost", "_is_session_closing",
                 "_make_protocol", "security_policy"):  # fmt: skip
        assert hasattr(uaclient, name), name
    built = []

    class Proto:
        def __init__(self, timeout, policy):
            built.append((timeout, policy))

    compat.install_protocol_factory(uaclient, Proto)
    proto = uaclient._make_protocol()
    assert isinstance(proto, Proto) and uaclient.protocol is proto
    assert built == [(uaclient._timeout, uaclient.security_policy)]
    assert proto.on_connection_lost == uaclient._on_transport_lost


def test_asyncua_socket_protocol_keeps_the_private_state_we_read():
    from asyncua.client.ua_client import UASocketProtocol
    from asyncua.crypto.security_policies import SecurityPolicyNone

    proto = UASocketProtocol(1.0, security_policy=SecurityPolicyNone())
    for name in ("_open_secure_channel_exchange", "_callbackmap", "_connection",
                 "receive_buffer"):  # fmt: skip
        assert hasattr(proto, name), name
    assert hasattr(proto._connection, "_limits")


def test_asyncua_still_says_no_matching_endpoints_in_that_words():
    # asyncua has no exception type for it; the text is matched in one place (compat)
    from asyncua import ua
    from asyncua.client import client as client_module

    assert compat.NO_MATCHING_ENDPOINTS in inspect.getsource(client_module)
    assert compat.is_no_matching_endpoint(ua.UaError(f"{compat.NO_MATCHING_ENDPOINTS} for x"))
    assert not compat.is_no_matching_endpoint(ua.UaError("something else"))
