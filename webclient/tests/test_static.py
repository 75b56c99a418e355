"""collectstatic with the production storage: the client's modules import
each other by their hashed names, so every file can be cached forever."""

import json
import re

from threads.tests.server import manage, production_env


def test_collectstatic_rewrites_the_clients_module_imports_to_hashed_names(tmp_path):
    result = manage("collectstatic", "--no-input", "-v0", env=production_env(DJANGO_STATIC_ROOT=str(tmp_path)))
    assert result.returncode == 0, result.stderr

    manifest = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    modules = {name: hashed for name, hashed in manifest.items() if re.fullmatch(r"webclient/\w+\.js", name)}
    assert set(modules) == {"webclient/app.js", "webclient/api.js", "webclient/dom.js", "webclient/live.js"}
    for hashed in modules.values():
        source = (tmp_path / hashed).read_text()
        imported = re.findall(r'^import .*? from "\./([^"]+)";$', source, flags=re.MULTILINE | re.DOTALL)
        for target in imported:
            assert f"webclient/{target}" in manifest.values(), f"{hashed} imports {target}, not a hashed file"
            assert (tmp_path / "webclient" / target).is_file()
    app = (tmp_path / modules["webclient/app.js"]).read_text()
    assert len(re.findall(r'from "\./\w+\.[0-9a-f]{12}\.js";', app)) == 3
