"""The version of specrunner (its own module, so that stages can name it without importing
the package's Python API)."""

__version__ = "0.1.0"
