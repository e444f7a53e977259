"""Where entries go: a zip streamed as bytes (for HTTP or a file) or a folder on disk.

The zip is written by `zipfile` into a sink with only `write()`: zipfile then
treats the stream as unseekable and puts each member's sizes and CRC in a
data descriptor after its bytes, so nothing is held back but the current
chunk. One code path serves the API's StreamingHttpResponse and the command's
`.zip` file.
"""

from __future__ import annotations

import time
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath

from datasets.exporting.base import Entry

# Hand bytes to the consumer once this much has accumulated.
FLUSH_AT = 256 * 1024


class _Sink:
    """A write-only file object that collects zipfile's output until it is drained."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def write(self, data: bytes) -> int:
        self._buffer += data
        return len(data)

    def flush(self) -> None:
        """Nothing to do: the generator drains the buffer."""

    def __len__(self) -> int:
        return len(self._buffer)

    def drain(self) -> bytes:
        data = bytes(self._buffer)
        self._buffer.clear()
        return data


def zip_stream(entries: Iterable[Entry]) -> Iterator[bytes]:
    """The zip of the entries, produced as the entries are read, in bounded memory."""
    sink = _Sink()
    stamp = time.localtime()[:6]
    with zipfile.ZipFile(sink, mode="w") as archive:  # type: ignore[arg-type]
        for entry in entries:
            info = zipfile.ZipInfo(entry.name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED if entry.compress else zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            with archive.open(info, mode="w") as member:
                for chunk in entry.chunks:
                    member.write(chunk)
                    if len(sink) >= FLUSH_AT:
                        yield sink.drain()
            if len(sink) >= FLUSH_AT:
                yield sink.drain()
    yield sink.drain()


def write_zip(entries: Iterable[Entry], path: Path) -> None:
    """Write the zip to `path`, via a temporary name so a cut-short export never looks whole."""
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("wb") as handle:
            for chunk in zip_stream(entries):
                handle.write(chunk)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def write_folder(entries: Iterable[Entry], folder: Path) -> None:
    """Write each entry as a file in `folder` (created if missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    for entry in entries:
        # Names come from names.py: bare file names, or one subset folder deep
        # (`10_ohwx/x.png`, sessions_app/repeat_folders.py); refuse anything else anyway.
        parts = PurePosixPath(entry.name).parts
        if (
            not 1 <= len(parts) <= 2
            or "\\" in entry.name
            or any(part in ("", ".", "..") or part.startswith("/") for part in parts)
        ):
            raise ValueError(f"refusing to write outside the export folder: {entry.name!r}")
        target = root.joinpath(*parts)
        if len(parts) == 2:
            target.parent.mkdir(exist_ok=True)
            if target.parent.resolve().parent != root:  # a symlinked folder leading out
                raise ValueError(f"refusing to write outside the export folder: {entry.name!r}")
        with target.open("wb") as handle:
            for chunk in entry.chunks:
                handle.write(chunk)
