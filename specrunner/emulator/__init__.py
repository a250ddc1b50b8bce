"""A local emulator of Cekura, Pipecat Cloud and Daily, for tests and demos."""

from specrunner.emulator.clock import ManualClock, RealClock
from specrunner.emulator.config import (
    Behaviour,
    EmulatorConfig,
    Fault,
    ReplyOrder,
    ScriptedOutcome,
    StaticRoom,
    config_from_mapping,
    load_config,
)
from specrunner.emulator.profiles import Profile
from specrunner.emulator.server import Emulator

__all__ = [
    "Behaviour",
    "Emulator",
    "EmulatorConfig",
    "Fault",
    "ManualClock",
    "Profile",
    "RealClock",
    "ReplyOrder",
    "ScriptedOutcome",
    "StaticRoom",
    "config_from_mapping",
    "load_config",
]
