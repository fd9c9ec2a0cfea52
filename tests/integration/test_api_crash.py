"""kill -9 of uplink-cloud during a burst of REST API writes (docs/api.md).

Four client threads write as fast as they can (sites, enrollment tokens,
published services, API keys; bounded in count and time) while the cloud
is killed with SIGKILL in the middle of the burst. Every write the cloud
acknowledged with a 2xx is recorded; the cloud is started again on the
same data directory, and each acknowledged write must be there (a service
listening on its port, a key that authenticates), as must a setting and
a console session from before the burst; the database must pass SQLite's
integrity check.
"""

import os
import signal
import socket
import sqlite3
import threading
import time

import pytest

import apiclient
import cloudpeers as cp
import peers

SAN = cp.SAN
SLOW = 3.0 if SAN else 1.0
BURST = 3.0                 # seconds the writers run
KILL_AFTER = 1.2            # seconds into the burst
MAX_WRITES = 300            # per thread
MAX_SERVICES = 60           # each one is a listening socket

pytestmark = pytest.mark.skipif(
    not os.access(cp.cloud_path(), os.X_OK),
    reason=f"{cp.cloud_path()} missing: run make (make SAN=1 with UPLINK_BUILD=build-san)")


class Writer(threading.Thread):
    """Calls make(i) -> (method, path, body, remember) until the burst ends;
    remember(response) gives what to record for a 2xx."""

    def __init__(self, name, client, make, limit, until):
        super().__init__(name=f"writer:{name}", daemon=True)
        self.what, self.client, self.make, self.limit, self.until = name, client, make, limit, until
        self.acked, self.failed, self.errors, self.refused = [], 0, [], []

    def run(self):
        i = 0
        while i < self.limit and time.monotonic() < self.until:
            method, path, body, remember = self.make(i)
            i += 1
            try:
                r = self.client.request(method, path, body=body)
            except (OSError, apiclient.http.client.HTTPException) as e:
                self.failed += 1          # no answer: not acknowledged
                if len(self.errors) < 5:
                    self.errors.append(f"{type(e).__name__}: {e}")
                time.sleep(0.02)
                continue
            if 200 <= r.status < 300:
                self.acked.append(remember(r))
            elif r.status == 409 and "cannot listen" in str(r.body):
                # The port chosen free before the burst was taken since
                # (by some ephemeral connection): rightly refused, nothing
                # acknowledged, nothing for this test to check.
                self.failed += 1
            else:
                self.refused.append(r)


