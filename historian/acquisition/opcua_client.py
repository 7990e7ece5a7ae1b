"""The asyncua client as the collector uses it: bounded messages, no readable passwords.

asyncua's :class:`~asyncua.Client` (2.1) trusts the server in three ways that a hostile server
can exploit, each closed here:

- **Unbounded messages.** ``Client.max_messagesize``/``max_chunkcount`` are only *advertised*
  in the Hello; the socket protocol enforces no limit (``TransportLimits(..., 0, 0)``) and adopts
  whatever the server's Acknowledge says (``0`` = unlimited). It also buffers a chunk of any
  declared length (up to 4 GiB) before looking at it. :class:`BoundedProtocol` keeps our limits
  (the smaller of ours and the server's), refuses a chunk whose header declares more than
  :data:`CHUNK_BYTES` as soon as the header arrives, and so bounds memory by
  ``max_message_size`` before any certificate is checked.
- **Readable passwords.** With ``security_mode = "Sign"`` and a UserName token policy of
  ``None`` asyncua sends the password in clear (it only logs a warning). :class:`GuardedClient`
  refuses that unless ``allow_plaintext_password = true``, before the token is built, so the
  server never receives the user name either; a token policy of Basic128Rsa15/Basic256 is
  refused always.
- **Opaque refusals.** A server that refuses our certificate while the secure channel opens
  answers with a ServiceFault, which asyncua 2.1 turns into a bare ``AssertionError``; here it
  becomes the StatusCode the server sent (mapped to a
  :class:`~historian.errors.SourceSecurityError` by the source).

Examples
--------
>>> limits = BoundedLimits.for_message_size(16 * 2**20)
>>> limits.max_message_size, limits.max_chunk_count, limits.max_recv_buffer
(16777216, 2049, 65536)
>>> from asyncua import ua
>>> ack = ua.Acknowledge(ReceiveBufferSize=65536, SendBufferSize=65536, MaxMessageSize=0,
...                      MaxChunkCount=0)
>>> limits.update_client_limits(ack)  # a server saying "no limits" does not lift ours
>>> limits.max_message_size, limits.max_chunk_count
(16777216, 2049)
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from asyncua import Client, ua
from asyncua.client.ua_client import UASocketProtocol
from asyncua.common.connection import TransportLimits
from asyncua.common.utils import wait_for
from asyncua.crypto import security_policies
from asyncua.ua.ua_binary import uatcp_to_binary

from historian.acquisition.compat import install_protocol_factory
from historian.errors import SourceSecurityError
from historian.model import quality as _q

__all__ = ["CHUNK_BYTES", "BoundedLimits", "BoundedProtocol", "GuardedClient"]

logger = logging.getLogger(__name__)

#: The largest chunk we accept (and advertise as our ReceiveBufferSize).
CHUNK_BYTES = 65536
_DEPRECATED_TOKEN_POLICIES = ("#Basic128Rsa15", "#Basic256")


@dataclass
class BoundedLimits(TransportLimits):
    """TransportLimits that a server's Acknowledge can lower but never raise or lift."""

    ceiling_message_size: int = 0
    ceiling_chunk_count: int = 0

    @classmethod
    def for_message_size(cls, max_message_size: int) -> BoundedLimits:
        """Limits for messages of at most ``max_message_size`` bytes."""
        chunks = max_message_size // 8192 + 1  # chunks are 8 kB or more (Part 6 minimum)
        return cls(CHUNK_BYTES, CHUNK_BYTES, chunks, max_message_size, max_message_size, chunks)

    @staticmethod
    def _lower(ours: int, theirs: int) -> int:
        return min(ours, int(theirs)) if theirs > 0 else ours

    def update_client_limits(self, msg: ua.Acknowledge) -> None:
        self.max_message_size = self._lower(self.ceiling_message_size, msg.MaxMessageSize)
        self.max_chunk_count = self._lower(self.ceiling_chunk_count, msg.MaxChunkCount)
        # What we may send: within what the server says it receives (asyncua swaps the two
        # fields; the smaller of both is right either way). What we receive stays CHUNK_BYTES.
        send = [int(v) for v in (msg.ReceiveBufferSize, msg.SendBufferSize) if v > 0]
        self.max_send_buffer = min([CHUNK_BYTES, *send]) if send else CHUNK_BYTES
        self.max_recv_buffer = CHUNK_BYTES


