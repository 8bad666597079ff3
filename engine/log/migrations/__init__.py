"""Alembic migrations of the decision log (engine/log/store.py). Applied by `store.upgrade`,
at server start and by `tiaokuai audit migrate`."""
