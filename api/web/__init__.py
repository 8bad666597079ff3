"""Server-rendered pages for auditors and authors (Jinja2, no JavaScript needed).

`router` serves the responsibility list, clause pages, the "who leads this case"
playground, the policy diff and the Gherkin report; see api/web/routes.py.
"""

from api.web.routes import install, public, router

__all__ = ["install", "public", "router"]
