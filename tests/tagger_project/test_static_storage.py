"""The hashed-module patterns rewrite import statements and nothing a comment says."""

from tagger_project.static_storage import HashedModulesStorage

MODULE = """// The sessions page's export control: it asks the server to export as a job.
import { api } from "./api.js";
import {
  LiveSocket,
  other,
} from "./socket.js";
export { thing } from "./thing.js";
import "./side.js";
const later = await import("./lazy.js");
"""


def _urls(text: str, location) -> list[str]:
    storage = HashedModulesStorage(location=str(location))
    found = []
    for pattern, _template in storage._patterns["*.js"]:
        found += [(m.start("matched"), m.group("url")) for m in pattern.finditer(text)]
    return [url for _, url in sorted(found)]


def test_each_statement_is_found_once_and_no_comment_is_swallowed(tmp_path):
    assert _urls(MODULE, tmp_path) == [
        "./api.js",
        "./socket.js",
        "./thing.js",
        "./side.js",
        "./lazy.js",
    ]


def test_a_matched_import_starts_at_its_own_line(tmp_path):
    storage = HashedModulesStorage(location=str(tmp_path))
    for pattern, _template in storage._patterns["*.js"]:
        for match in pattern.finditer(MODULE):
            assert not match.group("matched").startswith("export control")
            assert "//" not in match.group("matched")
