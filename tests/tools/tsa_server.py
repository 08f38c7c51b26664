#!/usr/bin/env python3
"""A tiny RFC 3161 time-stamp authority over HTTP for tests: every POSTed
TimeStampReq is answered by `openssl ts -reply` with the TSA that
tsa-setup.sh made in DIR. Prints the port it listens on (127.0.0.1), then
serves until killed.

The file DIR/mode, read per request, picks the answer, so a test can make
a working authority fail and recover:
  ok             a real reply
  garbage        200 with bytes that are no time-stamp response
  wrong-imprint  a real reply, but to a request for another imprint
  down           503
DIR/auth, if present, holds the one "user:password" accepted (HTTP basic).
Each request is logged to DIR/requests.log (mode, whether auth was given).

Usage: tsa_server.py DIR
"""
import base64
import http.server
import os
import subprocess
import sys

D = sys.argv[1]


def read(name, default=None):
    try:
        with open(os.path.join(D, name)) as f:
            return f.read().strip()
    except OSError:
        return default


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, code, body, ctype="application/timestamp-reply"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        mode = read("mode", "ok")
        auth = self.headers.get("Authorization")
        with open(os.path.join(D, "requests.log"), "a") as log:
            log.write(f"{mode} auth={'yes' if auth else 'no'}\n")
        want = read("auth")
        if want and auth != "Basic " + base64.b64encode(want.encode()).decode():
            return self.answer(401, b"unauthorized", "text/plain")
        if mode == "down":
            return self.answer(503, b"down", "text/plain")
        if mode == "garbage":
            return self.answer(200, b"<html>this is not a time stamp</html>")
        query = os.path.join(D, "query.tsq")
        with open(query, "wb") as f:
            f.write(body)
        if mode == "wrong-imprint":
            subprocess.run(["openssl", "ts", "-query", "-digest", "ab" * 32, "-sha256",
                            "-cert", "-out", query], check=True, cwd=D, capture_output=True)
        out = subprocess.run(["openssl", "ts", "-reply", "-config", "tsa.cnf", "-queryfile",
                              "query.tsq", "-out", "reply.tsr"], cwd=D, capture_output=True)
        if out.returncode != 0:
            return self.answer(500, out.stderr, "text/plain")
        with open(os.path.join(D, "reply.tsr"), "rb") as f:
            self.answer(200, f.read())


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
