"""`switchyard cost-guard`: what 1,000 orders cost, from what a run really used.

Cost = CPU seconds of the server process x price per vCPU-second
     + bytes written to storage x retention x price per GiB-month
     + bytes sent to Kafka x price per GiB,
divided by the orders (or events) answered OK, x 1,000. Every input is measured by the bench or
canary run (/proc of the server process, or /metrics counters) or given explicitly; prices are
flags with documented defaults. A real run always used CPU, so a zero cost means the input is
not a real measurement: the guard refuses it (the seed's guard computed 0 for every input).
"""

from dataclasses import dataclass
from typing import Any

from switchyard.sre.observations import Observations

GIB = 1024**3
SECONDS_PER_HOUR = 3600.0
# Default prices (yen). Order of magnitude of on-demand cloud list prices at ¥150/$ in 2026:
# a vCPU-hour of a general-purpose x86 instance, a GiB-month of SSD block storage, a GiB
# through a managed Kafka (ingress + replicated storage for the retention period).
DEFAULT_YEN_PER_VCPU_HOUR = 6.0
DEFAULT_YEN_PER_GIB_MONTH = 15.0
DEFAULT_RETENTION_MONTHS = 1.0
DEFAULT_YEN_PER_KAFKA_GIB = 25.0


class CostInputError(ValueError):
    """The input cannot give a cost: no orders, or no resource measurement."""


@dataclass(frozen=True, slots=True)
class Prices:
    yen_per_vcpu_hour: float = DEFAULT_YEN_PER_VCPU_HOUR
    yen_per_gib_month: float = DEFAULT_YEN_PER_GIB_MONTH
    retention_months: float = DEFAULT_RETENTION_MONTHS
    yen_per_kafka_gib: float = DEFAULT_YEN_PER_KAFKA_GIB

    def __post_init__(self) -> None:
        assert self.yen_per_vcpu_hour >= 0
        assert self.yen_per_gib_month >= 0
        assert self.retention_months >= 0
        assert self.yen_per_kafka_gib >= 0


@dataclass(frozen=True, slots=True)
class Usage:
    orders: int
    cpu_seconds: float
    storage_bytes: int
    kafka_bytes: int
    sources: dict[str, str]


def usage_of(obs: Observations, overrides: dict[str, float | None]) -> Usage:
    """The measured usage of a run, with explicit values taking precedence."""
    sources = {}

    def pick(name: str, measured: float | None) -> float:
        given = overrides.get(name)
        if given is not None:
            sources[name] = "flag"
            return given
        sources[name] = "measured" if measured is not None else "not measured (0)"
        return measured or 0.0

    cpu = pick("cpu_seconds", obs.cpu_seconds)
    storage = pick("storage_bytes", obs.storage_bytes)
    if sources["storage_bytes"] == "measured":
        sources["storage_bytes"] = f"measured: {obs.storage_source}"
    kafka = pick("kafka_bytes", obs.kafka_bytes)
    orders = int(overrides.get("orders") or obs.ok)
    if orders <= 0:
        raise CostInputError("the input answered no order OK: cost per order is undefined")
    if cpu <= 0 and obs.cpu_seconds is None:
        raise CostInputError(
            "no CPU measurement for the server (resources unavailable and no "
            "process_cpu_seconds_total delta): pass --cpu-seconds or rerun the bench on the "
            "server's machine"
        )
    if cpu <= 0:
        raise CostInputError(
            "the server's CPU time measured 0 s: the run was shorter than the 10 ms "
            "resolution of /proc CPU accounting; run longer (more events or orders)"
        )
    return Usage(orders, cpu, int(storage), int(kafka), sources)


def cost_breakdown(usage: Usage, prices: Prices) -> dict[str, Any]:
    """Yen per component, total, and per 1,000 orders."""
    cpu_yen = usage.cpu_seconds * prices.yen_per_vcpu_hour / SECONDS_PER_HOUR
    storage_yen = usage.storage_bytes / GIB * prices.yen_per_gib_month * prices.retention_months
    kafka_yen = usage.kafka_bytes / GIB * prices.yen_per_kafka_gib
    total = cpu_yen + storage_yen + kafka_yen
    assert total > 0, "positive CPU time always costs something"
    per_1k = total / usage.orders * 1000
    return {
        "orders": usage.orders,
        "usage": {
            "cpuSeconds": usage.cpu_seconds,
            "storageBytes": usage.storage_bytes,
            "kafkaBytes": usage.kafka_bytes,
            "sources": usage.sources,
        },
        "prices": {
            "yenPerVcpuHour": prices.yen_per_vcpu_hour,
            "yenPerGibMonth": prices.yen_per_gib_month,
            "retentionMonths": prices.retention_months,
            "yenPerKafkaGib": prices.yen_per_kafka_gib,
        },
        "costYen": {"cpu": cpu_yen, "storage": storage_yen, "kafka": kafka_yen, "total": total},
        "costYenPer1kOrders": per_1k,
        "cpuMicrosecondsPerOrder": usage.cpu_seconds * 1e6 / usage.orders,
    }


def verdict(breakdown: dict[str, Any], budget_yen_per_1k: float) -> dict[str, Any]:
    within = breakdown["costYenPer1kOrders"] <= budget_yen_per_1k
    return {
        **breakdown,
        "budgetYenPer1k": budget_yen_per_1k,
        "withinBudget": within,
        "status": "PASS" if within else "FAIL",
    }


def summary_text(report: dict[str, Any], source: str) -> str:
    cost = report["costYen"]
    usage = report["usage"]
    return (
        f"cost-guard {source}: {report['status']}\n"
        f"  {report['orders']} orders; server CPU {usage['cpuSeconds']:.3f} s "
        f"({report['cpuMicrosecondsPerOrder']:.1f} µs/order), storage {usage['storageBytes']} B "
        f"({usage['sources']['storage_bytes']}), kafka {usage['kafkaBytes']} B\n"
        f"  cost ¥{cost['total']:.6f} (cpu ¥{cost['cpu']:.6f}, storage ¥{cost['storage']:.6f}, "
        f"kafka ¥{cost['kafka']:.6f})\n"
        f"  per 1k orders ¥{report['costYenPer1kOrders']:.6f} vs budget "
        f"¥{report['budgetYenPer1k']:g}\n"
    )
