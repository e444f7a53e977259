"""Where a dataset's files come from: a folder or a zip, as `export_dataset` writes them.

A dataset names its own files (tagger.json's `file`, metadata.json's keys), and
a dataset is untrusted input: every name is resolved inside the dataset, and
one that leads out of it (`..`, an absolute path, a symlink pointing
elsewhere) is refused with OutsideDataset rather than read.
"""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath

from datasets.importing_formats.model import FormatError


class OutsideDataset(OSError):
    """A name that leads out of the dataset's folder; never read."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is outside the dataset; refused")


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
            self._real_root = path.resolve()
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
            # rglob does not descend into symlinked folders; a symlinked file
            # is listed only when it points inside.
            found = [
                path.relative_to(self._root).as_posix()
                for path in self._root.rglob("*")
                if self._inside(path) and path.is_file()
            ]
        return sorted(name for name in found if not _hidden(name))

    def exists(self, name: str) -> bool:
        if self._zip is not None:
            return name in self._infos
        try:
            return self._path(name).is_file()
        except OutsideDataset:
            return False

    def size(self, name: str) -> int:
        if self._zip is not None:
            return self._infos[name].file_size
        return self._path(name).stat().st_size

    def read(self, name: str, *, max_bytes: int) -> bytes:
        """The file's bytes; OSError (with a reason) when missing or larger than max_bytes."""
        if self._zip is None:
            self._path(name)  # OutsideDataset before "not found": say why
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
        return self._path(name).read_bytes()

    def _path(self, name: str) -> Path:
        """The file called `name` in the folder; OutsideDataset when it leads out."""
        relative = PurePosixPath(name.replace("\\", "/"))
        if relative.is_absolute() or ".." in relative.parts or Path(name).is_absolute():
            raise OutsideDataset(name)
        path = self._root / relative
        if not self._inside(path):
            raise OutsideDataset(name)
        return path

    def _inside(self, path: Path) -> bool:
        # resolve() follows every symlink on the way, so a link out is caught.
        return path.resolve().is_relative_to(self._real_root)


def _hidden(name: str) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in PurePosixPath(name).parts)
