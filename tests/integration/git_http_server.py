#!/usr/bin/python3
"""A smart-HTTP git server for the integration tests (lib.sh start_git_http).

    git_http_server.py ROOT PORT     (KF_GIT_HTTP_AUTH=user:pass in the environment)

Serves the bare repositories under ROOT on 127.0.0.1:PORT through
/usr/lib/git-core/git-http-backend (CGI), behind HTTP Basic auth: a request
without the right Authorization header gets 401 and a WWW-Authenticate
challenge, as a real git host answers. The credentials come from the
environment so they do not show in ps. Standard library only.
"""
import base64
import hmac
import http.server
import os
import shutil
import subprocess
import sys
import threading
import urllib.parse

BACKEND = "/usr/lib/git-core/git-http-backend"


class Handler(http.server.BaseHTTPRequestHandler):
    # HTTP/1.0: the connection closes after each response, so the CGI output
    # can be streamed without a Content-Length or chunking.
    protocol_version = "HTTP/1.0"
    server_version = "kofarm-test-git"

    def do_GET(self):
        self.serve()

    def do_POST(self):
        self.serve()

    def authorized(self):
        got = self.headers.get("Authorization", "")
        if not got.startswith("Basic "):
            return None
        try:
            plain = base64.b64decode(got[6:].strip(), validate=True)
        except ValueError:
            return None
        if not hmac.compare_digest(plain, self.server.auth):
            return None
        return plain.split(b":", 1)[0].decode("utf-8", "replace")

    def body(self):
        """The request body (Content-Length or chunked), as git sends it."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def serve(self):
        user = self.authorized()
        if user is None:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="kofarm-test-git"')
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"authentication required\n")
            return
        path, _, query = self.path.partition("?")
        data = self.body() if self.command == "POST" else b""
        env = {
            "PATH": "/usr/bin:/bin",
            "GIT_PROJECT_ROOT": self.server.root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.0",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": urllib.parse.unquote(path),
            "QUERY_STRING": query,
            "REMOTE_USER": user,
            "REMOTE_ADDR": self.client_address[0],
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(data)),
        }
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        proc = subprocess.Popen([BACKEND], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        # A thread feeds the body so a large response cannot deadlock against it.
        def feed():
            try:
                proc.stdin.write(data)
            except BrokenPipeError:
                pass
            finally:
                proc.stdin.close()
        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        status, headers = 200, []
        while True:
            line = proc.stdout.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").rstrip("\r\n").partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            else:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        try:
            shutil.copyfileobj(proc.stdout, self.wfile, 64 * 1024)
        except (BrokenPipeError, ConnectionResetError):
            pass
        feeder.join()
        proc.stdout.close()
        proc.wait()

    def log_message(self, fmt, *args):
        sys.stderr.write("git-http: %s %s\n" % (self.address_string(), fmt % args))


def main():
    if len(sys.argv) != 3 or ":" not in os.environ.get("KF_GIT_HTTP_AUTH", ""):
        sys.exit("usage: KF_GIT_HTTP_AUTH=user:pass git_http_server.py ROOT PORT")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Handler)
    server.daemon_threads = True
    server.root = os.path.abspath(sys.argv[1])
    server.auth = os.environ.pop("KF_GIT_HTTP_AUTH").encode()
    server.serve_forever()


if __name__ == "__main__":
    main()
