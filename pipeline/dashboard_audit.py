"""The audit's summary on the dashboards: from the last `pipeline audit` report (`LAKE_DIR/_audit/latest.json`),
a small static HTML section (escaped, no script) above the charts of `make dashboard` and beside the numbers of
`make dashboard-live` (`/api/audit`, refreshed with them); nothing when no audit ran.

The section carries `data-status` ("ok" or "failed") and `data-missing`, so a browser's DOM tells the verdict.
"""

from __future__ import annotations

import html

TOTALS = (("expected", "expected (acknowledged)"), ("stored", "stored"), ("missing", "missing"),
          ("duplicates_stored", "duplicates stored"), ("out_of_order", "out of order"), ("late", "late"),
          ("errors", "errors/"), ("quarantined", "quarantined"), ("malformed_stored", "malformed stored"),
          ("forged_stored", "forged stored"))
SHOWN_STATIONS = 10
# The section's style, for every page that shows it (`make dashboard`, `make dashboard-live`).
AUDIT_CSS = """section.audit{background:#fff;border:1px solid #ddd;border-left:6px solid #2ca02c;border-radius:6px;padding:.6rem;margin:0 0 1rem}
section.audit.failed{border-left-color:#d62728}
section.audit h2{font-size:1.1rem;margin:0}
.audit-tables{display:flex;gap:2rem;flex-wrap:wrap}
.audit table th{text-align:left;font-weight:normal;color:#555;padding-right:1rem}"""


def audit_summary(report: dict | None) -> dict | None:
    """What the dashboard shows of an audit report (None: no audit): totals, faults by kind, the stations with
    missing messages (at most SHOWN_STATIONS, most missing first), the count of fleet faults."""
    if not report or not isinstance(report.get("total"), dict):
        return None
    total = report["total"]
    stations = [s for s in report.get("stations") or [] if isinstance(s, dict)]
    missing = sorted(((s.get("thing"), s.get("missing", 0)) for s in stations if s.get("missing")),
                     key=lambda item: (-item[1], str(item[0])))
    return {"generated_at": report.get("generated_at"), "failed": bool(report.get("failed")),
            "stations": len(stations), "totals": {k: total.get(k, 0) for k, _ in TOTALS},
            "latency_ms": total.get("latency_ms") or {}, "faults": total.get("faults") or {},
            "fleet_faults": len(report.get("fleet_faults") or []),
            "missing_stations": [[t, n] for t, n in missing[:SHOWN_STATIONS]], "missing_more": max(0, len(missing)
                                                                                                  - SHOWN_STATIONS)}


def audit_html(summary: dict | None) -> str:
    """The dashboard's audit section for `summary` (see `audit_summary`); '' without one."""
    if summary is None:
        return ""
    e = html.escape
    failed = summary["failed"]
    verdict = ("FAILED: acknowledged messages are missing, or malformed / forged ones were stored as data"
               if failed else "OK: every acknowledged message is in the lake once; nothing forged or malformed stored")
    totals = "".join(f"<tr><th>{e(label)}</th><td>{e(str(summary['totals'].get(key, 0)))}</td></tr>"
                     for key, label in TOTALS)
    latency = ", ".join(f"{e(k)} {'-' if v is None else e(str(v))}" for k, v in summary["latency_ms"].items())
    faults = "".join(f"<tr><th>{e(kind)}</th><td>{int(o.get('injected', 0))}</td><td>{int(o.get('stored', 0))}</td>"
                     f"<td>{int(o.get('rejected', 0))}</td></tr>" for kind, o in sorted(summary["faults"].items()))
    fault_table = (f'<table class="faults"><tr><th>fault</th><th>sent</th><th>stored</th><th>rejected</th></tr>'
                   f"{faults}</table>") if faults else "<p>no device faults injected</p>"
    missing = "".join(f"<li>{e(str(t))}: {int(n)}</li>" for t, n in summary["missing_stations"])
    if summary["missing_more"]:
        missing += f"<li>and {int(summary['missing_more'])} more station(s)</li>"
    return (f'<section id="audit" class="audit {"failed" if failed else "ok"}" data-status='
            f'"{"failed" if failed else "ok"}" data-missing="{int(summary["totals"].get("missing", 0))}">'
            f"<h2>Audit</h2><p class=\"verdict\">{e(verdict)}</p>"
            f"<p>{summary['stations']} station(s); audited {e(str(summary['generated_at'] or '?'))}; "
            f"end-to-end latency (ms): {latency or '-'}; fleet faults: {int(summary['fleet_faults'])}</p>"
            f'<div class="audit-tables"><table class="totals">{totals}</table>{fault_table}</div>'
            + (f"<p>missing by station:</p><ul>{missing}</ul>" if missing else "") + "</section>")
