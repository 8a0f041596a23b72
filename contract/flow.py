#!/usr/bin/env python3
"""The whole request flow through a client generated from openapi/openapi.json, and nothing else.

scripts/contract generates the client (`openapi-python-client generate`, package `insyn_client`), puts
it on PYTHONPATH and runs this against a fresh `insyn serve`. Every call goes through the generated
operation modules (`insyn_client.api.<tag>.<operation_id>`), every body is built with the generated
model's `from_dict`, and every answer is parsed by the generated models: an operation the generator
dropped, or an answer its models cannot read, is a contract failure. The flow still goes on after
one (with the answer's JSON, or for a dropped POST /api/v1/requests through the generated client's
own httpx client), so that one run reports every such failure; the exit code is 1 when any occurred.

The flow: a channel for the Page of the python-facebook fixtures, an import of Kun Liu's comment and
message (plus other people's comments), an access request for Kun Liu, proved by the officer
(verify-identity: there is no SMTP in this run, so no mailed code; the status token given at
submission is then replaced by one mailed, and answers 401), assigned, completed, and the package
downloaded with the officer's token and checked as a ZIP (and its X-Package-SHA256); then, when the erasure
operations are in the document, an erasure request: verified, assigned, planned, the plan read
back, one take-down left out, approved (the plan executed), and the request completed.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import inspect
import io
import json
import pkgutil
import sys
import time
import traceback
import typing
import zipfile
from pathlib import Path

# The Page of the python-facebook fixtures ("MyLife") and a real commenter on it who also messaged it.
PAGE = "2121008874780932"
PERSON = "2711636948859886"  # Kun Liu
FIXTURES = [
    "python-facebook/facebook_models_comment.json",  # Kun Liu's comment on a post of the Page
    "python-facebook/facebook_apidata_messages_message_info.json",  # Kun Liu's message to the Page
    "python-facebook/facebook_apidata_comments_comments_p1.json",  # other people's comments
]
ERASURE_OPS = ["plan_erasure", "get_erasure_plan", "exclude_erasure_item", "approve_erasure_plan"]


class ContractFailure(Exception):
    pass


class Answer:
    """An operation's answer: its JSON (`data`), the generated model that read it (`model`, None
    when it could not) and the httpx response."""

    def __init__(self, data, model, response):
        self.data, self.model, self.response = data, model, response

    def __getitem__(self, key):
        return self.data[key]


def where(e: Exception) -> str:
    """The line of the generated client that failed, and why."""
    frames = [f for f in traceback.extract_tb(e.__traceback__) if "insyn_client" in f.filename]
    if not frames:
        return f"{type(e).__name__}: {e}"
    f = frames[-1]
    name = f.filename[f.filename.rindex("insyn_client"):]
    return f"{type(e).__name__}: {e} (at {name}:{f.lineno} `{(f.line or '').strip()}`)"


class Flow:
    def __init__(self, base_url: str, admin_token: str, openapi: Path):
        from insyn_client import AuthenticatedClient, Client

        self.Client = Client
        self.AuthenticatedClient = AuthenticatedClient
        self.base_url = base_url
        # The last answer any client got, so that an answer the generated models cannot read can
        # still be reported (and the flow go on): an httpx event hook, set through the generated
        # client's own `httpx_args`.
        self.last_response = None
        self.admin = AuthenticatedClient(base_url=base_url, token=admin_token, **self._httpx())
        self.public = Client(base_url=base_url, **self._httpx())
        self.failures: list[str] = []
        self.repeated: set[str] = set()
        self.steps = 0
        doc = json.loads(openapi.read_text())
        self.documented = {
            op["operationId"]
            for item in doc.get("paths", {}).values()
            for op in item.values()
            if isinstance(op, dict) and "operationId" in op
        }
        self.generated = self._generated_operations()

    # ---- the generated client ----------------------------------------------------------------

    @staticmethod
    def _generated_operations() -> dict[str, typing.Any]:
        import insyn_client.api as api

        found = {}
        for tag in pkgutil.iter_modules(api.__path__):
            pkg = importlib.import_module(f"insyn_client.api.{tag.name}")
            for op in pkgutil.iter_modules(pkg.__path__):
                found[op.name] = importlib.import_module(f"insyn_client.api.{tag.name}.{op.name}")
        return found

    def _httpx(self) -> dict:
        def keep(response):
            self.last_response = response

        return {"timeout": 30.0, "httpx_args": {"event_hooks": {"response": [keep]}}}

    def token_client(self, token: str):
        return self.AuthenticatedClient(base_url=self.base_url, token=token, **self._httpx())

    def op(self, operation_id: str):
        module = self.generated.get(operation_id)
        if module is None:
            where = "in the document" if operation_id in self.documented else "not in the document"
            raise ContractFailure(
                f"{operation_id}: the generated client has no such operation ({where}; "
                "see openapi-python-client's warnings above)"
            )
        return module

    def body(self, operation_id: str, data: dict):
        """The operation's request body, built by its generated model from the documented JSON."""
        hints = typing.get_type_hints(self.op(operation_id).sync_detailed)
        model = hints["body"]
        if typing.get_origin(model) is typing.Union or type(model).__name__ == "UnionType":
            model = next(m for m in typing.get_args(model) if hasattr(m, "from_dict"))
        if model is typing.Any:
            return data
        return model.from_dict(data)

    def call(self, operation_id: str, client, expect: int, **kwargs) -> "Answer":
        """Calls the generated operation and checks the status. The generated model must read the
        answer; when it cannot, that is a failure of its own, and the flow goes on with the JSON."""
        module = self.op(operation_id)
        self.last_response = None
        parse_error = None
        try:
            response = module.sync_detailed(client=client, **kwargs)
            raw, parsed = response, response.parsed
        except Exception as e:
            raw, parsed, parse_error = self.last_response, None, e
            if raw is None:  # not an answer the models choked on: the call itself failed
                raise
        status = int(raw.status_code)
        content = raw.content
        if status != expect:
            raise ContractFailure(
                f"{operation_id}: expected {expect}, got {status}: {content[:600].decode('utf-8', 'replace')}"
            )
        if parse_error is not None:
            self.note_failure(
                f"{operation_id} -> {expect}",
                f"the generated client cannot read the answer: {where(parse_error)}",
            )
        elif parsed is None or type(parsed).__name__ == "Problem":
            self.note_failure(f"{operation_id} -> {expect}", f"did not parse into its documented model: {parsed!r}")
            parsed = None
        data = None
        if raw.headers.get("content-type", "").startswith("application/json"):
            data = json.loads(content)
        return Answer(data, parsed, raw)

    # ---- reporting ---------------------------------------------------------------------------

    def step(self, name: str, fn):
        self.steps += 1
        started = time.monotonic()
        try:
            out = fn()
        except ContractFailure as e:
            self.failures.append(f"{name}: {e}")
            print(f"  FAIL {name}: {e}", flush=True)
            raise
        except Exception as e:
            self.failures.append(f"{name}: {type(e).__name__}: {e}")
            print(f"  FAIL {name}: {type(e).__name__}: {e}", flush=True)
            traceback.print_exc(limit=4)
            raise ContractFailure(str(e)) from e
        print(f"  ok   {name} ({(time.monotonic() - started) * 1000:.0f} ms)", flush=True)
        return out

    def note_failure(self, name: str, why: str):
        line = f"{name}: {why}"
        if line in self.failures:
            if line not in self.repeated:
                self.repeated.add(line)
                print(f"  FAIL {name}: (again; further repeats not shown) {why.splitlines()[0][:100]}", flush=True)
            return
        self.failures.append(line)
        print(f"  FAIL {line}", flush=True)

    # ---- the flow ----------------------------------------------------------------------------

    def channel_and_imports(self, fixtures: Path) -> int:
        def channel():
            body = self.body("create_channel", {"platform": "facebook", "account_id": PAGE, "name": "MyLife"})
            view = self.call("create_channel", self.admin, 201, body=body)
            assert view["account_id"] == PAGE, view.data
            return view["id"]

        ch = self.step("create_channel (facebook Page MyLife)", channel)
        for name in FIXTURES:
            payload = json.loads((fixtures / name).read_text())

            def imp(payload=payload):
                return self.call("import_payload", self.admin, 200, channel=ch, body=payload)

            result = self.step(f"import_payload {name}", imp)
            print(f"         created {result['created']}, new versions {result['new_versions']}, "
                  f"unchanged {result['unchanged']}, skipped {len(result['skipped'])}")
        return ch

    def submit(self, kind: str) -> tuple[int, str]:
        data = {
            "type": kind,
            "email": "kun.liu@example.se",
            "language": "en",
            "identities": [{"platform": "facebook", "value": PERSON}],
        }

        def go():
            if "submit_request" in self.generated:
                submitted = self.call("submit_request", self.public, 202, body=self.body("submit_request", data))
            else:
                # The generator dropped POST /api/v1/requests (see its warnings): a contract failure,
                # counted; the rest of the flow still runs, through the generated client's own httpx
                # client and the generated answer model, so that it is checked too.
                self.note_failure(
                    "submit_request",
                    "not in the generated client (openapi-python-client dropped it); "
                    "submitting through the generated client's own httpx client instead",
                )
                from insyn_client.models.submitted import Submitted

                r = self.public.get_httpx_client().post("/api/v1/requests", json=data)
                if r.status_code != 202:
                    raise ContractFailure(f"submit_request: expected 202, got {r.status_code}: {r.text[:600]}")
                try:
                    model = Submitted.from_dict(r.json())
                except Exception as e:
                    self.note_failure("submit_request -> 202", f"the generated client cannot read the answer: {where(e)}")
                    model = None
                submitted = Answer(r.json(), model, r)
            assert submitted["status"] == "awaiting_verification", submitted.data
            assert submitted["status_token"], "no status token"
            return submitted["id"], submitted["status_token"]

        return self.step(f"submit_request ({kind}, facebook {PERSON})", go)

    def as_citizen(self, request_id: int, token: str, status: str):
        def go():
            view = self.call("get_request", self.token_client(token), 200, id=request_id)
            assert view["status"] == status, f"status {view['status']}, expected {status}"

        self.step(f"get_request #{request_id} with its status token: {status}", go)

    def token_replaced(self, request_id: int, token: str):
        """The officer proved the person while the address was unconfirmed: the token given at
        submission is replaced by one mailed to the address (which this run cannot read), and the
        given one is no token any more: 401."""

        def go():
            self.last_response = None
            try:
                raw = self.op("get_request").sync_detailed(client=self.token_client(token), id=request_id)
            except Exception:
                raw = self.last_response
                if raw is None:
                    raise
            if int(raw.status_code) != 401:
                raise ContractFailure(f"get_request: expected 401, got {int(raw.status_code)}")
            if not raw.headers.get("content-type", "").startswith("application/problem+json"):
                raise ContractFailure(f"get_request -> 401: not a problem: {raw.headers.get('content-type')}")

        self.step(f"get_request #{request_id} with the token given at submission: 401 (replaced)", go)

    def officer(self, operation_id: str, request_id: int, status: str, data: dict | None = None):
        def go():
            kwargs = {"body": self.body(operation_id, data)} if data is not None else {}
            view = self.call(operation_id, self.admin, 200, id=request_id, **kwargs)
            assert view["status"] == status, f"status {view['status']}, expected {status}"
            return view

        return self.step(f"{operation_id} #{request_id} -> {status}", go)

    def access(self):
        request_id, token = self.submit("access")
        self.as_citizen(request_id, token, "awaiting_verification")
        view = self.officer("verify_request_identity", request_id, "verified",
                            {"method": "e_id", "note": "BankID at the contact centre"})
        if not all(i.get("verified_at") for i in view["identities"]):
            self.note_failure("verify_request_identity", f"an account is not verified: {view['identities']}")
        self.officer("assign_request", request_id, "in_progress", {"assignee": "dpo"})
        self.token_replaced(request_id, token)
        self.officer("complete_request", request_id, "completed", {"summary": "Here is what we hold about you."})

        def download():
            client = self.admin
            deadline = time.monotonic() + 60
            module = self.op("download_package")
            while True:
                self.last_response = None
                try:
                    response = module.sync_detailed(id=request_id, client=client)
                    parsed = response.parsed
                except Exception as e:
                    # The 409 "being built" problem is an answer too: the generated model must read it.
                    response, parsed = self.last_response, None
                    if response is None:
                        raise
                    self.note_failure(
                        f"download_package -> {response.status_code}",
                        f"the generated client cannot read the answer: {where(e)}",
                    )
                if response.status_code == 200:
                    break
                if response.status_code != 409 or time.monotonic() > deadline:
                    raise ContractFailure(
                        f"download_package: expected 200 (or 409 while it is built), got "
                        f"{int(response.status_code)}: {response.content[:600].decode('utf-8', 'replace')}"
                    )
                time.sleep(0.2)
            data = parsed.payload.read() if parsed is not None else response.content
            if not data.startswith(b"PK\x03\x04"):
                raise ContractFailure(f"download_package: not a ZIP (starts {data[:8]!r})")
            sha = response.headers.get("x-package-sha256")
            if sha != hashlib.sha256(data).hexdigest():
                raise ContractFailure(f"download_package: X-Package-SHA256 {sha!r} is not the body's SHA-256")
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                names = sorted(z.namelist())
                if z.testzip() is not None:
                    raise ContractFailure("download_package: a damaged member in the ZIP")
                missing = {"index.html", "data.json", "manifest.json"} - set(names)
                if missing:
                    raise ContractFailure(f"download_package: the ZIP lacks {sorted(missing)}: {names}")
                records = json.loads(z.read("data.json")).get("records", [])
            if not records:
                raise ContractFailure("download_package: data.json holds no record of the person")
            print(f"         {len(data)} bytes, {names}, {len(records)} record(s)")

        self.step(f"download_package #{request_id} with the officer's token (a ZIP)", download)

    def erasure(self):
        documented = [op for op in ERASURE_OPS if op in self.documented]
        if not documented:
            print("  erasure operations not in the document yet")
            return
        missing = [op for op in ERASURE_OPS if op not in self.documented]
        if missing:
            self.note_failure("erasure", f"only some erasure operations are documented: missing {missing}")

        request_id, token = self.submit("erasure")
        self.officer("verify_request_identity", request_id, "verified", {"method": "e_id"})
        self.token_replaced(request_id, token)
        self.officer("assign_request", request_id, "in_progress", {"assignee": "dpo"})

        def check_plan(plan: Answer, when: str) -> dict:
            d = plan.data or {}
            for key in ["id", "request_id", "status", "items", "totals"]:
                if key not in d:
                    raise ContractFailure(f"ErasurePlan ({when}) has no `{key}`: {d}")
            if d["request_id"] != request_id:
                raise ContractFailure(f"ErasurePlan.request_id {d['request_id']}, expected {request_id}")
            for item in d["items"]:
                for key in ["id", "kind", "decision", "excluded"]:
                    if key not in item:
                        raise ContractFailure(f"ErasurePlan item has no `{key}`: {item}")
            return d

        def tally(items: list, key: str) -> dict:
            out: dict[str, int] = {}
            for item in items:
                out[str(item.get(key))] = out.get(str(item.get(key)), 0) + 1
            return out

        def plan():
            d = check_plan(self.call("plan_erasure", self.admin, 200, id=request_id), "planned")
            if not d["items"]:
                raise ContractFailure("plan_erasure: the plan has no item, though the person has records")
            print(f"         plan {d['id']}: status {d['status']}, {len(d['items'])} item(s) "
                  f"{tally(d['items'], 'decision')}, totals {d['totals']}")
            return d

        planned = self.step(f"plan_erasure #{request_id}", plan)

        def get():
            d = check_plan(self.call("get_erasure_plan", self.admin, 200, id=request_id), "read back")
            if d["id"] != planned["id"] or len(d["items"]) != len(planned["items"]):
                raise ContractFailure(f"get_erasure_plan is not the plan just made: {d} vs {planned}")

        self.step(f"get_erasure_plan #{request_id}", get)

        # Leave one item out: a take-down (`unpublish`) if there is one, else one of several erasures
        # (only those can be left out; a retained item is kept anyway).
        open_items = [i for i in planned["items"] if not i.get("excluded")]
        unpublish = [i for i in open_items if i.get("decision") == "unpublish"]
        erase = [i for i in open_items if i.get("decision") == "erase"]
        item = unpublish[0] if unpublish else (erase[0] if len(erase) >= 2 else None)
        if item is not None:

            def exclude():
                body = self.body("exclude_erasure_item", {"reason": "Kept: part of an open police report."})
                # The item's path parameter, by whatever name the document gives it (`item_id`).
                params = inspect.signature(self.op("exclude_erasure_item").sync_detailed).parameters
                item_param = next(n for n in params if n not in ("id", "client", "body"))
                self.call("exclude_erasure_item", self.admin, 200, id=request_id, body=body,
                          **{item_param: item["id"]})
                d = check_plan(self.call("get_erasure_plan", self.admin, 200, id=request_id), "after exclusion")
                back = next(i for i in d["items"] if i["id"] == item["id"])
                if not back.get("excluded") or not back.get("exclusion_reason"):
                    raise ContractFailure(f"exclude_erasure_item: the item does not read back excluded: {back}")

            self.step(f"exclude_erasure_item #{request_id} item {item['id']} ({item.get('decision')})", exclude)
        else:
            print("         (no take-down and fewer than two erasures in the plan: exclude_erasure_item not exercised)")

        def approve():
            answer = self.call("approve_erasure_plan", self.admin, 200, id=request_id)
            # The executed plan, as the answer itself or under `plan` (with what approval did).
            if answer.data is not None and "plan" in answer.data and "items" not in answer.data:
                extra = {k: v for k, v in answer.data.items() if k != "plan"}
                print(f"         the answer wraps the plan: {extra}")
                answer = Answer(answer.data["plan"], None, answer.response)
            d = check_plan(answer, "executed")
            if d["status"] != "executed":
                raise ContractFailure(f"approve_erasure_plan: the plan is `{d['status']}`, not executed")
            print(f"         plan {d['id']}: status {d['status']}, outcomes {tally(d['items'], 'outcome')}, "
                  f"totals {d['totals']}")

        self.step(f"approve_erasure_plan #{request_id}", approve)

        def completed():
            view = self.call("get_request", self.admin, 200, id=request_id)
            assert view["status"] == "completed", f"status {view['status']}, expected completed"

        self.step(f"get_request #{request_id}: completed", completed)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--token", required=True, help="an admin token")
    ap.add_argument("--root", required=True, help="the repository's root (fixtures are in ../shared)")
    ap.add_argument("--openapi", default="openapi/openapi.json")
    args = ap.parse_args()

    root = Path(args.root)
    fixtures = (root / ".." / "shared" / "fixtures" / "meta-graph").resolve()
    openapi = Path(args.openapi)
    if not openapi.is_absolute():
        openapi = root / openapi
    flow = Flow(args.base_url, args.token, openapi)
    undocumented = sorted(flow.documented - set(flow.generated))
    print(f"generated client: {len(flow.generated)} of {len(flow.documented)} documented operations")
    if undocumented:
        flow.note_failure("generated client", f"operations the generator dropped: {', '.join(undocumented)}")

    try:
        flow.channel_and_imports(fixtures)
    except ContractFailure:
        pass  # without the channel and the imports nothing after them means anything
    else:
        for section in (flow.access, flow.erasure):
            try:
                section()
            except ContractFailure:
                pass  # recorded; the next section is independent of this one
    print(f"flow: {flow.steps} step(s), {len(flow.failures)} failure(s)")
    for f in flow.failures:
        print(f"  - {f}")
    return 1 if flow.failures else 0


if __name__ == "__main__":
    sys.exit(main())
