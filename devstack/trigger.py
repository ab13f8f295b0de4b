"""``make trigger JOB=reminders``: call a scheduled function of the running local stack the
way Cloud Scheduler does — a POST with a Google-signed OIDC token of the scheduler's
service account for the function's URL (minted by the sandbox)."""

from __future__ import annotations

import argparse
import json
import sys

import requests

from devstack.dev import DEV_JSON
from devstack.stack import scheduler_invoker


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.trigger", description=__doc__)
    parser.add_argument("job", help="reminders or maintenance")
    parser.add_argument("--body", default="{}", help='JSON body, e.g. \'{"jobs": ["cleanup"]}\'')
    args = parser.parse_args(argv)
    if not DEV_JSON.exists():
        parser.error(f"{DEV_JSON} not found: start the local stack first (make dev)")
    info = json.loads(DEV_JSON.read_text())
    url = info["functions"].get(args.job)
    if url is None:
        parser.error(f"no function {args.job!r}; the local stack runs {', '.join(info['functions'])}")
    minted = requests.post(
        f"{info['sandbox']}/sandbox/identity/oidc-token",
        timeout=10,
        json={"email": scheduler_invoker(info["project_id"]), "audience": url},
    )
    minted.raise_for_status()
    reply = requests.post(
        url + "/",
        data=args.body,
        timeout=120,
        headers={"Authorization": f"Bearer {minted.json()['id_token']}", "Content-Type": "application/json"},
    )
    print(json.dumps(reply.json(), indent=2))
    return 0 if reply.ok else 1


if __name__ == "__main__":
    sys.exit(main())