def test_acknowledged_writes_survive_kill_9(workdir):
    d = os.path.join(workdir, "api-crash")
    cloud = cp.Cloud(os.path.join(d, "cloud"))
    try:
        cloud.init().start()
        ca = os.path.join(cloud.data, "ca.pem")
        key = cloud.key("crash")

        def client():
            return apiclient.Client(cloud.port, ca, key=key, timeout=5 * SLOW)

        r = client().post("/api/v1/sites", {"name": "hq"})
        assert r.status == 201, r
        # state from before the burst: a setting and a console session
        r = client().patch("/api/v1/settings", {"console_inactivity_timeout_minutes": 90})
        assert r.status == 200, r
        cloud.add_admin("crash@example.net", "a long enough password")
        console = apiclient.Client(cloud.port, ca, timeout=5 * SLOW)
        r = console.sign_in("crash@example.net", "a long enough password")
        assert r.status == 201, r
        ports = [peers.free_port() for _ in range(MAX_SERVICES)]

        def site(i):
            return "POST", "/api/v1/sites", {"name": f"s-{i}"}, lambda r: r.body["name"]

        def token(i):
            return "POST", "/api/v1/tokens", {"site": "hq"}, lambda r: r.body["id"]

        def service(i):
            body = {"name": f"svc-{i}", "site": "hq", "target": "127.0.0.1:9",
                    "listen": f"127.0.0.1:{ports[i]}"}
            return "POST", "/api/v1/services", body, lambda r: (r.body["name"], ports[i])

        def apikey(i):
            return ("POST", "/api/v1/keys", {"name": f"k-{i}", "scope": "read"},
                    lambda r: (r.body["id"], r.body["key"]))

        until = time.monotonic() + BURST * SLOW
        writers = [Writer("sites", client(), site, MAX_WRITES, until),
                   Writer("tokens", client(), token, MAX_WRITES, until),
                   Writer("services", client(), service, MAX_SERVICES, until),
                   Writer("keys", client(), apikey, MAX_WRITES, until)]
        for w in writers:
            w.start()
        time.sleep(KILL_AFTER * SLOW)
        os.kill(cloud.pid, signal.SIGKILL)
        assert cp.wait_exit(cloud.proc, 10) == -signal.SIGKILL
        peers.stop_process(cloud.proc, timeout=1)
        cloud.proc = None
        for w in writers:
            w.join(BURST * SLOW + 30)
            assert not w.is_alive(), f"{w.name} did not stop"
        summary = ", ".join(f"{w.what}: {len(w.acked)} acknowledged, {len(w.refused)} refused, "
                            f"{w.failed} unanswered" for w in writers)
        print(f"crash burst: {summary}")
        for w in writers:
            assert w.acked, f"no {w.what} write was acknowledged before the kill ({summary})" + \
                "".join(f"\n  {x!r}" for x in w.refused[:5])
            # refusals in a burst of unique names would be a bug
            assert not w.refused, f"{w.what}: refused writes: {w.refused[:5]}"
        sites, tokens, services, keys = (w.acked for w in writers)

        # The database opens cleanly, even before the daemon does.
        con = sqlite3.connect(os.path.join(cloud.data, "uplink.db"), timeout=10)
        try:
            assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        finally:
            con.close()

        cloud.start()
        c = client()
        got = {s["name"] for s in c.get("/api/v1/sites").body["sites"]}
        assert set(sites) <= got, f"acknowledged sites lost: {sorted(set(sites) - got)[:10]}"
        got = {t["id"] for t in c.get("/api/v1/tokens").body["tokens"]}
        assert set(tokens) <= got, f"acknowledged tokens lost: {sorted(set(tokens) - got)[:10]}"
        r = c.get("/api/v1/services")
        got = {s["name"] for s in r.body["services"]}
        lost = [n for n, _ in services if n not in got]
        assert not lost, f"acknowledged services lost: {lost[:10]}"
        for name, port in services:           # listened on again
            try:
                socket.create_connection(("127.0.0.1", port), timeout=5).close()
            except OSError as e:
                raise AssertionError(f"service {name}: nothing listens on {port}: {e}")
        got = {k["id"] for k in c.get("/api/v1/keys").body["keys"]}
        lost = [i for i, _ in keys if i not in got]
        assert not lost, f"acknowledged keys lost: {lost[:10]}"
        r = c.get("/api/v1/settings")
        assert r.body == {"console_inactivity_timeout_minutes": 90}, r
        r = console.get("/api/v1/session")       # the console stays signed in
        assert r.status == 200 and r.body["admin"]["email"] == "crash@example.net", r
        r = console.post("/api/v1/sites", {"name": "after-restart"})     # CSRF token too
        assert r.status == 201, r
        for _, secret in keys[-10:]:          # the newest are the ones at risk
            r = apiclient.Client(cloud.port, ca, key=secret).get("/api/v1/sites")
            assert r.status == 200, r
        assert cloud.stop(check=True) == 0
        con = sqlite3.connect(os.path.join(cloud.data, "uplink.db"), timeout=10)
        try:
            assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        finally:
            con.close()
    finally:
        if cloud.proc is not None:
            cloud.stop(check=False)
    reports = cp.sanitizer_reports([cloud.log] if hasattr(cloud, "log") else [])
    assert not reports, "\n".join(reports)
