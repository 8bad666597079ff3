"""The HTTP API: the FastAPI app (app.py), its routes (routes/), wire models (schemas/), errors,
auth, input limits and the logged answer; `main` is uvicorn's entry point."""
