"""ASGI entry point for uvicorn: `uvicorn api.main:app` (settings from the environment)."""

from api.app import create_app
from api.routes.admin import install_sighup

app = create_app()
install_sighup(app)
