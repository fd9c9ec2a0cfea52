"""Alerts that reach people (issue 16, section 3; docs/alerts.md).

One cloud per module (test_api.py's Env), a real SMTP relay (aiosmtpd,
Debian's python3-aiosmtpd, in this process: STARTTLS with a certificate
made per run, AUTH required and checked) and a real HTTP receiver (this
process) that verifies every webhook's Uplink-Signature with the key the
API gave. Channels and rules are made through the API; conditions come
from a real connector going offline and back, and from a notification
row written into the database as another process (the rollout) would.
"""

import functools
import hashlib
import hmac
import http.server
import json
import os
import subprocess
import threading
import time

import pytest

import cloudpeers as cp
import peers
from test_api import SLOW, expect, make_env

pytestmark = pytest.mark.skipif(
    not os.access(cp.cloud_path(), os.X_OK) or not os.access(peers.connector_path(), os.X_OK),
    reason=f"{cp.cloud_path()} or {peers.connector_path()} missing: run make "
           "(make SAN=1 with UPLINK_BUILD=build-san)")

SMTP_USER = "uplink"
SMTP_PASS = "relay-secret-1"
OFFLINE_AFTER = 3          # the rule's N, seconds


# --------------------------------------------------------------------------
# the peers

class Receiver:
    """An HTTP server on 127.0.0.1 recording webhooks. Each path has a key
    (to verify signatures) and a list of statuses to answer, one per
    request (the last one repeats)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.got = []            # dicts: path, at, headers, body, json, verified
        self.keys = {}
        self.answers = {}
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(n, 1 << 20))
                with rec.lock:
                    key = rec.keys.get(self.path)
                    answers = rec.answers.get(self.path) or [200]
                    status = answers.pop(0) if len(answers) > 1 else answers[0]
                    rec.got.append({
                        "path": self.path, "at": time.time(),
                        "headers": dict(self.headers), "body": body,
                        "json": _json(body),
                        "verified": verify(key, self.headers.get("Uplink-Signature"), body),
                    })
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def requests(self, path, event=None, subject=None):
        with self.lock:
            return [g for g in self.got if g["path"] == path
                    and (event is None or (g["json"] or {}).get("event") == event)
                    and (subject is None or (g["json"] or {}).get("subject") == subject)]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _json(body):
    try:
        return json.loads(body)
    except ValueError:
        return None


def verify(key, header, body, tolerance=300):
    """docs/alerts.md's verification: t=UNIX,v1=HEX over "T.BODY"."""
    if not key or not header:
        return False
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    mac = hmac.new(key.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, parts.get("v1", "")) and abs(time.time() - t) < tolerance


class Relay:
    """aiosmtpd on 127.0.0.1: STARTTLS required before AUTH, AUTH required
    before MAIL; records messages, TLS and the mechanism used."""

    def __init__(self, workdir):
        import ssl
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult
        os.makedirs(workdir, exist_ok=True)
        self.cert = os.path.join(workdir, "smtp.pem")
        self.key = os.path.join(workdir, "smtp.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", self.key, "-out", self.cert],
                       check=True, capture_output=True, timeout=60)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert, self.key)
        self.lock = threading.Lock()
        self.messages = []       # dicts: at, mail_from, rcpt, data, tls, auth
        self.auths = []          # (mechanism, login, ok)
        relay = self

        def authenticator(server, session, envelope, mechanism, auth_data):
            login = auth_data.login.decode()
            ok = login == SMTP_USER and auth_data.password.decode() == SMTP_PASS
            with relay.lock:
                relay.auths.append((mechanism, login, ok))
            return AuthResult(success=ok, handled=False)

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                with relay.lock:
                    relay.messages.append({
                        "at": time.time(), "mail_from": envelope.mail_from,
                        "rcpt": list(envelope.rcpt_tos),
                        "data": envelope.original_content.decode("utf-8", "replace"),
                        "tls": session.ssl is not None,
                        "auth": session.authenticated,
                    })
                return "250 OK"

        self.port = peers.free_port()
        self.ctl = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                              tls_context=ctx, require_starttls=True,
                              authenticator=authenticator, auth_required=True,
                              auth_require_tls=True)
        self.ctl.start()

    def find(self, needle):
        with self.lock:
            return [m for m in self.messages if needle in m["data"]]

    def stop(self):
        self.ctl.stop()


@pytest.fixture(scope="module")
def env(workdir):
    e = make_env(workdir, "alerts")
    e.receiver = Receiver()
    try:
        e.relay = Relay(os.path.join(workdir, "alerts", "smtp"))
    except BaseException:
        e.receiver.stop()
        e.stop()
        raise
    try:
        yield e
    finally:
        e.relay.stop()
        e.receiver.stop()
        e.stop()


