"""`make vault-local`: the card vault's ALB handler on http://127.0.0.1:$VAULT_PORT (default 8080).

Plain HTTP on the loopback interface only. Each request becomes the event an ALB would send,
with the caller identity taken from the `X-Amzn-Mtls-Clientcert-Subject` header (what the ALB
sets in mutual-TLS verify mode); the default client is `DEFAULT_CLIENT_SUBJECT` issued by
`DEFAULT_CLIENT_ISSUER` (`VAULT_CLIENTS`, a JSON list of client settings, replaces it). The start-up
banner prints the configured clients' headers. `--mtls-mode verify` (or `VAULT_MTLS_MODE=verify`)
requires the leaf header as the deployed vault does; the default `headers` does not. Logs go to stdout.

SIGTERM and SIGINT stop it cleanly: the server closes, and the embedded PostgreSQL is stopped by
pgserver's exit handler (which a process killed by SIGTERM's default action never runs).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import uuid
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from benchmarks.vault_env import ROOT, local_vault

if TYPE_CHECKING:
    from card_vault.settings import VaultSettings

HOST = "127.0.0.1"
MAX_BODY_BYTES = 1_048_576  # the ALB's limit for a Lambda target's request body


class _Context:
    function_name = "card-vault-api-local"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-1:000000000000:function:card-vault-api-local"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def alb_event(method: str, path: str, headers: list[tuple[str, str]], body: str) -> dict[str, Any]:
    """The event an ALB sends a Lambda target with multi-value headers on (lower-case names, every value kept)."""
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        multi.setdefault(name.lower(), []).append(value)
    multi.setdefault("x-amzn-trace-id", [f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}"])
    path, _, query = path.partition("?")
    params: dict[str, list[str]] = {}
    for pair in query.split("&"):
        if "=" in pair:
            name, _, value = pair.partition("=")
            params.setdefault(name, []).append(value)
    return {
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:local:0:targetgroup/vault/0"}},
        "httpMethod": method,
        "path": path,
        "multiValueQueryStringParameters": params,
        "multiValueHeaders": multi,
        "body": body,
        "isBase64Encoded": False,
    }


def make_handler() -> type[BaseHTTPRequestHandler]:
    """Request handler class. Powertools' resolvers keep the current event in class state, so handler
    calls are serialized, one event at a time as in one Lambda instance (Lambda scales by instances);
    sockets and parsing stay concurrent. TCP_NODELAY on every connection: the status line and headers
    and then the body are two writes, and Nagle's algorithm held the second until the client's delayed
    ACK (about 40 ms per keep-alive request on Linux)."""
    import threading

    from card_vault import api

    one_event_at_a_time = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # socketserver.StreamRequestHandler sets TCP_NODELAY
        server_version = "card-vault-local"
        sys_version = ""

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self.send_error(413)
                return
            body = self.rfile.read(length).decode("utf-8", errors="replace") if length else ""
            event = alb_event(self.command, self.path, list(self.headers.items()), body)
            with one_event_at_a_time:
                response = api.handler(event, _Context())
            payload = (response.get("body") or "").encode()
            self.send_response(int(response["statusCode"]))
            for name, values in (response.get("multiValueHeaders") or {}).items():
                for value in values:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve  # noqa: N815 -- http.server's names

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the handler's own JSON log lines are the access log

    return Handler


class StopSignalError(Exception):
    """Raised in the main thread by SIGTERM or SIGINT: unwinds `serve_forever` and every context."""


def _stop(signum: int, frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    print(f"stopping on {name}", flush=True)
    raise StopSignalError(name)


def parse_args(argv: list[str] | None = None, environ: Mapping[str, str] = os.environ) -> argparse.Namespace:
    """The command line: `--port` (`VAULT_PORT`, 8080), `--data-dir`, `--mtls-mode` (`VAULT_MTLS_MODE`, headers)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(environ.get("VAULT_PORT", "8080")))
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".vault-local")
    parser.add_argument(
        "--mtls-mode",
        choices=("headers", "verify"),
        default=environ.get("VAULT_MTLS_MODE", "headers"),
        help="verify: every request must carry X-Amzn-Mtls-Clientcert-Leaf, as behind the deployed load balancer",
    )
    return parser.parse_args(argv)


def banner(settings: VaultSettings) -> list[str]:
    """The lines naming each configured client (id, rights) and the headers a request sends as it, and the mode."""
    lines = [f"mtls mode: {settings.mtls_mode}"]
    if settings.mtls_mode == "verify":
        lines.append("  every request also sends X-Amzn-Mtls-Clientcert-Leaf (the URL-encoded PEM) and the serial")
    for client in settings.clients:
        lines.append(f"client {client.id} ({', '.join(sorted(client.rights))}):")
        lines.append(f"  X-Amzn-Mtls-Clientcert-Subject: {client.subject}")
        lines.append(f"  X-Amzn-Mtls-Clientcert-Issuer: {client.issuer}")
    return lines


def main() -> None:
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    args = parse_args()
    from card_vault import runtime
    from card_vault.settings import ClientSettings

    raw = json.loads(os.environ["VAULT_CLIENTS"]) if "VAULT_CLIENTS" in os.environ else []
    clients = tuple(ClientSettings.model_validate(client) for client in raw)
    with local_vault(args.data_dir, clients=clients, mtls_mode=args.mtls_mode) as local:
        runtime.install(local.vault, local.settings)
        server = ThreadingHTTPServer((HOST, args.port), make_handler())
        print(f"card vault on http://{HOST}:{args.port}/v1/cards against {local.server_description}", flush=True)
        for line in banner(local.settings):
            print(line, flush=True)
        try:
            server.serve_forever()
        except StopSignalError:
            pass  # announced by the handler; the contexts below close the server and stop PostgreSQL
        finally:
            server.server_close()


if __name__ == "__main__":
    # A signal during start-up: exit normally all the same, so pgserver's exit handler stops PostgreSQL.
    with contextlib.suppress(StopSignalError):
        main()
