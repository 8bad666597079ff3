"""ASGI entry point for uvicorn: `uvicorn api.http.main:app` (settings from the environment)."""

from api.http.app import create_app
from api.http.routes.admin import install_sighup

app = create_app()
install_sighup(app)