class BoundedProtocol(UASocketProtocol):
    """The asyncua socket protocol with receive limits that hold against a hostile server.

    Overrides private asyncua methods and reads private state: each is listed in
    :data:`historian.acquisition.compat.ASYNCUA_OVERRIDES` and pinned by a test.
    """

    def __init__(self, *args: Any, max_message_size: int, **kwargs: Any) -> None:
        limits = BoundedLimits.for_message_size(max_message_size)
        super().__init__(*args, limits=limits, **kwargs)  # type: ignore[misc]
        self.max_message_size = max_message_size
        self.last_error: Exception | None = None
        self._opn_answer: Any = None

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        rest = self.receive_buffer
        if rest is None or self.transport is None:
            return
        declared = int.from_bytes(rest[4:8], "little") if len(rest) >= 8 else 0
        if declared > CHUNK_BYTES or len(rest) > CHUNK_BYTES:
            logger.error("OPC UA server sent a chunk of %d bytes (limit %d): closing",
                         max(declared, len(rest)), CHUNK_BYTES)  # fmt: skip
            self.receive_buffer = None
            self._fail_all_pending(ua.UaStatusCodeError(ua.StatusCodes.BadResponseTooLarge))
            self.disconnect_socket()

    def _fail_all_pending(self, exc: Exception) -> None:
        self.last_error = exc
        super()._fail_all_pending(exc)

    def _call_callback(self, request_id: int, body: Any) -> None:
        if isinstance(self._open_secure_channel_exchange, ua.OpenSecureChannelParameters) and (
            hasattr(body, "copy")
        ):
            self._opn_answer = body.copy()  # kept to read a ServiceFault asyncua cannot parse
        super()._call_callback(request_id, body)

    def _opn_fault(self) -> ua.UaStatusCodeError:
        """The StatusCode of the ServiceFault the server sent instead of an OPN response."""
        from asyncua.ua.ua_binary import struct_from_binary

        if isinstance(self.last_error, ua.UaStatusCodeError):
            return self.last_error
        answer = self._opn_answer
        if answer is not None:
            try:
                fault = struct_from_binary(ua.ServiceFault, answer)
                code = fault.ResponseHeader.ServiceResult.value
                if code & _q.BAD:
                    return ua.UaStatusCodeError(code)
            except Exception:  # not a ServiceFault either: fall through
                logger.debug("OPN answer is neither a response nor a ServiceFault")
        return ua.UaStatusCodeError(ua.StatusCodes.BadSecurityChecksFailed)

    async def send_hello(self, url: str, max_messagesize: int = 0, max_chunkcount: int = 0) -> Any:
        limits = self._connection._limits
        hello: Any = ua.Hello()  # asyncua types its fields as ua.String/UInt32, set from int/str
        hello.EndpointUrl = url
        hello.ReceiveBufferSize = CHUNK_BYTES
        hello.SendBufferSize = CHUNK_BYTES
        hello.MaxMessageSize = limits.max_message_size
        hello.MaxChunkCount = limits.max_chunk_count
        ack: asyncio.Future[Any] = asyncio.Future()
        self._callbackmap[0] = ack
        if self.transport is not None:
            hello_type: Any = ua.MessageType.Hello  # bytes, typed as MessageType by asyncua
            self.transport.write(uatcp_to_binary(hello_type, hello))
        return await wait_for(ack, self.timeout)

    async def open_secure_channel(self, params: Any) -> Any:
        try:
            return await super().open_secure_channel(params)
        # asyncua 2.1: an AssertionError when the server answered OpenSecureChannel with a fault
        except AssertionError as exc:
            self._open_secure_channel_exchange = None
            raise self._opn_fault() from exc


class GuardedClient(Client):
    """An asyncua Client with :class:`BoundedProtocol` and the plaintext-password rule.

    Parameters
    ----------
    url : str
        The endpoint.
    where : str
        Prefix of error messages (``"opcua 'reactor' (opc.tcp://...)"``).
    max_message_size : int
        Largest message accepted from the server, in bytes.
    allow_plaintext_password : bool
        Send a password even when neither the token nor the channel encrypts it.
    """

    def __init__(self, url: str, *, where: str, max_message_size: int,
                 allow_plaintext_password: bool = False, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(url, **kwargs)
        self.where = where
        self.allow_plaintext_password = allow_plaintext_password
        self.max_messagesize = max_message_size
        self.max_chunkcount = BoundedLimits.for_message_size(max_message_size).max_chunk_count
        install_protocol_factory(self.uaclient, lambda timeout, policy: BoundedProtocol(
            timeout, security_policy=policy, max_message_size=max_message_size))  # fmt: skip

    def _add_user_auth(self, params: Any, username: str | None, password: str | None) -> None:
        policy = self.server_policy(ua.UserTokenType.UserName)
        uri = policy.SecurityPolicyUri or ""
        if password and uri.endswith(_DEPRECATED_TOKEN_POLICIES):
            raise SourceSecurityError(
                f"{self.where}: the server wants the password encrypted with the deprecated "
                f"policy {uri.rsplit('#', 1)[-1]} (broken RSA PKCS#1 v1.5 / SHA-1); refused "
                "before sending it: configure the server's UserName token policy to "
                "Basic256Sha256 or an Aes policy"
            )
        token_clear = not uri or uri == security_policies.SecurityPolicyNone.URI
        channel_encrypted = self.security_policy.Mode == ua.MessageSecurityMode.SignAndEncrypt
        if password and token_clear and not channel_encrypted and not self.allow_plaintext_password:
            raise SourceSecurityError(
                f"{self.where}: the password would cross the network readable (security_mode "
                f"{self.security_policy.Mode.name} does not encrypt, and the server's UserName "
                "token policy is None); refused before sending the user name or password: use "
                'security_mode = "SignAndEncrypt", or set allow_plaintext_password = true for '
                "this endpoint if the network is trusted"
            )
        super()._add_user_auth(params, username, password)
