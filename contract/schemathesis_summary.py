#!/usr/bin/env python3
"""Each distinct schemathesis failure once, read from the NDJSON reports of scripts/contract.

Usage: schemathesis_summary.py REPORT.ndjson...   (prints to stdout; exit code always 0)

A failure is told apart by its check code and the first line of its message (with the schema path
for ST108); the same failure on several operations is shown once, with the operations it hit, how
many cases hit it, and one request with the status and the start of the body it got.
"""

import base64
import json
import re
import sys
from collections import OrderedDict


def first_line(message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    head = lines[0] if lines else ""
    # Response-schema failures: the schema location tells them apart better than the value.
    for line in lines:
        if line.startswith("Schema at "):
            return f"{head} ({line[len('Schema at '):].rstrip(':')})"
    return head


def body_of(interaction: dict) -> str:
    content = (interaction.get("response") or {}).get("content") or {}
    raw = content.get("$base64")
    if raw is None:
        return ""
    text = base64.b64decode(raw).decode("utf-8", "replace")
    return re.sub(r"\s+", " ", text)[:160]


def why(interaction: dict) -> str:
    """The `detail` of a problem answer (numbers left out), else its status."""
    response = interaction.get("response") or {}
    raw = (response.get("content") or {}).get("$base64")
    try:
        detail = json.loads(base64.b64decode(raw))["detail"]
    except Exception:
        return str(response.get("status_code"))
    return f"{response.get('status_code')} " + re.sub(r"-?\d+", "N", str(detail))[:120]


def main() -> int:
    seen: "OrderedDict[tuple, dict]" = OrderedDict()
    for path in sys.argv[1:]:
        with open(path, encoding="utf-8") as f:
            for line in f:
                event = json.loads(line)
                finished = event.get("ScenarioFinished")
                if not finished:
                    continue
                recorder = finished.get("recorder") or {}
                for case_id, checks in (recorder.get("checks") or {}).items():
                    for check in checks:
                        if check.get("status") != "failure":
                            continue
                        failure = (check.get("failure_info") or {}).get("failure") or {}
                        op = failure.get("operation") or recorder.get("label", "?")
                        code = failure.get("code", "?")
                        interaction = (recorder.get("interactions") or {}).get(case_id) or {}
                        msg = first_line(failure.get("message", ""))
                        if code in ("ST201", "ST202"):
                            # The check's message is generic: what the service said tells cases apart.
                            msg = f"{msg}: {op}: {why(interaction)}"
                        entry = seen.setdefault(
                            (op, code, msg),
                            {"title": failure.get("title", check.get("name")), "check": check.get("name"),
                             "count": 0, "status": None, "body": "", "request": None},
                        )
                        entry["count"] += 1
                        if entry["status"] is None:
                            response = interaction.get("response") or {}
                            entry["status"] = response.get("status_code")
                            entry["body"] = body_of(interaction)
                            request = interaction.get("request") or {}
                            entry["request"] = f"{request.get('method', '')} {request.get('uri', '')}"
    if not seen:
        print("  no failure")
        return 0
    # Group the same failure across operations (a 405 without Allow for PUT and for PATCH is one).
    groups: "OrderedDict[tuple, dict]" = OrderedDict()
    for (op, code, msg), e in seen.items():
        norm = re.sub(r"^(GET|PUT|POST|PATCH|DELETE|TRACE|QUERY|HEAD|OPTIONS|CONNECT) returned", "METHOD returned", msg)
        g = groups.setdefault((code, e["check"], norm), {"ops": [], "count": 0, "example": e})
        if op not in g["ops"]:
            g["ops"].append(op)
        g["count"] += e["count"]
    for (code, check, msg), g in sorted(groups.items(), key=lambda kv: (kv[0][0], -len(kv[1]["ops"]))):
        e = g["example"]
        print(f"  {code} {check}: {msg}")
        ops = g["ops"]
        shown = ", ".join(ops[:6]) + (f", ... ({len(ops) - 6} more)" if len(ops) > 6 else "")
        print(f"      {len(ops)} operation(s), {g['count']} case(s): {shown}")
        print(f"      e.g. {e['request']} -> {e['status']} {e['body']}")
    print(f"  {len(groups)} distinct failures ({len(seen)} by operation)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
