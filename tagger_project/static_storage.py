"""Static files as production serves them: hashed names, compressed copies, hashed imports."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class HashedModulesStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's storage with `import … from "./x.js"` rewritten to the hashed name too.

    Without it, a page loads `page.abc123.js` (cached forever) whose
    `import "./grid.js"` fetches the unhashed, un-versioned file: a deploy
    could mix old and new modules in one page.
    """

    support_js_module_import_aggregation = True

    # Django's own patterns find `export … from "./x.js";` anywhere, so the
    # word "export" in a comment above an import made one match swallow that
    # import and collectstatic failed on a doubly hashed name. Ours match
    # only statements that start a line and do not run past a `;`.
    _js_module_import_aggregation_patterns = (
        "*.js",
        (
            (
                r"""(?m)^(?P<matched>import(?P<import>[\s\{][^;]*?|\*\s*as\s*\w+)"""
                r"""\s*from\s*['"](?P<url>[./][^'"]*?)["']\s*;)""",
                """import%(import)s from "%(url)s";""",
            ),
            (
                r"""(?m)^(?P<matched>export(?P<exports>[\s\{][^;]*?)"""
                r"""\s*from\s*["'](?P<url>[./][^'"]*?)["']\s*;)""",
                """export%(exports)s from "%(url)s";""",
            ),
            (
                r"""(?m)^(?P<matched>import\s*['"](?P<url>[./][^'"]*?)["']\s*;)""",
                """import"%(url)s";""",
            ),
            (
                r"""(?P<matched>import\(["'](?P<url>[^'"]*?)["']\))""",
                """import("%(url)s")""",
            ),
        ),
    )
