"""A small HTTPS JSON client for uplink-cloud's REST API (docs/api.md).

Built on http.client + ssl only, trusting the cloud's own CA
(DATA_DIR/ca.pem); one TLS connection per request (nothing to go stale
across a daemon restart).

    c = Client(cloud.port, ca=os.path.join(cloud.data, "ca.pem"))
    r = c.sign_in("ana@example.net", "correct horse battery staple")   # keeps the cookie
    r.status, r.headers, r.body              # also unpacks as a 3-tuple
    c.post("/api/v1/sites", {"name": "hq"})  # X-CSRF-Token added by itself

    k = Client(cloud.port, ca=..., key="uk_...")          # Authorization: Bearer

What it does for the caller:

  * cookies: every Set-Cookie of a response goes into c.cookies
    ({name: value}; Max-Age=0 or an Expires in the past removes it) and is
    sent back on the next requests; c.cookies can be edited freely.
  * CSRF: sign_in() keeps the session's csrf_token (c.csrf); POST, PUT,
    PATCH and DELETE then carry X-CSRF-Token: c.csrf while c.auto_csrf is
    true (set it False, or pass headers={"X-CSRF-Token": ...}, to test the
    refusals).
  * background=True sends X-Uplink-Background: 1 on every request (or pass
    background=True to one request).
  * body: a Python value is sent as JSON with Content-Type
    application/json; raw=b"..." sends those bytes as they are, with
    content_type (default application/json; None sends no Content-Type).
  * the answer's body is parsed as JSON when it says application/json (or
    looks like JSON), else returned as text; r.raw has the bytes.

Nothing here asserts: a test reads status, headers and body itself.
"""

import http.client
import json
import socket
import ssl
import time
from email.utils import parsedate_to_datetime

STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")


class Response(tuple):
    """(status, headers, body): headers is an http.client.HTTPMessage
    (case-insensitive .get(), .get_all("Set-Cookie")), body the parsed JSON,
    or text, or None when empty. Also .raw (bytes) and .set_cookies."""

    def __new__(cls, status, headers, body, raw=b""):
        self = super().__new__(cls, (status, headers, body))
        self.raw = raw
        self.set_cookies = (headers.get_all("Set-Cookie") or []) if headers is not None else []
        return self

    status = property(lambda self: self[0])
    headers = property(lambda self: self[1])
    body = property(lambda self: self[2])

    @property
    def error(self):
        """The "error" code of an error body, or None."""
        return self.body.get("error") if isinstance(self.body, dict) else None

    def __repr__(self):
        text = self.raw[:600].decode(errors="replace")
        return f"<HTTP {self.status} {text!r}>"


def parse_set_cookie(line):
    """'a=b; HttpOnly; Path=/' -> ("a", "b", {"httponly": True, "path": "/"})
    (attribute names lowercased, flags True)."""
    parts = [p.strip() for p in line.split(";")]
    name, _, value = parts[0].partition("=")
    attrs = {}
    for p in parts[1:]:
        if not p:
            continue
        k, eq, v = p.partition("=")
        attrs[k.strip().lower()] = v.strip() if eq else True
    return name.strip(), value.strip(), attrs


