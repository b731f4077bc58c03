"""Controllers of the Kubernetes stand-in: workloads, Jobs, volumes, and a kubelet
that plays container scripts.

Entry point: `start_controllers(store, clock=None, *, tick=0.1, options=None)`; see docs/sim.md "Controllers".
"""

from bot.sim.controllers.clock import Clock, FakeClock, RealClock
from bot.sim.controllers.options import SimOptions
from bot.sim.controllers.runtime import ControllerHandle, Controllers, start_controllers
from bot.sim.controllers.scripts import SCRIPT_ENV, Script, ScriptError, parse_script

__all__ = [
    "SCRIPT_ENV",
    "Clock",
    "ControllerHandle",
    "Controllers",
    "FakeClock",
    "RealClock",
    "Script",
    "ScriptError",
    "SimOptions",
    "parse_script",
    "start_controllers",
]
