"""`python -m devstack.sandbox --port P --project PROJECT [--secrets-file FILE] [--mail-outbox DIR]`.

Prints `sandbox ready http://127.0.0.1:P` once listening, so a harness can wait
for that line and read the real port when it asked for port 0.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path

from .server import HOST, SandboxServer


def _load_secrets(path: Path) -> dict[str, str]:
    try:
        secrets = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read secrets file {path}: {exc}") from exc
    if not isinstance(secrets, dict) or not all(isinstance(v, str) for v in secrets.values()):
        raise ValueError(f"secrets file {path} must be a JSON object of strings")
    return secrets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.sandbox", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--project", required=True, help="project id tokens and secrets belong to")
    parser.add_argument("--host", default=HOST, help=f"only {HOST} is accepted")
    parser.add_argument("--secrets-file", type=Path, help='JSON {"name": "value"}, loaded as version 1')
    parser.add_argument("--log-requests", action="store_true", help="access log on stderr")
    parser.add_argument("--mail-outbox", type=Path, metavar="DIR", help="write every mail SendGrid accepts as .eml files here")
    args = parser.parse_args(argv)
    if args.host != HOST:
        parser.error(f"--host must be {HOST}: the sandbox never listens beyond loopback")

    server = SandboxServer(args.project, port=args.port, quiet=not args.log_requests, mail_outbox=args.mail_outbox)
    if args.secrets_file:
        try:
            secrets = _load_secrets(args.secrets_file)
        except ValueError as exc:
            parser.error(str(exc))
        for name, value in secrets.items():
            server.put_secret(name, value)

    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    server.start()
    print(f"sandbox ready {server.url}", flush=True)
    try:
        stopping.wait()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