class Client:
    def __init__(self, port, ca, host="127.0.0.1", server_name=None, key=None,
                 source_address=None, timeout=15.0, background=False, client_cert=None):
        """port: the cloud's TLS port (cloudpeers.Cloud.port); ca: the file
        to trust (DATA_DIR/ca.pem); server_name: the name checked in the
        certificate (default host); key: an API key sent as Bearer;
        source_address: a local address to connect from (e.g. "127.0.0.2":
        the cloud sees another client address); client_cert: (cert.pem,
        key.pem) presented in the handshake (a connector's)."""
        self.host, self.port = host, port
        self.server_name = server_name or host
        self.key = key
        self.source_address = source_address
        self.timeout = timeout
        self.background = background
        self.cookies = {}
        self.csrf = None
        self.auto_csrf = True
        self.ctx = ssl.create_default_context(cafile=ca)
        self.ctx.set_alpn_protocols(["http/1.1"])
        if client_cert:
            self.ctx.load_cert_chain(*client_cert)

    # -- transport
    def _connection(self):
        return _Connection(self.host, self.port, self.server_name, self.ctx, self.timeout,
                           (self.source_address, 0) if self.source_address else None)

    def request(self, method, path, body=None, raw=None, headers=None,
                content_type="application/json", background=None, csrf=None):
        """One request; returns a Response. body (a Python value) is sent as
        JSON; raw (bytes or str) as is. csrf overrides auto_csrf for this
        request (True/False)."""
        h = {"Accept": "application/json", "Host": f"{self.server_name}:{self.port}"}
        data = None
        if raw is not None:
            data = raw.encode() if isinstance(raw, str) else raw
        elif body is not None:
            data = json.dumps(body).encode()
        if data is not None and content_type is not None:
            h["Content-Type"] = content_type
        if data is None and method in STATE_CHANGING:
            h["Content-Length"] = "0"
        if self.key:
            h["Authorization"] = f"Bearer {self.key}"
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        send_csrf = self.auto_csrf if csrf is None else csrf
        if send_csrf and method in STATE_CHANGING and self.csrf:
            h["X-CSRF-Token"] = self.csrf
        if self.background if background is None else background:
            h["X-Uplink-Background"] = "1"
        h.update(headers or {})
        h = {k: v for k, v in h.items() if v is not None}
        conn = self._connection()
        try:
            try:
                conn.request(method, path, body=data, headers=h)
                resp = conn.getresponse()
            except (BrokenPipeError, ConnectionResetError):
                # The cloud may answer (413...) and close before it read the
                # whole body: its answer may still be there to read.
                if conn.sock is None:
                    raise
                resp = http.client.HTTPResponse(conn.sock, method=method)
                resp.begin()
            payload = resp.read()
            status, rh = resp.status, resp.headers
        finally:
            conn.close()
        self._keep_cookies(rh)
        return Response(status, rh, _decode(rh, payload), payload)

    def _keep_cookies(self, headers):
        for line in headers.get_all("Set-Cookie") or []:
            name, value, attrs = parse_set_cookie(line)
            gone = False
            if "max-age" in attrs:
                try:
                    gone = int(attrs["max-age"]) <= 0
                except ValueError:
                    pass
            elif isinstance(attrs.get("expires"), str):
                try:
                    gone = parsedate_to_datetime(attrs["expires"]).timestamp() < time.time()
                except (TypeError, ValueError):
                    pass
            if gone or value == "":
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value

    # -- shorthands
    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body=body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    # -- sessions
    def sign_in(self, email, password):
        """POST /api/v1/session; on 201 the cookie is kept and c.csrf set
        from the session's csrf_token."""
        r = self.request("POST", "/api/v1/session", {"email": email, "password": password})
        if r.status == 201 and isinstance(r.body, dict):
            self.csrf = r.body.get("csrf_token")
        return r

    def sign_out(self):
        """DELETE /api/v1/session; forgets the CSRF token (the cookie goes
        when the cloud clears it)."""
        r = self.request("DELETE", "/api/v1/session")
        self.csrf = None
        return r

    def copy(self):
        """Another client of the same cloud with the same cookies, CSRF
        token and key (e.g. an old cookie kept after a sign-out)."""
        c = Client.__new__(Client)
        c.__dict__.update(self.__dict__)
        c.cookies = dict(self.cookies)
        return c


class _Connection(http.client.HTTPSConnection):
    """HTTPSConnection to host that checks the certificate for server_name."""

    def __init__(self, host, port, server_name, ctx, timeout, source_address):
        super().__init__(host, port, timeout=timeout, context=ctx,
                         source_address=source_address)
        self._server_name = server_name
        self._ctx = ctx

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout,
                                        self.source_address)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self._server_name)


def _decode(headers, payload):
    if not payload:
        return None
    text = payload.decode(errors="replace")
    ctype = (headers.get("Content-Type") or "").lower()
    if "json" in ctype or text[:1] in "{[":
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text
