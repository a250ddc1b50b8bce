"""specrunner: a declarative test runner for Pipecat voice agents evaluated by Cekura."""

__version__ = "0.1.0"
