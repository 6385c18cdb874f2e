"""Backpressure and overload (issue 11): admission rules and the adaptive inflight limit.

Pure: the rules read counters of objects passed in (typed by Protocols) and the controller is
stepped with the time passed in, so both run the same in the gateway, a simulation and a unit
test. The gateway wiring (hook, timer, metrics, /stats, /health) is
`switchyard.extensions.backpressure`.
Must not import asyncio, os, time, logging or anything above the runtime.
"""

from .controller import InflightController
from .rules import KINDS, Admission, JournalSignals, OrderCounters, RefusalKind, VenueQueue
from .settings import BackpressureSettings, ControllerSettings

__all__ = [
    "KINDS",
    "Admission",
    "BackpressureSettings",
    "ControllerSettings",
    "InflightController",
    "JournalSignals",
    "OrderCounters",
    "RefusalKind",
    "VenueQueue",
]
