"""tiaokuai's edges: the FastAPI app (api.http.app) and the authors' CLI (api.cli).

Routes parse, call the engine, serialise. No policy logic lives here.
"""
