"""/docs and /redoc load Swagger UI and ReDoc from the package, so they work offline."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from api.http.app import create_app
from api.settings import Settings
from tests.conftest import SEED_POLICY


def test_docs_pages_load_their_assets_from_this_server() -> None:
    with TestClient(create_app(Settings(SEED_POLICY, "sqlite://"))) as client:
        for page in ("/docs", "/redoc"):
            html = client.get(page).text
            sources = re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r"url: '([^']+)'", html)
            assert sources and all(s.startswith("/") for s in sources), (page, sources)  # nothing from a CDN
            for source in sources:
                if source.startswith("/docs-assets/"):
                    asset = client.get(source)
                    assert asset.status_code == 200 and len(asset.content) > 1000, source
        assert "SwaggerUIBundle" in client.get("/docs-assets/swagger-ui-bundle.js").text
        assert client.get("/docs-assets/redoc.standalone.js").status_code == 200
