"""`deploy/observability/`: the Grafana dashboard is JSON Grafana can import, the alert rules
are Prometheus rule groups, and every series either names is one the services export (read
from a real `/metrics` page, so a renamed metric fails here, not on an operator's screen)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.support.api import Client

OBSERVABILITY = Path(__file__).resolve().parents[2] / "deploy" / "observability"
SERIES = re.compile(r"\blumi_[a-z_]+\b")
SUFFIXES = ("", "_total", "_bucket", "_count", "_sum", "_created")
REQUIRED_ALERTS = {"LumiStreamLagGrowing", "LumiDeadLetters", "LumiOutboxStale", "LumiNoConsumers"}


async def exported(client: Client) -> set[str]:
    """Every sample name the API's page can carry (its process defines every metric object;
    a labelled series nobody touched yet still has its HELP and TYPE lines)."""
    response = await client.get("/metrics")
    assert response.status == 200
    families = text_string_to_metric_families(await response.text())
    return {family.name + suffix for family in families for suffix in SUFFIXES}


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((OBSERVABILITY / "alerts.yaml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    dashboard = json.loads((OBSERVABILITY / "grafana-dashboard.json").read_text())
    assert dashboard["uid"] == "lumi-overview"
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


async def test_alert_rules_cover_the_issue_and_name_exported_series(client: Client) -> None:
    names = await exported(client)
    found = rules()
    assert {rule["alert"] for rule in found} >= REQUIRED_ALERTS
    for rule in found:
        assert set(rule) >= {"alert", "expr", "labels", "annotations"}, rule
        used = set(SERIES.findall(rule["expr"]))
        assert used, rule["alert"]
        assert used <= names, (rule["alert"], used - names)


async def test_the_dashboard_names_exported_series_only(client: Client) -> None:
    names = await exported(client)
    expressions = dashboard_expressions()
    assert len(expressions) >= 10
    used = {name for expr in expressions for name in SERIES.findall(expr)}
    assert used <= names, used - names
    # every stream series and the job series appear somewhere on it
    assert {"lumi_stream_group_lag", "lumi_stream_dead_letters", "lumi_jobs_failed_total"} <= used
