"""ASGI entry point for uvicorn: `uvicorn api.http.main:app` (settings from the environment).

A configuration or first policy that cannot work (malformed TIAOKUAI_TOKENS, a policy
directory that fails its check when none was ever activated, an unreadable checkpoint
key) ends the process at once with its message and exit code STARTUP_REFUSED, which the
supervisor does not retry: restarting cannot fix it. A decision log that is briefly
unreachable is not such a case (the supervisor retries it).
"""

import sys

from api.http.app import create_app
from api.http.routes.admin import install_sighup
from api.settings import STARTUP_REFUSED
from engine import CheckpointError, PolicyError

try:
    app = create_app()
except (ValueError, PolicyError, CheckpointError) as exc:  # ValueError: the settings, AuthConfigError among them
    sys.stderr.write(f"tiaokuai: cannot start: {exc}\n")
    sys.stderr.flush()
    sys.exit(STARTUP_REFUSED)
install_sighup(app)