poll = functools.partial(cp.poll, interval=0.2)


def webhook(env, name, path, secret=None):
    """A webhook channel to the receiver's path; registers its key there."""
    body = {"name": name, "type": "webhook", "config": {"url": env.receiver.url(path)}}
    if secret:
        body["secret"] = secret
    ch = expect(env.key().post("/api/v1/channels", body), 201)
    key = secret or ch["secret"]
    with env.receiver.lock:
        env.receiver.keys[path] = key
    return ch


def email(env, name, password=SMTP_PASS, to=("ops@example.net",)):
    return expect(env.key().post("/api/v1/channels", {
        "name": name, "type": "email", "secret": password,
        "config": {"host": "127.0.0.1", "port": env.relay.port, "starttls": "required",
                   "username": SMTP_USER, "from": "uplink@example.net", "to": list(to),
                   "ca_file": env.relay.cert}}), 201)


def deliveries(env, ch):
    return expect(env.key().get(f"/api/v1/channels/{ch['id']}/deliveries"), 200)["deliveries"]


# --------------------------------------------------------------------------
# channels through the API

def test_channel_secret_written_never_read(env):
    ch = webhook(env, "crud-hook", "/crud")
    # The generated key is shown once, in the answer to the POST.
    assert len(ch["secret"]) == 64 and ch["has_secret"] is True, ch
    for r in (env.key().get(f"/api/v1/channels/{ch['id']}"), env.key().get("/api/v1/channels"),
              env.key(read=True).get("/api/v1/channels")):
        assert r.status == 200, r
        assert ch["secret"] not in json.dumps(r.body), r.body
        assert "secret" not in json.dumps(r.body).replace("has_secret", ""), r.body
    # An SMTP password neither.
    m = email(env, "crud-mail")
    got = expect(env.key().get(f"/api/v1/channels/{m['id']}"), 200)
    assert got["has_secret"] is True and SMTP_PASS not in json.dumps(got), got
    assert got["config"]["starttls"] == "required" and got["config"]["port"] == env.relay.port

    # Writing needs the full scope.
    r = env.key(read=True).post("/api/v1/channels", {"name": "x", "type": "webhook",
                                                     "config": {"url": "http://127.0.0.1:1/"}})
    expect(r, 403, "read-only")
    # Bad configs are refused with the field named.
    for body, word in [
        ({"name": "b1", "type": "webhook", "config": {"url": "ftp://x/"}}, "config.url"),
        ({"name": "b2", "type": "email", "config": {"host": "h", "from": "a@b.c"}}, "config.to"),
        ({"name": "b3", "type": "email", "config": {"host": "h", "from": "a@b.c", "to": ["x"]}},
         "config.to[0]"),
        ({"name": "b4", "type": "email", "config": {"host": "h", "from": "a@b.c",
                                                    "to": ["o@p.q"], "starttls": "maybe"}},
         "config.starttls"),
        ({"name": "b5", "type": "pager", "config": {}}, "type"),
    ]:
        r = env.key().post("/api/v1/channels", body)
        expect(r, 400, "bad-field")
        assert word in r.body["message"], (body, r.body)
    expect(env.key().post("/api/v1/channels", {"name": "crud-hook", "type": "webhook",
                                               "config": {"url": "http://127.0.0.1:1/"}}),
           409, "conflict")

    # PATCH changes the name; a new secret is taken, still not shown.
    p = expect(env.key().patch(f"/api/v1/channels/{ch['id']}",
                               {"name": "crud-hook-2", "secret": "s3cret-new"}), 200)
    assert p["name"] == "crud-hook-2" and "s3cret-new" not in json.dumps(p), p
    expect(env.key().delete(f"/api/v1/channels/{ch['id']}"), 204)
    expect(env.key().get(f"/api/v1/channels/{ch['id']}"), 404, "not-found")
    expect(env.key().delete(f"/api/v1/channels/{m['id']}"), 204)


# --------------------------------------------------------------------------
# send test

