"""PartHeaderTranscoder: only non-UTF-8 part headers and bodiless parts change, at any read size."""

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from tagger_project.multipart_names import PartHeaderTranscoder, transcode_header_block

BOUNDARY = b"b0und4ry"


def _header(name: bytes) -> bytes:
    return (
        b'\r\nContent-Disposition: form-data; name="files"; filename="'
        + name
        + b'"\r\nContent-Type: image/png\r\n\r\n'
    )


def _body(parts: list[tuple[bytes, bytes]], header=_header) -> bytes:
    body = b""
    for i, (name, content) in enumerate(parts):
        body += (b"--" if i == 0 else b"\r\n--") + BOUNDARY + header(name) + content
    return body + b"\r\n--" + BOUNDARY + b"--\r\n"


def _read_all(body: bytes, chunk_size: int, read_size: int) -> bytes:
    stream = PartHeaderTranscoder(io.BytesIO(body), BOUNDARY, chunk_size=chunk_size)
    out = b""
    while piece := stream.read(read_size):
        out += piece
    return out


def _transcoded(name: bytes) -> bytes:
    # The rest of a header is ASCII, so the block is UTF-8 exactly when the name is.
    return transcode_header_block(name)


# File contents: any bytes but a delimiter, which no multipart body may hold.
# (One that starts with `--boundary` would make one after the blank line.)
contents = st.binary(max_size=300).filter(
    lambda c: b"\r\n--" + BOUNDARY not in c and not c.startswith(b"--" + BOUNDARY)
)
names = st.binary(min_size=1, max_size=40).filter(
    lambda n: b'"' not in n and b"\r" not in n and b"\n" not in n
)


@settings(max_examples=300, deadline=None)
@given(
    parts=st.lists(st.tuples(names, contents), min_size=1, max_size=4),
    chunk_size=st.integers(1, 64),
    read_size=st.integers(1, 100),
)
def test_only_headers_change_and_only_to_utf8(parts, chunk_size, read_size):
    expected = _body([(_transcoded(name), content) for name, content in parts])
    assert _read_all(_body(parts), chunk_size, read_size) == expected


def test_a_utf8_body_passes_unchanged():
    body = _body([("café ✓.png".encode(), b"\x89PNG\xff\xfe"), (b"plain.png", b"data")])
    assert _read_all(body, 7, 5) == body


def test_latin1_and_cp1252_names_become_their_characters():
    assert transcode_header_block(b"caf\xe9 \x80").decode() == "café €"
    # 0x81 is undefined in Windows-1252: read as Latin-1 rather than lost.
    assert transcode_header_block(b"\x81").decode() == "\x81"


def test_readline_returns_lines_of_the_transcoded_body():
    body = _body([(b"caf\xe9.png", b"line one\nline two")])
    stream = PartHeaderTranscoder(io.BytesIO(body), BOUNDARY, chunk_size=3)
    lines = []
    while line := stream.readline():
        lines.append(line)
    assert b"".join(lines) == _body([("café.png".encode(), b"line one\nline two")])
    assert all(line.endswith(b"\n") for line in lines[:-1])


@settings(max_examples=100, deadline=None)
@given(chunk_size=st.integers(1, 64), read_size=st.integers(1, 100))
def test_a_part_without_body_or_blank_line_gets_its_blank_line(chunk_size, read_size):
    headers = b'\r\nContent-Disposition: form-data; name="files"; filename="e"\r\n'
    body = b"--" + BOUNDARY + headers + b"\r\n--" + BOUNDARY + b"--\r\n"
    mended = b"--" + BOUNDARY + headers + b"\r\n\r\n--" + BOUNDARY + b"--\r\n"
    assert _read_all(body, chunk_size, read_size) == mended
