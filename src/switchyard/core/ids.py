"""Typed ids, so mypy stops one kind of id being passed where another is wanted."""

from typing import NewType

Seq = NewType("Seq", int)  # our global order of operations: the WAL record number, from 1
OrderId = NewType("OrderId", str)  # gateway order id, "<engine>-<walId>-<acceptSeq>"
ClientOrderId = NewType("ClientOrderId", str)
AccountId = NewType("AccountId", str)
Symbol = NewType("Symbol", str)
VenueSeq = NewType("VenueSeq", int)  # a venue's own sequence of reports and book updates