def test_send_test_webhook_signed(env):
    ch = webhook(env, "test-hook", "/test-hook", secret="k-test-hook")
    d = expect(env.key().post(f"/api/v1/channels/{ch['id']}/test"), 200)
    assert d["status"] == "delivered" and d["attempts"] == 1 and d["event"] == "test", d
    got = env.receiver.requests("/test-hook")
    assert len(got) == 1, got
    g = got[0]
    assert g["verified"], g["headers"]
    assert g["json"]["event"] == "test" and g["json"]["delivery"] == d["id"], g["json"]
    assert g["headers"]["Uplink-Event"] == "test", g["headers"]
    # A body changed by one byte does not verify.
    assert not verify("k-test-hook", g["headers"]["Uplink-Signature"], g["body"] + b" ")
    assert deliveries(env, ch)[0]["status"] == "delivered"


def test_send_test_email_starttls_and_auth(env):
    ch = email(env, "test-mail", to=("ops@example.net", "oncall@example.net"))
    d = expect(env.key().post(f"/api/v1/channels/{ch['id']}/test"), 200)
    assert d["status"] == "delivered", d
    msgs = env.relay.find("This is a test of channel test-mail")
    assert len(msgs) == 1, env.relay.messages
    m = msgs[0]
    assert m["tls"] and m["auth"], m
    assert m["mail_from"] == "uplink@example.net", m
    assert sorted(m["rcpt"]) == ["oncall@example.net", "ops@example.net"], m
    assert "Subject: [uplink] test: test test-mail" in m["data"], m["data"]
    with env.relay.lock:
        assert any(a[2] and a[0] in ("PLAIN", "LOGIN") for a in env.relay.auths), env.relay.auths


def test_send_test_wrong_password_shows_error(env):
    ch = email(env, "bad-pass", password="wrong-password")
    before = len(env.relay.messages)
    d = expect(env.key().post(f"/api/v1/channels/{ch['id']}/test"), 200)
    assert d["status"] == "failed" and d["attempts"] == 1, d
    err = d["last_error"]
    assert f"127.0.0.1:{env.relay.port}" in err, err
    assert "535" in err or "denied" in err.lower(), err
    assert len(env.relay.messages) == before
    assert deliveries(env, ch)[0]["last_error"] == err
    with env.relay.lock:
        assert any(not a[2] for a in env.relay.auths), env.relay.auths


def test_send_test_unreachable_webhook(env):
    port = peers.free_port()
    ch = expect(env.key().post("/api/v1/channels", {
        "name": "dead-hook", "type": "webhook",
        "config": {"url": f"http://127.0.0.1:{port}/x"}}), 201)
    d = expect(env.key().post(f"/api/v1/channels/{ch['id']}/test"), 200)
    assert d["status"] == "failed", d
    assert f"127.0.0.1:{port}" in d["last_error"], d


# --------------------------------------------------------------------------
# rules

def test_offline_connector_one_alert_then_resolved(env):
    hook = webhook(env, "ops-hook", "/ops")
    mail = email(env, "ops-mail")
    rule = expect(env.key().post("/api/v1/alert-rules", {
        "kind": "connector-offline", "after": OFFLINE_AFTER,
        "channels": [hook["id"], mail["id"]]}), 201)
    assert rule["channels"] == [hook["id"], mail["id"]] and rule["enabled"], rule

    c = env.connector("off-1", env.cloud.token("alerts"))
    c.stop()
    stopped = time.time()

    def raised():
        got = env.receiver.requests("/ops", "raised", c.id)
        assert got, "no webhook yet"
        assert env.relay.find(f"subject: {c.id}"), "no e-mail yet"
        return got
    got = poll(raised, 60 * SLOW, "the offline alert by webhook and e-mail")
    note = [n for n in expect(env.key().get("/api/v1/notifications"), 200)["notifications"]
            if n["kind"] == "connector-offline" and n["subject"] == c.id][0]
    # Sent no earlier than N after the notification opened.
    assert got[0]["at"] >= note["created_at"] + OFFLINE_AFTER - 1, (got[0]["at"], note)
    assert got[0]["at"] >= stopped, got[0]
    j = got[0]["json"]
    assert got[0]["verified"] and j["kind"] == "connector-offline", got[0]
    assert j["notification"] == note["id"] and j["resolved_at"] is None, j
    assert "is offline" in j["message"], j

    # Re-checks every 2 s do not repeat it: after five more sweeps, still one of each.
    time.sleep(10)
    assert len(env.receiver.requests("/ops", "raised", c.id)) == 1
    assert len([m for m in env.relay.find(f"subject: {c.id}")
                if "[uplink] error: connector-offline" in m["data"]]) == 1

    c.start(wait_tunnels=2, timeout=30 * SLOW)

    def resolved():
        r = env.receiver.requests("/ops", "resolved", c.id)
        assert r, "no resolved webhook yet"
        assert [m for m in env.relay.find(f"subject: {c.id}") if "[uplink] resolved:" in m["data"]]
        return r
    r = poll(resolved, 30 * SLOW, "the resolved messages")
    assert r[0]["verified"] and r[0]["json"]["resolved_at"] is not None, r[0]
    time.sleep(6)
    assert len(env.receiver.requests("/ops", "resolved", c.id)) == 1
    assert len(env.receiver.requests("/ops", "raised", c.id)) == 1
    assert len([m for m in env.relay.find(f"subject: {c.id}") if "[uplink] resolved:" in m["data"]]) == 1
    logged = deliveries(env, hook)
    assert {(d["event"], d["status"]) for d in logged if d["subject"] == c.id} == \
        {("raised", "delivered"), ("resolved", "delivered")}, logged
    expect(env.key().delete(f"/api/v1/alert-rules/{rule['id']}"), 204)


