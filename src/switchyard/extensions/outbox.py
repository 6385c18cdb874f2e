"""The Kafka outbox in the gateway process (on when KAFKA_BOOTSTRAP_SERVERS is set).

See switchyard/outbox/extension.py; this module also wakes the outbox after each durable batch
so it publishes at once instead of on its next poll.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from switchyard.outbox import extension

if TYPE_CHECKING:
    from switchyard.app import Gateway

ORDER = extension.ORDER


def install(gateway: Gateway, environ: Mapping[str, str]) -> None:
    outbox = extension.install(gateway, environ)
    if outbox is not None:
        gateway.node.durable_listeners.append(lambda seq: outbox.notify())
