"""Static files as production serves them: hashed names, compressed copies, hashed imports."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class HashedModulesStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's storage with `import … from "./x.js"` rewritten to the hashed name too.

    Without it, a page loads `page.abc123.js` (cached forever) whose
    `import "./grid.js"` fetches the unhashed, un-versioned file: a deploy
    could mix old and new modules in one page.
    """

    support_js_module_import_aggregation = True