def test_retry_after_500_and_rolled_back_kind(env):
    hook = webhook(env, "retry-hook", "/retry")
    with env.receiver.lock:
        env.receiver.answers["/retry"] = [500, 200]
    rule = expect(env.key().post("/api/v1/alert-rules", {
        "kind": "update-rolled-back", "after": 0, "channels": [hook["id"]]}), 201)
    # Raised by another process (the rollout): a notification row.
    now = int(time.time())
    env.db("INSERT INTO notifications(kind, severity, subject, message, created_at) "
           "VALUES (?, ?, ?, ?, ?)", ("update-rolled-back", "error", "c-000000000001",
                                      "update to 9.9 rolled back on c-000000000001", now))

    def delivered():
        d = [x for x in deliveries(env, hook) if x["event"] == "raised"]
        assert d and d[0]["status"] == "delivered", d
        return d[0]
    d = poll(delivered, 30 * SLOW, "the retried delivery")
    assert d["attempts"] == 2 and d["last_error"] == "", d
    got = env.receiver.requests("/retry", "raised")
    assert len(got) == 2, got
    assert all(g["verified"] for g in got), got
    assert got[0]["headers"]["Uplink-Delivery"] == got[1]["headers"]["Uplink-Delivery"]
    assert got[1]["at"] - got[0]["at"] >= 1.5, (got[0]["at"], got[1]["at"])

    env.db("UPDATE notifications SET resolved_at = ? WHERE kind = ? AND resolved_at IS NULL",
           (int(time.time()), "update-rolled-back"))
    poll(lambda: env.receiver.requests("/retry", "resolved") or None, 30 * SLOW,
         "the resolved message")
    expect(env.key().delete(f"/api/v1/alert-rules/{rule['id']}"), 204)


def test_failing_receiver_logs_each_attempt(env):
    hook = webhook(env, "fail-hook", "/fail")
    with env.receiver.lock:
        env.receiver.answers["/fail"] = [503]
    rule = expect(env.key().post("/api/v1/alert-rules", {
        "kind": "update-rolled-back", "after": 0, "channels": [hook["id"]]}), 201)
    env.db("INSERT INTO notifications(kind, severity, subject, message, created_at) "
           "VALUES (?, ?, ?, ?, ?)", ("update-rolled-back", "error", "c-000000000002",
                                      "update rolled back on c-000000000002", int(time.time())))

    def two_attempts():
        d = deliveries(env, hook)
        assert d and d[0]["attempts"] >= 2, d
        return d[0]
    d = poll(two_attempts, 30 * SLOW, "two failed attempts")
    assert d["status"] == "pending", d
    assert "HTTP 503" in d["last_error"] and env.receiver.url("/fail") in d["last_error"], d
    expect(env.key().delete(f"/api/v1/alert-rules/{rule['id']}"), 204)


def test_rules_api(env):
    r = expect(env.key().get("/api/v1/alert-rules"), 200)
    assert "check-failing" in r["kinds"] and "update-rolled-back" in r["kinds"], r
    expect(env.key().post("/api/v1/alert-rules", {"kind": "nope", "channels": []}), 400, "bad-field")
    expect(env.key().post("/api/v1/alert-rules", {"kind": "cert-expiring",
                                                  "channels": [999999]}), 400, "bad-field")
    expect(env.key(read=True).post("/api/v1/alert-rules", {"kind": "cert-expiring",
                                                           "channels": []}), 403, "read-only")
    ru = expect(env.key().post("/api/v1/alert-rules", {"kind": "check-failing", "after": 60,
                                                       "channels": []}), 201)
    p = expect(env.key().patch(f"/api/v1/alert-rules/{ru['id']}", {"enabled": False}), 200)
    assert p["enabled"] is False and p["after"] == 60 and p["kind"] == "check-failing", p
    expect(env.key().delete(f"/api/v1/alert-rules/{ru['id']}"), 204)
    expect(env.key().delete(f"/api/v1/alert-rules/{ru['id']}"), 404, "not-found")


def test_check_failing_alert_then_resolved(env):
    """A real connectivity check that fails (a required address nobody
    listens on) raises check-failed; the rule "check-failing" sends it with
    the check's verdict; a passing check resolves it."""
    hook = webhook(env, "check-hook", "/check")
    rule = expect(env.key().post("/api/v1/alert-rules", {
        "kind": "check-failing", "after": 0, "channels": [hook["id"]]}), 201)
    dead = peers.DeadPort()
    api = env.key(timeout=70 * SLOW)
    try:
        expect(api.put("/api/v1/requirements/alerts-dead", {
            "purpose": "a partner that is down",
            "addresses": [{"host": "127.0.0.1", "port": dead.port, "scheme": "https"}]}), 200)
        k = expect(api.post(f"/api/v1/connectors/{env.a.id}/check"), 200)
        assert k["ok"] is False, k
        got = poll(lambda: env.receiver.requests("/check", "raised", env.a.id) or None,
                   30 * SLOW, "the check-failing alert")
        j = got[0]["json"]
        assert got[0]["verified"] and j["kind"] == "check-failed", j
        assert "connectivity check of connector " + env.a.id in j["message"], j
        # The verdict is in it: the address nobody listens on and why.
        assert f"failed: 127.0.0.1:{dead.port} " in j["message"], j
        expect(api.delete("/api/v1/requirements/alerts-dead"), 204)
        k = expect(api.post(f"/api/v1/connectors/{env.a.id}/check"), 200)
        assert k["ok"] is True, k
        poll(lambda: env.receiver.requests("/check", "resolved", env.a.id) or None,
             30 * SLOW, "the resolved check alert")
        assert len(env.receiver.requests("/check", "raised", env.a.id)) == 1
    finally:
        dead.close()
        api.delete("/api/v1/requirements/alerts-dead")
        api.delete(f"/api/v1/alert-rules/{rule['id']}")


# --------------------------------------------------------------------------
# the console's Alerts page in a real browser (tests/browser/alerts.mjs)

def test_console_alerts_page(env):
    import shutil
    import test_console as tc
    if tc.NODE is None or not os.access(tc.CHROMIUM, os.X_OK):
        pytest.skip("the browser test needs node and Debian's chromium at /usr/bin/chromium "
                    "(scripts/install-deps installs both)")
    tc.ensure_playwright()
    from test_api import ANA, PW
    spki = [tc.spki_sha256(os.path.join(env.cloud.data, f)) for f in ("ca.pem", "server.pem")
            if os.path.exists(os.path.join(env.cloud.data, f))]
    with env.receiver.lock:
        env.receiver.keys["/ui"] = None      # any key: the page never shows it to us
    run_env = dict(os.environ,
                   UPLINK_CONSOLE_URL=env.cloud.url + "/",
                   UPLINK_CONSOLE_SPKI=",".join(spki),
                   UPLINK_ADMIN_EMAIL=ANA, UPLINK_ADMIN_PASSWORD=PW,
                   UPLINK_ARTIFACTS=os.path.join(tc.BROWSER_DIR, "artifacts"),
                   UPLINK_CHROMIUM=tc.CHROMIUM,
                   UPLINK_HOOK_URL=env.receiver.url("/ui"),
                   UPLINK_SMTP_HOST="127.0.0.1", UPLINK_SMTP_PORT=str(env.relay.port),
                   UPLINK_SMTP_CA=env.relay.cert)
    script = os.path.join(tc.BROWSER_DIR, "alerts.mjs")
    try:
        r = subprocess.run([shutil.which("node"), "--test", "--test-reporter=spec", script],
                           cwd=tc.BROWSER_DIR, env=run_env, capture_output=True, text=True,
                           timeout=300)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the browser test did not finish within 300 s:\n{e.stdout or ''}\n{e.stderr or ''}")
    assert r.returncode == 0, (f"node --test {script} exited {r.returncode}:\n--- stdout ---\n"
                               f"{r.stdout}\n--- stderr ---\n{r.stderr}" + cp.tail(env.cloud.log, 40))
    # What the page sent reached the receiver and the relay refused the password.
    assert len(env.receiver.requests("/ui", "test")) == 1
    with env.relay.lock:
        assert any(not a[2] and a[1] == "uplink" for a in env.relay.auths)
