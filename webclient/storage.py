"""Static files storage: WhiteNoise's compressed manifest storage, which also
rewrites the web client's ES module imports to hashed names.

Django can rewrite `import ... from "./x.js";` in JavaScript under
`collectstatic` (`support_js_module_import_aggregation`), but only for every
.js file at once, and third-party bundles (the admin's, Swagger UI's) contain
text that looks like imports of files that do not exist. So the rewriting is
applied to this app's own modules alone (`webclient/*.js`): the page loads
`app.<hash>.js`, which imports `api.<hash>.js` and so on, every file cached
forever under its content hash, and a deploy can never mix old and new modules.
"""

from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
from whitenoise.storage import CompressedManifestStaticFilesStorage

JS_MODULE_PATTERNS = ManifestStaticFilesStorage._js_module_import_aggregation_patterns[1]


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    patterns = (*CompressedManifestStaticFilesStorage.patterns, ("webclient/*.js", JS_MODULE_PATTERNS))
