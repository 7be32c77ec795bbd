"""Portero from Python with requests.

A token (OAuth 2.0 client credentials), kept and renewed before it expires; a webhook endpoint
served by this script; a message through /Services; its status until it is final; and its webhook
verified as the Standard Webhooks specification says. Retry-After is honoured on 429 and 503.

With `npm start` running it needs nothing: it reads the demo's credentials from
.wrangler/portero-dev.json. Elsewhere, set the PORTERO_* variables (README.md).
"""

import base64
import hashlib
import hmac
import json
import os
import pathlib
import queue
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

DEV_FILE = pathlib.Path(
    os.environ.get("PORTERO_DEV_FILE")
    or pathlib.Path(__file__).resolve().parents[2] / ".wrangler" / "portero-dev.json"
)
DEV = json.loads(DEV_FILE.read_text()) if DEV_FILE.exists() else {}


def setting(name, dev_value=None):
    value = os.environ.get(name, dev_value)
    if value in (None, ""):
        raise SystemExit(f"set {name} (or run npm start)")
    return value


def demo_secret():
    return next((c["secret"] for c in DEV.get("clients", []) if c["id"] == "demo-client"), None)


PORTERO = setting("PORTERO_URL", DEV.get("base"))
CLIENT_ID = setting("PORTERO_CLIENT_ID", "demo-client")
CLIENT_SECRET = setting("PORTERO_CLIENT_SECRET", demo_secret())
SERVICE_TOKEN = setting("PORTERO_SERVICE_TOKEN", DEV.get("serviceToken"))
SERVICE_ID = int(setting("PORTERO_SERVICE_ID", DEV.get("serviceId")))
PROVIDER_ID = int(setting("PORTERO_PROVIDER_ID", "1001"))
DESTINATION = setting("PORTERO_DESTINATION", DEV.get("userId"))
FINAL = {"delivered", "undelivered", "failed", "dead", "partially_delivered", "partially_sent"}


class Portero:
    """A requests session that carries a current token and honours Retry-After."""

    def __init__(self, base, client_id, client_secret, max_retries=2, max_wait=60):
        self.base = base.rstrip("/")
        self.auth = (client_id, client_secret)
        self.session = requests.Session()
        self.max_retries = max_retries
        self.max_wait = max_wait
        self._token = None
        self._renew_at = 0.0

    def token(self):
        # Renew when a tenth of its life (at most 60 s) is left.
        if self._token is None or time.time() >= self._renew_at:
            answer = self._send(
                "POST",
                "/oauth/token",
                auth=self.auth,
                data={"grant_type": "client_credentials"},
            )
            answer.raise_for_status()
            body = answer.json()
            life = body["expires_in"]
            self._token = body["access_token"]
            self._renew_at = time.time() + life - min(60, life / 10)
        return self._token

    def _send(self, method, path, **kwargs):
        for retry in range(self.max_retries + 1):
            answer = self.session.request(method, self.base + path, timeout=30, **kwargs)
            if answer.status_code not in (429, 503) or retry == self.max_retries:
                return answer
            wait = answer.headers.get("Retry-After", "")
            seconds = int(wait) if wait.isdigit() else 2**retry
            if seconds > self.max_wait:
                return answer
            time.sleep(seconds)
        return answer

    def call(self, method, path, json_body=None, headers=None):
        headers = {"Authorization": f"Bearer {self.token()}", **(headers or {})}
        answer = self._send(method, path, json=json_body, headers=headers)
        if answer.status_code == 401:  # revoked before its time: one new token
            self._token = None
            headers["Authorization"] = f"Bearer {self.token()}"
            answer = self._send(method, path, json=json_body, headers=headers)
        if answer.status_code >= 400:
            # RFC 9457 problem details: `code` for programs, `detail` for people.
            raise RuntimeError(f"{method} {path}: {answer.status_code} {answer.text}")
        return answer


def verify_webhook(secret, body, headers, tolerance=300):
    """Standard Webhooks: HMAC-SHA256 over "{id}.{timestamp}.{body}"; one v1 signature is enough."""
    msg_id = headers["webhook-id"]
    timestamp = headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance:
        raise ValueError("webhook-timestamp too far from now")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for signature in headers["webhook-signature"].split(" "):
        version, _, value = signature.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return json.loads(body)
    raise ValueError("no webhook signature matches")


def start_receiver(received):
    """A webhook endpoint: keeps each request's raw body and headers, answers 204 at once."""

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.put((body, {k.lower(): v for k, v in self.headers.items()}))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("localhost", int(os.environ.get("WEBHOOK_PORT", "0"))), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    portero = Portero(PORTERO, CLIENT_ID, CLIENT_SECRET)
    print("token:", portero.token()[:20] + "…")

    received = queue.Queue()
    server = start_receiver(received)
    # Portero accepts a localhost endpoint only while it runs on localhost itself (development);
    # elsewhere WEBHOOK_URL is your public https endpoint in front of this receiver.
    url = os.environ.get("WEBHOOK_URL", f"http://localhost:{server.server_address[1]}/hooks")
    endpoint = portero.call(
        "POST",
        "/webhooks",
        {"url": url, "event_types": ["message.delivered", "message.undelivered", "message.failed", "message.dead"]},
    ).json()
    print("webhook endpoint:", endpoint["id"])
    try:
        message = portero.call(
            "POST",
            "/Services",
            {
                "provider_id": PROVIDER_ID,
                "service_token": SERVICE_TOKEN,
                "service_id": SERVICE_ID,
                "parameters": {
                    "destination": DESTINATION,
                    "notification": {"title": "Turno", "message": "Oftalmologo lunes 9:15", "channel": "SMS"},
                },
            },
            headers={"Idempotency-Key": str(uuid.uuid4())},
        ).json()
        print("message:", message["id"], message["status"])

        status = message["status"]
        for _ in range(60):
            status = portero.call("GET", f"/Services/messages/{message['id']}").json()["status"]
            if status in FINAL:
                break
            time.sleep(0.5)
        print("status:", status)

        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                body, headers = received.get(timeout=max(0.1, deadline - time.time()))
            except queue.Empty:
                break
            event = verify_webhook(endpoint["secret"], body, headers)
            if event["data"]["message_id"] == message["id"]:
                print("webhook:", event["type"], headers["webhook-id"], "signature verified")
                return
        raise SystemExit("no webhook arrived")
    finally:
        portero.call("DELETE", f"/webhooks/{endpoint['id']}")
        server.shutdown()


if __name__ == "__main__":
    main()
