"""A real SMTP server (aiosmtpd) in the test process that records what it accepted, for delivery tests."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from email import message_from_bytes, policy
from email.message import Message

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Handler:
    def __init__(self):
        self.accepted: list[Message] = []
        self.aborted = 0
        self.hold_next = False
        self.holding = threading.Event()
        self.reject: str | None = None

    async def handle_DATA(self, server, session, envelope):
        if self.reject:
            return self.reject
        if self.hold_next:
            # Keep the client waiting for our answer to DATA: the message is not accepted until we reply 250.
            self.hold_next = False
            self.holding.set()
            try:
                while True:
                    await asyncio.sleep(0.05)
            except asyncio.CancelledError:  # the client went away (killed): nothing was accepted
                self.aborted += 1
                raise
        self.accepted.append(message_from_bytes(envelope.original_content or envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


class MailServer:
    """``start()``/``stop()`` on a fixed port, so a test can take the server down and bring it back."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.handler = _Handler()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def messages(self) -> list[Message]:
        return self.handler.accepted

    def start(self) -> MailServer:
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, ready_timeout=10)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Message]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages
