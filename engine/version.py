"""The engine's version, recorded with every logged decision: the installed package's version."""

from importlib.metadata import PackageNotFoundError, version

try:
    ENGINE_VERSION = version("tiaokuai")
except PackageNotFoundError:  # running from a source tree that was never installed
    ENGINE_VERSION = "0.0.0+source"
