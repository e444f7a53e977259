"""Where a dataset's files come from: a folder or a zip, as `export_dataset` writes them."""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath

from datasets.importing_formats.model import FormatError


class DatasetSource:
    """Read-only access to the files of a dataset by their relative POSIX names."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        if path.is_file() and zipfile.is_zipfile(path):
            self._zip = zipfile.ZipFile(path)
            self._infos = {
                info.filename: info for info in self._zip.infolist() if not info.is_dir()
            }
        elif path.is_dir():
            self._root = path
        else:
            raise FormatError(f"{path.name} is neither a folder nor a zip file")

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def names(self) -> list[str]:
        """Every file, sorted; hidden files and folders (`.DS_Store`, `.git/`) are left out."""
        if self._zip is not None:
            found = list(self._infos)
        else:
            found = [
                path.relative_to(self._root).as_posix()
                for path in self._root.rglob("*")
                if path.is_file()
            ]
        return sorted(name for name in found if not _hidden(name))

    def exists(self, name: str) -> bool:
        if self._zip is not None:
            return name in self._infos
        return (self._root / name).is_file()

    def size(self, name: str) -> int:
        if self._zip is not None:
            return self._infos[name].file_size
        return (self._root / name).stat().st_size

    def read(self, name: str, *, max_bytes: int) -> bytes:
        """The file's bytes; OSError (with a reason) when missing or larger than max_bytes."""
        if not self.exists(name):
            raise FileNotFoundError(f"{name} is not in the dataset")
        size = self.size(name)
        if size > max_bytes:
            raise OSError(f"{name} is larger than {max_bytes} bytes ({size})")
        if self._zip is not None:
            # Bounded read: a zip entry's declared size can lie.
            with self._zip.open(self._infos[name]) as handle:
                data = handle.read(max_bytes + 1)
            if len(data) > max_bytes:
                raise OSError(f"{name} is larger than {max_bytes} bytes")
            return data
        return (self._root / name).read_bytes()


def _hidden(name: str) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in PurePosixPath(name).parts)
