"""Logging filters named in settings.LOGGING."""

import logging


class DropHttp2Notice(logging.Filter):
    """Drop daphne's start-up line about HTTP/2 being off.

    Tagger serves HTTP/1.1 and WebSockets behind loopback or a proxy, where
    HTTP/2 is the proxy's business; the notice ("install the http2 and tls
    Twisted extras") reads like a failure to someone starting the server.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("HTTP/2 support not enabled")
