"""A pytest plugin that fails the run when the tests read files outside the checkout.

A user's clone has nothing beside it, so a test that reads `../shared/...` (or
any other folder of the machine it was written on) passes for its author and
fails for everyone else. Python's audit hooks see every `open`, `listdir` and
`scandir` made in the test process, whatever the code path; the paths that
land outside the checkout, the interpreter, the temporary folder and the
operating system's own folders are collected and reported at the end, and the
run fails. `.ci/run` also hides the checkout's sibling folders from the whole
run (subprocesses included) with `tools/confined`.

TAGGER_TEST_CONFINE=0 turns the check off.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[2]
WATCHED_EVENTS = frozenset({"open", "os.listdir", "os.scandir"})
# The operating system's own trees: certificates, time zones, fonts, devices.
SYSTEM_ROOTS = ("/dev", "/proc", "/sys", "/etc", "/usr", "/lib", "/lib64", "/bin", "/run")


def allowed_roots() -> tuple[str, ...]:
    """Folders a test may read: the checkout, the interpreter and its packages, temp, the OS."""
    roots = {str(CHECKOUT), os.path.abspath(tempfile.gettempdir())}
    roots |= {os.path.realpath(tempfile.gettempdir())}
    for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix):
        roots |= {os.path.abspath(prefix), os.path.realpath(prefix)}
    roots |= set(SYSTEM_ROOTS)
    return tuple(sorted(root.rstrip("/") + "/" for root in roots))


class Confinement:
    """Collects the outside paths that the audit hook sees."""

    def __init__(self) -> None:
        self.roots = allowed_roots()
        self.outside: dict[str, str] = {}  # path -> the event that touched it first
        self.active = True

    def audit(self, event: str, args: tuple) -> None:
        if event not in WATCHED_EVENTS or not self.active:
            return
        target = args[0] if args else None
        if target is None or isinstance(target, int):
            return  # a file descriptor, or listdir() of the current folder
        try:
            path = os.path.abspath(os.fsdecode(os.fspath(target)))
        except (TypeError, ValueError):
            return
        folder = path.rstrip("/") + "/"
        if folder.startswith(self.roots) or path in self.outside:
            return
        if event != "open" and any(root.startswith(folder) for root in self.roots):
            return  # listing a folder above the checkout or temp (pytest looks for conftests)
        self.outside[path] = event


_confinement = Confinement()


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("TAGGER_TEST_CONFINE", "1") == "0":
        _confinement.active = False
        return
    # An audit hook cannot be removed; `active` switches it off instead.
    sys.addaudithook(_confinement.audit)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _confinement.outside:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter) -> None:
    if not _confinement.outside:
        return
    terminalreporter.section("files read outside the checkout", sep="=", red=True)
    terminalreporter.line(
        "Tests must carry their data under tests/ (or generate it): a clone has nothing beside it."
    )
    for path, event in sorted(_confinement.outside.items()):
        terminalreporter.line(f"  {event}: {path}")
