"""Key ownership across engines (DESIGN §7, issue 5): who accepts writes for which key.

Public surface: the settings, the table the request path reads, the etcd coordinator (lease,
election, assignment, fenced hand-overs), the etcd client interface, rendezvous placement,
the cluster layout and the WAL audit. Wiring into the gateway is extensions/ownership.py;
the operator's view and overrides are `switchyard assign` (cli/cmd_assign.py).
"""

from .audit import AuditReport, audit, read_facts
from .cluster import Assignment, ClusterView, Layout, Registration, parse_view
from .coordinator import Coordinator, Recorder
from .etcd import Etcd, EtcdError, EtcdGateway, EtcdUnavailable, parse_endpoints
from .rendezvous import owner_of, place
from .settings import OwnershipSettings
from .table import OwnershipTable, Refusal, Verdict

__all__ = [
    "Assignment",
    "AuditReport",
    "ClusterView",
    "Coordinator",
    "Etcd",
    "EtcdError",
    "EtcdGateway",
    "EtcdUnavailable",
    "Layout",
    "OwnershipSettings",
    "OwnershipTable",
    "Recorder",
    "Refusal",
    "Registration",
    "Verdict",
    "audit",
    "owner_of",
    "parse_endpoints",
    "parse_view",
    "place",
    "read_facts",
]
