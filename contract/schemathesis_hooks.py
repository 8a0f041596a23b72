"""schemathesis hooks for scripts/contract (named in contract/schemathesis.toml)."""

import json

import schemathesis


# POST /api/v1/imports takes application/x-ndjson (a string: one payload per line) besides JSON.
# schemathesis has no serializer for that media type and would skip those cases: send the text as is.
@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    if isinstance(value, bytes):
        return {"data": value}
    if isinstance(value, str):
        return {"data": value.encode("utf-8")}
    return {"data": (json.dumps(value) + "\n").encode("utf-8")}
