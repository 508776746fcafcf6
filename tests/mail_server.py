"""A real SMTP server for tests (aiosmtpd), started by the test that needs it.

`smtp_server` listens on a free loopback port and records every message it accepts (parsed
with the standard library), and points settings.MAILERS at it: the shop's mails then travel
over SMTP exactly as in production. `smtp_server.refuse = n` answers the next n messages with a
temporary failure (451), as a busy mail server would.
"""

import email
import email.policy
import logging
import socket
import threading

import pytest


class Recorder:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.refuse = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        with self.lock:
            if self.refuse:
                self.refuse -= 1
                return "451 4.3.0 Try again later"
            self.messages.append(
                email.message_from_bytes(envelope.content, policy=email.policy.default)
            )
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    from tests.support import skip_or_fail

    try:
        from aiosmtpd.controller import Controller
    except ImportError:  # pragma: no cover - dev dependencies missing
        skip_or_fail("aiosmtpd is not installed (make install)")
    # aiosmtpd logs every line it reads at DEBUG: a mail's content has no place in the logs.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    recorder = Recorder()
    port = _free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "use_tls": False, "timeout": 5},
        }
    }
    try:
        yield recorder
    finally:
        controller.stop()
