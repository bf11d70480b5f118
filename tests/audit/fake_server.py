"""A stand-in OpenAI-compatible server for the ``openai`` backend's error paths.

Only the error paths use it (no metrics, timeouts, a server that dies); the
real behaviour is tested against a real vLLM server (tests/serving).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeServer:
    """Serves ``/v1/models`` and ``/v1/completions`` on a free localhost port.

    Parameters
    ----------
    model : str
        The served model's name (a tokenizer directory, as vLLM reports it).
    metrics : bool
        Whether completions carry vLLM's per-request speculative metrics.
    delay_s : float
        Seconds each completion waits before answering.
    die_after : int or None
        Completions answered before the server stops listening.
    port : int
        0 for a free port.
    """

    def __init__(self, model: str, *, metrics=True, delay_s=0.0, die_after=None, port=0) -> None:
        self.model, self.metrics, self.delay_s = model, metrics, delay_s
        self.die_after, self.completions, self.requests = die_after, 0, 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _send(self, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._send({"data": [{"id": outer.model}]})

            def do_POST(self):
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests += 1  # counted on arrival: a timed-out one counts too
                time.sleep(outer.delay_s)
                outer.completions += 1
                self._send(outer.answer(request))
                if outer.die_after is not None and outer.completions >= outer.die_after:
                    threading.Thread(target=outer.stop).start()

        ThreadingHTTPServer.allow_reuse_address = True  # restart on a dead one's port
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def answer(self, request: dict) -> dict:
        n = request["max_tokens"]
        # Steps of 2 drafts, 1 accepted (2 tokens each) after the prefill's token.
        steps = (n - 1) // 2
        body = {"choices": [{"text": "ab" * n, "token_ids": [5] * n, "finish_reason": "length"}]}
        if self.metrics:
            body["metrics"] = {
                "speculative_decoding": {
                    "per_step_drafted": [2] * steps,
                    "per_step_accepted": [1] * steps,
                }
            }
        return body

    def start(self) -> FakeServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
