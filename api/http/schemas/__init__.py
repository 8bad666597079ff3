"""Wire models of API v1, one module per resource; `common` holds the shared types."""
