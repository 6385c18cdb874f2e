"""Switchyard: an order gateway and event switchyard for low-latency trading."""

__version__ = "0.1.0"
