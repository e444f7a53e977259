"""Multipart part headers that are not UTF-8 reach Django as UTF-8.

Browsers send part headers in UTF-8, but scripts and older tools send a file
name in Latin-1 or as raw bytes. django.http.multipartparser decodes each part
header line as UTF-8 and silently skips one it cannot decode, so such a part
loses its Content-Disposition and never reaches the view: an upload of
`caf\\xe9.png` answered "files: Field required" instead of a result for it.

`PartHeaderTranscoder` sits between the request body and Django's parser. It
finds each part's header block exactly where Django does (after CRLF, or the
body's start, then `--boundary`, up to the blank line) and, when the block is
not valid UTF-8, re-encodes it from Windows-1252 (Latin-1 for the five bytes
that code page leaves undefined). ASCII bytes never change, so quoting and
framing stay as sent; file contents pass through untouched.

It also mends one framing Django misreads: a part with headers and no body
may leave out the blank line (RFC 2046: `body-part := MIME-part-headers
[CRLF *OCTET]`), as werkzeug writes an empty file. Django then finds no end
of headers in the part and drops it whole, so an empty upload answered
"files: Field required". The missing CRLF is put back: an empty part.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase
from django.utils.http import parse_header_parameters

# Django reads at most this much of a part's header block (parse_boundary_stream).
MAX_HEADER_BLOCK = 1024
HEADER_END = b"\r\n\r\n"


def transcode_header_block(block: bytes) -> bytes:
    """The header block as UTF-8: unchanged when it already is, else read as Windows-1252."""
    try:
        block.decode("utf-8")
        return block
    except UnicodeDecodeError:
        pass
    return "".join(_cp1252_or_latin1(byte) for byte in block).encode("utf-8")


def _cp1252_or_latin1(byte: int) -> str:
    single = bytes((byte,))
    try:
        return single.decode("cp1252")
    except UnicodeDecodeError:
        return single.decode("latin-1")


class PartHeaderTranscoder:
    """A read()-able body whose multipart part headers are re-encoded as UTF-8."""

    def __init__(self, stream, boundary: bytes, chunk_size: int = 64 * 1024) -> None:
        self._stream = stream
        self._chunk_size = chunk_size
        # The body's first delimiter has no CRLF before it; every later one does.
        self._first_delimiter = b"--" + boundary
        self._delimiter = b"\r\n--" + boundary
        self._buffer = b""
        self._at_start = True
        self._in_header = False
        self._eof = False
        self._ready = bytearray()

    def read(self, size: int = -1) -> bytes:
        while not self._eof and (size < 0 or len(self._ready) < size):
            self._fill()
        if size < 0:
            size = len(self._ready)
        out = bytes(self._ready[:size])
        del self._ready[:size]
        return out

    def readline(self, size: int = -1) -> bytes:
        # Django drains what the parser left through readline (multipartparser.exhaust).
        while not self._eof and b"\n" not in self._ready:
            self._fill()
        newline = self._ready.find(b"\n")
        length = len(self._ready) if newline < 0 else newline + 1
        if size >= 0:
            length = min(length, size)
        out = bytes(self._ready[:length])
        del self._ready[:length]
        return out

    def _fill(self) -> None:
        chunk = self._stream.read(self._chunk_size)
        if not chunk:
            self._eof = True
        self._buffer += chunk
        self._scan()

    def _scan(self) -> None:
        """Move every byte whose role is known from the buffer to the ready output."""
        while self._buffer:
            if self._in_header:
                if not self._take_header():
                    return
            elif not self._take_through_delimiter():
                return

    def _take_through_delimiter(self) -> bool:
        if self._at_start:
            if len(self._buffer) < len(self._first_delimiter) and not self._eof:
                return False
            self._at_start = False
            if self._buffer.startswith(self._first_delimiter):
                self._emit(len(self._first_delimiter))
                self._in_header = True
                return True
        at = self._buffer.find(self._delimiter)
        if at < 0:
            # Keep a tail that could be the start of a delimiter split across reads.
            keep = 0 if self._eof else len(self._delimiter) - 1
            self._emit(max(0, len(self._buffer) - keep))
            return False
        self._emit(at + len(self._delimiter))
        self._in_header = True
        return True

    def _take_header(self) -> bool:
        end = self._buffer.find(HEADER_END, 0, MAX_HEADER_BLOCK + len(HEADER_END))
        if end < 0:
            if len(self._buffer) < MAX_HEADER_BLOCK + len(HEADER_END) and not self._eof:
                return False
            # No header block Django would read (the closing delimiter, or too long): as sent.
            self._in_header = False
            return True
        rest = self._buffer[end + len(HEADER_END) :]
        if len(rest) < len(self._first_delimiter) and not self._eof:
            return False  # whether a delimiter follows is not known yet
        block = transcode_header_block(self._buffer[: end + len(HEADER_END)])
        if rest.startswith(self._first_delimiter):
            # The header's own CRLF was the delimiter's: headers, no blank line, no body.
            block += b"\r\n"
        self._ready += block
        self._buffer = self._buffer[end + len(HEADER_END) :]
        self._in_header = False
        return True

    def _emit(self, count: int) -> None:
        self._ready += self._buffer[:count]
        self._buffer = self._buffer[count:]


class MultipartNamesMiddleware:
    """Wrap the body of every multipart request in PartHeaderTranscoder before it is read."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        content_type, params = parse_header_parameters(request.META.get("CONTENT_TYPE", ""))
        boundary = params.get("boundary", "")
        if content_type == "multipart/form-data" and boundary.isascii() and boundary:
            # HttpRequest reads its body through _stream (WSGI and ASGI alike).
            request._stream = PartHeaderTranscoder(request._stream, boundary.encode("ascii"))  # type: ignore[assignment]
        return self.get_response(request)
