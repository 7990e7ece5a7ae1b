"""Every place historian relies on a dependency's internals (pymodbus, asyncua), in one module.

Each function below touches a private attribute, or matches a message text, because the
dependency offers no public way to do what we need. Each is pinned by a test in
``tests/acquisition/test_compat.py`` that fails when the installed version renames or reshapes
the internal, so an upgrade breaks a named test instead of a collector in the field.

pymodbus (3.x)
    :func:`keep_connection_on_timeouts` - ``client.ctx.max_until_disconnect`` /
    ``count_until_disconnect``: pymodbus drops the connection after ``retries + 3`` unanswered
    requests; a slow device would flip to Bad_NoCommunication and reconnect with backoff.
    :func:`pending_response` - ``client.ctx.response_future``: the request waiting for its
    answer, failed at once when the connection drops (instead of waiting out its timeout).

asyncua (2.x)
    :func:`install_protocol_factory` - ``UaClient._make_protocol`` and the private hooks a
    protocol is wired with (``_timeout``, ``_pre_request_hook``, ``_on_transport_lost``,
    ``_is_session_closing``): the only way to put our bounded protocol under a ``Client``.
    :data:`ASYNCUA_OVERRIDES` - the private methods our subclasses override
    (``UASocketProtocol._fail_all_pending``, ``_call_callback``; ``Client._add_user_auth``) and
    the private state they read (``_open_secure_channel_exchange``, ``_callbackmap``,
    ``_connection._limits``).
    :func:`is_no_matching_endpoint` - asyncua raises a plain ``ua.UaError`` whose only mark is its
    text when the server offers no endpoint with the requested policy/mode; the one text match.

Examples
--------
>>> is_no_matching_endpoint(ValueError("No matching endpoints: x"))
False
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

__all__ = [
    "ASYNCUA_OVERRIDES",
    "install_protocol_factory",
    "is_no_matching_endpoint",
    "keep_connection_on_timeouts",
    "pending_response",
]

#: (module, class, private method, its parameters after self) our asyncua subclasses override.
ASYNCUA_OVERRIDES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("asyncua.client.ua_client", "UASocketProtocol", "_fail_all_pending", ("exc",)),
    ("asyncua.client.ua_client", "UASocketProtocol", "_call_callback", ("request_id", "body")),
    ("asyncua.client.ua_client", "UASocketProtocol", "open_secure_channel", ("params",)),
    ("asyncua.client.ua_client", "UaClient", "_make_protocol", ()),
    ("asyncua.client.client", "Client", "_add_user_auth", ("params", "username", "password")),
)

#: The text of asyncua's ``ua.UaError`` for "no endpoint with this policy/mode" (asyncua 2.1,
#: ``Client.connect`` -> ``find_endpoint``); asyncua has no exception type for it.
NO_MATCHING_ENDPOINTS = "No matching endpoints"


# ------------------------------------------------------------------------------- pymodbus
def keep_connection_on_timeouts(client: Any) -> bool:
    """Stop pymodbus from closing the connection after a few unanswered requests.

    Unanswered requests are Bad_Timeout for us; a lost connection is seen as such. Returns
    False when the client has no such counters (then pymodbus' own rule applies).
    """
    ctx = getattr(client, "ctx", None)
    if ctx is None or not hasattr(ctx, "max_until_disconnect"):
        return False
    ctx.max_until_disconnect = ctx.count_until_disconnect = 2**62
    return True


def pending_response(client: Any) -> asyncio.Future[Any] | None:
    """The future of the request waiting for its response, if one is waiting."""
    future = getattr(getattr(client, "ctx", None), "response_future", None)
    if isinstance(future, asyncio.Future) and not future.done():
        return future
    return None


# ------------------------------------------------------------------------------- asyncua
def install_protocol_factory(uaclient: Any, factory: Callable[..., Any]) -> None:
    """Make ``uaclient`` (an ``asyncua.client.ua_client.UaClient``) build its protocol with
    ``factory(timeout, security_policy)``, wired with the hooks asyncua's own factory sets."""

    def make_protocol() -> Any:
        proto = factory(uaclient._timeout, uaclient.security_policy)
        proto.pre_request_hook = uaclient._pre_request_hook
        proto.on_connection_lost = uaclient._on_transport_lost
        proto.is_session_closing = uaclient._is_session_closing
        uaclient.protocol = proto
        return proto

    uaclient._make_protocol = make_protocol


def is_no_matching_endpoint(exc: BaseException) -> bool:
    """Whether ``exc`` is asyncua's "no endpoint with this security_policy/mode" error."""
    try:
        from asyncua import ua
    except ImportError:  # pragma: no cover - asyncua is a dependency
        return False
    return isinstance(exc, ua.UaError) and NO_MATCHING_ENDPOINTS in str(exc)
