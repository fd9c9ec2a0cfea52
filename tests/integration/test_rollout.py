"""Releases stored in the cloud and rolled out (issue 15, sections 3 and 4;
docs/updates.md).

A cloud on loopback with releases added by `uplink-cloud release add`
(signed with a per-test root and signing key, tests/integration/
test_release.py's Rel), connectors enrolled into it:

* downloads over the TLS listener with the connector's certificate
  (`uplink-connector update --cloud`), refused without a certificate and
  with a revoked one; each refusal of the download leaves the state
  directory as it was;
* the launcher (`uplink-connector launch`) running versions/current;
* a rollout over a two-connector site while a client opens connections
  through a published service continuously: zero failures, both
  connectors end on the new version;
* a broken release (a shell script exiting 1, signed) rolled back by the
  launcher within its gate; the site stays reachable, the rollout pauses
  and a notification names connector, version and why.

The "new version" is a copy of the built connector with its version
string patched in place (same length, b"0.1.0\\0" -> b"0.1.1\\0"): no
test-only switch exists in the program, and the copy differs from the
build in nothing else.
"""

import json
import os
import shutil
import ssl
import http.client
import subprocess
import time

import pytest

import apiclient
import cloudpeers as cp
import peers
from test_release import ARCH, Rel, run, snapshot

SLOW = 3.0 if cp.SAN else 1.0
RUNNING = "0.1.0"

pytestmark = pytest.mark.skipif(
    not os.access(cp.cloud_path(), os.X_OK) or not os.access(peers.connector_path(), os.X_OK),
    reason="uplink-cloud or uplink-connector missing: run make")


def patched_binary(dst, version):
    """A copy of the built connector that reports version instead of
    RUNNING (same length, every NUL-terminated occurrence)."""
    old, new = RUNNING.encode() + b"\0", version.encode() + b"\0"
    assert len(old) == len(new)
    with open(peers.connector_path(), "rb") as f:
        data = f.read()
    assert data.count(old) >= 1
    with open(dst, "wb") as f:
        f.write(data.replace(old, new))
    os.chmod(dst, 0o755)
    return dst


class Env:
    """A cloud, a signing setup, and connectors of one site."""

    def __init__(self, tmp, publish=None, options=None):
        self.tmp = str(tmp)
        os.makedirs(os.path.join(self.tmp, "rel"), exist_ok=True)
        self.rel = Rel(os.path.join(self.tmp, "rel"))
        self.cloud = cp.Cloud(os.path.join(self.tmp, "cloud"), publish=publish,
                              options=options)
        self.cloud.init().start()
        self.api = apiclient.Client(self.cloud.port, ca=os.path.join(self.cloud.data, "ca.pem"),
                                    key=self.cloud.key("tests"), timeout=30)
        self.connectors = []

    def release(self, version, binary=None, name="uplink-connector", key="s1"):
        """Signs binary (default: the build patched to version) as release
        version and adds it to the cloud with the CLI."""
        d = os.path.join(self.tmp, "r-" + version)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, name)
        if binary is None:
            patched_binary(path, version)
        else:
            shutil.copy(binary, path)
            os.chmod(path, 0o755)
        m = os.path.join(d, "manifest.json")
        r = run([os.path.join(peers.build_dir(), "uplink-release"), "sign", "--key",
                 self.rel.p(key + ".key"), "--cert", self.rel.p(key + ".cert"), "--version",
                 version, "--channel", "stable", "--arch", ARCH, path, "-o", m])
        assert r.returncode == 0, r.stderr
        r = self.cloud.admin(["release", "add", m, "--json"])
        assert r.rc == 0, r
        assert r.json["version"] == version
        return m

    def connector(self, name, site="plant", tunnels=2, extra=""):
        c = cp.Connector(os.path.join(self.tmp, name), name=name)
        r = c.enroll(self.cloud.token(site))
        assert r.rc == 0, r
        shutil.copy(self.rel.p("root.pub"), os.path.join(c.state, "root.pub"))
        c.configure(allow=[f"{cp.LOOPBACK}:*"], tunnels=tunnels,
                    extra="\n[update]\nroot_key = ./root.pub\n" + extra)
        c.id = [x["id"] for x in self.cloud.connectors() if x["name"] == name][-1]
        self.connectors.append(c)
        return c

    def update(self, c, *args):
        return c.run(["update", "--cloud", "--state-dir", c.state, "--config", c.conf]
                     + list(args))

    def stop(self):
        cp.stop_network(self.connectors, self.cloud)


@pytest.fixture
def env(tmp_path):
    e = Env(tmp_path)
    yield e
    e.stop()


def cloud_get(env, path, cert=None, key=None):
    ctx = ssl.create_default_context(cafile=os.path.join(env.cloud.data, "ca.pem"))
    ctx.check_hostname = False
    if cert:
        ctx.load_cert_chain(cert, key)
    conn = http.client.HTTPSConnection(cp.LOOPBACK, env.cloud.port, context=ctx, timeout=20)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def conn_cert(c):
    return os.path.join(c.state, "connector.pem"), os.path.join(c.state, "connector.key")


def test_release_cli_and_download(env):
    """release add/list/remove; update --cloud downloads over TLS with the
    connector's certificate and stages the newest release."""
    env.release("0.1.1")
    r = env.cloud.admin(["release", "list", "--json"])
    assert r.rc == 0, r
    assert [x["version"] for x in r.json] == ["0.1.1"]
    assert r.json[0]["arch"] == ARCH and r.json[0]["channel"] == "stable"
    # The same release again: already stored, files checked.
    m = os.path.join(env.tmp, "r-0.1.1", "manifest.json")
    r = env.cloud.admin(["release", "add", m, "--json"])
    assert r.rc == 0 and r.json["already_stored"] is True, r
    # A release whose file does not match its manifest is refused.
    bad = os.path.join(env.tmp, "bad")
    os.makedirs(bad)
    for n in ("manifest.json", "manifest.json.minisig"):
        shutil.copy(m + n[len("manifest.json"):], os.path.join(bad, n))
    with open(os.path.join(bad, "uplink-connector"), "wb") as f:
        f.write(b"not the signed file")
    r = env.cloud.admin(["release", "remove", "0.1.1"])
    assert r.rc == 0, r
    r = env.cloud.admin(["release", "add", os.path.join(bad, "manifest.json")])
    assert r.rc == 1 and "refused" in r.stderr and "uplink-connector" in r.stderr, r
    assert env.cloud.admin(["release", "list", "--json"]).json == []
    env.release("0.1.1")

    c = env.connector("dl1")
    st = cloud_get(env, "/v1/releases/latest?channel=stable&arch=" + ARCH)
    # Without a client certificate: nothing (the TLS layer or 401).
    assert st[0] == 401, st
    status, body = cloud_get(env, "/v1/releases/latest?channel=stable&arch=" + ARCH,
                             *conn_cert(c))
    assert status == 200 and json.loads(body)["version"] == "0.1.1", body
    r = env.update(c)
    assert r.rc == 0, r
    staged = os.path.join(c.state, "versions", "0.1.1", "uplink-connector")
    assert os.path.exists(staged)
    out = subprocess.run([staged, "--version"], capture_output=True, text=True)
    assert "0.1.1" in out.stdout + out.stderr
    assert "downloading" not in r.stdout
    # The cloud logged who downloaded.
    env.cloud.wait_log(rf"releases: uplink-connector of 0\.1\.1 to connector {c.id}")


def test_download_refusals_leave_state(env):
    """A release this connector refuses is refused before its files are
    downloaded; the state directory is unchanged. A revoked connector's
    certificate gets nothing."""
    c = env.connector("dl2")
    # An older version than the running one: version not newer (20).
    env.release("0.0.9")
    before = snapshot(c.state)
    r = env.update(c, "--version", "0.0.9")
    assert r.rc == 20 and "version not newer" in r.stderr, r
    assert "the running version is unchanged" in r.stderr
    assert snapshot(c.state) == before
    assert "uplink-connector of 0.0.9" not in env.cloud.log_text()
    # A version the cloud does not have: a file error naming the answer.
    r = env.update(c, "--version", "0.7.0")
    assert r.rc == 10 and "404" in r.stderr, r
    assert snapshot(c.state) == before
    # Another root: the certificate does not verify (15).
    env.rel.keygen("root2", "--root")
    shutil.copy(env.rel.p("root2.pub"), os.path.join(c.state, "root.pub"))
    env.release("0.1.1")
    before = snapshot(c.state)
    r = env.update(c)
    assert r.rc == 15, r
    assert snapshot(c.state) == before
    # Revoked: 403 from the cloud, nothing staged.
    r = env.cloud.admin(["connector", "revoke", c.id])
    assert r.rc == 0, r
    shutil.copy(env.rel.p("root.pub"), os.path.join(c.state, "root.pub"))
    before = snapshot(c.state)
    r = env.update(c)
    assert r.rc == 10, r
    assert "revoked" in r.stderr or "handshake" in r.stderr or "tls" in r.stderr, r
    assert snapshot(c.state) == before


def test_release_api(env):
    """GET/POST/DELETE /api/v1/releases; writes need a full key."""
    m = env.release("0.1.1")
    r = env.api.get("/api/v1/releases")
    assert r.status == 200 and [x["version"] for x in r.body["releases"]] == ["0.1.1"], r
    f = r.body["releases"][0]["files"][0]
    assert f["name"] == "uplink-connector" and f["size"] > 0 and len(f["sha256"]) == 64
    r = env.cloud.admin(["key", "create", "--name", "ro", "--scope", "read", "--json"])
    ro = apiclient.Client(env.cloud.port, ca=os.path.join(env.cloud.data, "ca.pem"),
                          key=r.json["key"])
    assert ro.delete("/api/v1/releases/0.1.1").status == 403
    assert env.api.delete("/api/v1/releases/0.1.1").status == 204
    assert env.api.get("/api/v1/releases").body["releases"] == []
    # POST with a small file in base64 (a script).
    d = os.path.join(env.tmp, "small")
    os.makedirs(d)
    script = os.path.join(d, "uplink-connector")
    with open(script, "w") as f:
        f.write("#!/bin/sh\nexit 1\n")
    m = os.path.join(d, "manifest.json")
    r = run([os.path.join(peers.build_dir(), "uplink-release"), "sign", "--key",
             env.rel.p("s1.key"), "--cert", env.rel.p("s1.cert"), "--version", "0.3.0",
             "--channel", "stable", "--arch", ARCH, script, "-o", m])
    assert r.returncode == 0, r.stderr
    import base64
    body = {"manifest": open(m).read(), "signature": open(m + ".minisig").read(),
            "files": {"uplink-connector": base64.b64encode(open(script, "rb").read()).decode()}}
    assert ro.post("/api/v1/releases", body).status == 403
    r = env.api.post("/api/v1/releases", body)
    assert r.status == 201 and r.body["version"] == "0.3.0", r
    r = env.api.post("/api/v1/releases", body)
    assert r.status == 409, r
    body["files"]["uplink-connector"] = base64.b64encode(b"#!/bin/sh\nexit 0\n").decode()
    env.api.delete("/api/v1/releases/0.3.0")
    r = env.api.post("/api/v1/releases", body)
    assert r.status == 400 and "SHA-256" in r.body["message"], r


# ---- rollouts -------------------------------------------------------------

GATE = "60s"


def launch(c, timeout=30):
    """Starts connector c under the launcher (the service's ExecStart)."""
    c._log_start = os.path.getsize(c.log) if os.path.exists(c.log) else 0
    c.proc = cp.spawn([c.binary, "launch", "--config", c.conf, "--state-dir", c.state],
                      c.log, env=peers.connector_env())
    c.wait_log(r"running: ", timeout * SLOW)
    return c


class Site:
    """A site "plant" with a published echo service and n connectors run
    by their launchers, and a client opening connections through it."""

    def __init__(self, tmp, n=2, extra=""):
        self.svc = cp.Services(os.path.join(str(tmp), "services")).start()
        echo = f"{cp.LOOPBACK}:{self.svc.ports['echo']}"
        self.env = Env(tmp, publish={"echo": ("plant", echo)})
        self.env.connectors_extra = extra
        self.conns = []
        for i in range(n):
            c = self.env.connector(f"p{i}", site="plant",
                                   extra=f"health_gate = {GATE}\n" + extra)
            launch(c)
            c.wait_tunnels(2, 30 * SLOW)
            self.conns.append(c)
        self.prober = None

    def probe(self):
        self.prober = cp.Prober(self.env.cloud.publish_ports["echo"], every=0.02,
                                timeout=10.0, max_seconds=300.0).start()
        self.prober.wait_ok(5, after=0, timeout=30 * SLOW)
        return self.prober

    def rollout(self):
        r = self.env.api.get("/api/v1/sites/plant/rollout")
        assert r.status == 200, r
        return r.body

    def wait_rollout(self, pred, timeout, what):
        """Waits until pred(rollout) holds; returns that rollout."""
        def check():
            b = self.rollout()
            return b if pred(b) else None
        return cp.wait_for(check, timeout * SLOW, what, interval=0.5,
                           on_fail=lambda: json.dumps(self.rollout(), indent=1)
                           + cp.tail(self.env.cloud.log, 30))

    def stop(self):
        if self.prober is not None and self.prober.running():
            self.prober.stop()
        self.env.stop()
        self.svc.stop()


@pytest.fixture
def site(tmp_path):
    s = Site(tmp_path)
    yield s
    s.stop()


def steps(body):
    return {c["id"]: c.get("update", {}).get("step") for c in body["connectors"]}


def test_rollout_two_connectors_no_failed_connection(site):
    """Both connectors end on the new version, one at a time, while a
    client opens connections through the published service: none fails."""
    env = site.env
    env.release("0.1.1")
    body = site.wait_rollout(lambda b: {c["newest_release"] for c in b["connectors"]}
                             == {"0.1.1"}, 10, "the newest release known")
    assert body["automatic"] is False and body["paused"] is False
    assert body["warning"] is None          # two connectors: no warning
    # An old version left in each state directory: removed once the new
    # one passes its gate (neither current nor previous).
    for c in site.conns:
        old = os.path.join(c.state, "versions", "0.0.5")
        os.makedirs(old)
        with open(os.path.join(old, "uplink-connector"), "w") as f:
            f.write("old\n")
    p = site.probe()
    t0 = time.time()
    r = env.api.patch("/api/v1/sites/plant/rollout", {"automatic": True})
    assert r.status == 200 and r.body["automatic"] is True, r
    site.wait_rollout(lambda b: all(c["version"] == "0.1.1" for c in b["connectors"])
                      and set(steps(b).values()) == {"updated"}, 150,
                      "both connectors on 0.1.1")
    print(f"rollout of 2 connectors: {time.time() - t0:.1f} s")
    time.sleep(1)
    attempts = p.stop()
    print("prober:", p.summary())
    assert len(attempts) > 50, p.summary()
    assert p.failures() == [], p.summary()
    # One at a time: the second began draining after the first was updated.
    log = env.cloud.log_text()
    events = [(m.group(1), m.group(2)) for m in
              __import__("re").finditer(r"rollout: site plant, connector (\S+): "
                                        r"(draining|updated):", log)]
    assert len(events) == 4, events
    assert events[0][1] == "draining" and events[1] == (events[0][0], "updated"), events
    assert events[2][1] == "draining" and events[2][0] != events[0][0], events
    for c in site.conns:
        text = c.log_text(0)
        assert "launcher: switching from the installed binary to version 0.1.1" in text
        assert "launcher: version 0.1.1 passed its health gate" in text
        assert os.readlink(os.path.join(c.state, "versions", "current")) == "0.1.1"
        assert "launcher: removed version 0.0.5" in text
        assert sorted(os.listdir(os.path.join(c.state, "versions"))) == ["0.1.1", "current"]
        assert not os.path.exists(os.path.join(c.state, "versions", "trial"))
    # Not outdated any more, in the API and in uplink-cloud status.
    r = env.api.get("/api/v1/connectors")
    assert r.status == 200
    st = env.cloud.status()
    flat = json.dumps(st.json)
    assert '"outdated": true' not in flat and '"outdated": false' in flat, flat


def test_broken_release_rolled_back(site):
    """A release that exits 1 at start: the launcher rolls it back within
    the gate, the site stays reachable, the rollout pauses and a
    notification names the connector, the version and why."""
    env = site.env
    script = os.path.join(env.tmp, "broken.sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\necho 'broken release' >&2\nexit 1\n")
    env.release("0.1.1", binary=script)
    site.wait_rollout(lambda b: {c["newest_release"] for c in b["connectors"]} == {"0.1.1"},
                      10, "the newest release known")
    p = site.probe()
    t0 = time.time()
    r = env.api.post("/api/v1/sites/plant/rollout/update-now")
    assert r.status == 202, r
    body = site.wait_rollout(lambda b: b["paused"], 120, "the rollout paused")
    st = steps(body)
    bad = [i for i, s in st.items() if s == "rolled-back"]
    assert len(bad) == 1, body
    assert "rolled back" in body["pause_reason"] and "0.1.1" in body["pause_reason"]
    r = env.api.get("/api/v1/notifications")
    notes = [n for n in r.body["notifications"] if n["kind"] == "update-rolled-back"]
    assert len(notes) == 1, r.body
    assert notes[0]["subject"] == bad[0]
    assert "0.1.1" in notes[0]["message"] and "exited with status 1" in notes[0]["message"]
    assert all(c["version"] == RUNNING for c in body["connectors"]), body
    c = [x for x in site.conns if x.id == bad[0]][0]
    other = [x for x in site.conns if x.id != bad[0]][0]
    text = c.log_text(0)
    assert "launcher: rolled back from version 0.1.1 to the installed binary" in text
    rb = json.load(open(os.path.join(c.state, "rollback.json")))
    assert rb["version"] == "0.1.1" and "status 1" in rb["why"]
    assert not os.path.exists(os.path.join(c.state, "versions", "current"))
    # Within the gate, and the other connector was never touched.
    print(f"rolled back {rb['at'] - t0:.1f} s after update now; paused after "
          f"{time.time() - t0:.1f} s")
    assert rb["at"] - t0 < 60 * SLOW
    assert "update:" not in other.log_text(0)
    time.sleep(3)
    assert site.rollout()["paused"] is True      # stays paused
    p.stop()
    assert p.failures() == [], p.summary()
    # Resumed: the same broken release is not retried on that connector
    # unless asked; the API says paused False.
    r = env.api.patch("/api/v1/sites/plant/rollout", {"paused": False})
    assert r.status == 200 and r.body["paused"] is False and r.body["pause_reason"] == ""


def test_refused_release_pauses_untouched(site):
    """A release the connectors refuse (its signing key certified by
    another root than theirs): the first one answers the refusal, the
    running version and process stay, the site pauses with an
    update-failed notification, the other connector is not asked."""
    env = site.env
    env.rel.keygen("root2", "--root")
    env.rel.keygen("s2", "--signing")
    env.rel.certify("s2", "180d", root="root2")
    env.release("0.1.1", key="s2")
    pids = {c.id: c.proc.pid for c in site.conns}
    site.wait_rollout(lambda b: {c["newest_release"] for c in b["connectors"]} == {"0.1.1"},
                      10, "the newest release known")
    r = env.api.post("/api/v1/sites/plant/rollout/update-now")
    assert r.status == 202, r
    body = site.wait_rollout(lambda b: b["paused"], 60, "the rollout paused")
    assert sorted(steps(body).values()) == ["failed", "idle"], body
    assert "refused the release" in body["pause_reason"], body
    assert "not certified by the root" in body["pause_reason"] or \
        "root" in body["pause_reason"], body
    r = env.api.get("/api/v1/notifications")
    notes = [n for n in r.body["notifications"] if n["kind"] == "update-failed"]
    assert len(notes) == 1 and "0.1.1" in notes[0]["message"], r.body
    for c in site.conns:
        assert c.proc.poll() is None and c.proc.pid == pids[c.id]
        assert not os.path.exists(os.path.join(c.state, "versions", "current"))
        assert not os.path.exists(os.path.join(c.state, "versions", "0.1.1"))
        assert not os.path.exists(os.path.join(c.state, "versions", "next"))
    assert all(x["version"] == RUNNING for x in body["connectors"])
    failed = [i for i, s in steps(body).items() if s == "failed"][0]
    c = [x for x in site.conns if x.id == failed][0]
    c.wait_log(r"update: refused \(signing key not certified by the root\).*running "
               r"version 0\.1\.0 is unchanged")


def test_single_connector_window(tmp_path):
    """A site with one connector: a warning, never updated outside its
    window; inside it, updated. Bad windows refused."""
    s = Site(tmp_path, n=1)
    try:
        env = s.env
        env.release("0.1.1")
        body = s.rollout()
        assert "one connector" in body["warning"] and "none" in body["warning"]
        r = env.api.patch("/api/v1/sites/plant/rollout", {"automatic": True})
        assert r.status == 200
        for bad in ({"days": ["mon"], "start": "02:00", "end": "04:00", "tz": "Mars/Olympus"},
                    {"days": ["mon"], "start": "25:00", "end": "04:00", "tz": "UTC"},
                    {"days": ["someday"], "start": "02:00", "end": "04:00", "tz": "UTC"},
                    {"days": ["mon"], "start": "02:00", "end": "04:00", "tz": "../etc/passwd"}):
            r = env.api.patch("/api/v1/sites/plant/rollout", {"window": bad})
            assert r.status == 400 and r.body["error"] == "bad-window", (bad, r)
        # A window that excludes now, in Pacific/Kiritimati (UTC+14).
        now = time.gmtime(time.time() + 14 * 3600)
        other_days = [d for i, d in enumerate(["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
                      if i != now.tm_wday]
        r = env.api.patch("/api/v1/sites/plant/rollout", {"window": {
            "days": other_days, "start": "00:00", "end": "00:00", "tz": "Pacific/Kiritimati"}})
        assert r.status == 200 and r.body["in_window"] is False, r
        assert "only inside the maintenance window" in r.body["warning"]
        time.sleep(4)
        assert steps(s.rollout()) == {s.conns[0].id: "idle"}
        assert "update:" not in s.conns[0].log_text(0)
        r = env.api.patch("/api/v1/sites/plant/rollout", {"window": {
            "days": ["sun", "mon", "tue", "wed", "thu", "fri", "sat"], "start": "00:00",
            "end": "00:00", "tz": "Europe/Paris"}})
        assert r.status == 200 and r.body["in_window"] is True, r
        s.wait_rollout(lambda b: b["connectors"][0]["version"] == "0.1.1"
                       and steps(b) == {s.conns[0].id: "updated"}, 120, "updated in its window")
    finally:
        s.stop()


def test_outdated(tmp_path):
    """outdated: behind the newest release for longer than
    [update] outdated_after (1h here: the release's added_at is moved back
    in the store)."""
    e = Env(tmp_path)
    try:
        c = e.connector("old1")
        c.start(wait_tunnels=2, timeout=30 * SLOW)
        e.release("0.1.1")
        cp.wait_for(lambda: e.api.get(f"/api/v1/connectors/{c.id}").body.get("newest_release")
                    == "0.1.1", 10 * SLOW, "the newest release known")
        r = e.api.get(f"/api/v1/connectors/{c.id}")
        assert r.status == 200
        assert r.body.get("outdated") is False and r.body.get("newest_release") == "0.1.1", r.body
        import sqlite3
        if os.environ.get("UPLINK_TEST_STORE") == "pg":
            pytest.skip("moves added_at with sqlite3")
        db = sqlite3.connect(os.path.join(e.cloud.data, "uplink.db"))
        db.execute("UPDATE releases SET added_at = added_at - 40 * 86400")
        db.commit()
        db.close()
        cp.wait_for(lambda: e.api.get(f"/api/v1/connectors/{c.id}").body.get("outdated"),
                    20 * SLOW, "outdated in the API")
        cp.wait_for(lambda: '"outdated": true' in json.dumps(e.cloud.status().json),
                    20 * SLOW, "outdated in uplink-cloud status")
        assert "online, outdated" in e.cloud.status(json_out=False).stdout
    finally:
        e.stop()


# ---- downloads cut short or too long ---------------------------------------

class FakeReleases:
    """An HTTPS server with the cloud's own certificate (so the connector
    trusts it) that serves a stored release with its file changed: "short"
    sends half of it and closes (no Content-Length: the body ends at the
    close), "cut" promises the whole length and closes halfway, "long"
    sends it with extra bytes."""

    def __init__(self, env, mode):
        import http.server
        import threading
        self.mode = mode
        d = os.path.join(env.tmp, "r-0.1.1")
        files = {n: open(os.path.join(d, n), "rb").read()
                 for n in ("manifest.json", "manifest.json.minisig", "uplink-connector")}
        fake = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *a):
                pass

            def do_GET(self):
                name = self.path.split("?")[0].rsplit("/", 1)[-1]
                body = files.get(name)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                if name == "uplink-connector" and fake.mode == "short":
                    self.end_headers()
                    self.wfile.write(body[:len(body) // 2])
                    return
                if name == "uplink-connector" and fake.mode == "cut":
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[:len(body) // 2])
                    return
                if name == "uplink-connector" and fake.mode == "long":
                    body = body + b"\0" * 4096
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer((cp.LOOPBACK, 0), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(env.cloud.data, "server.pem"),
                            os.path.join(env.cloud.data, "server.key"))
        ctx.set_alpn_protocols(["http/1.1"])
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.parametrize("mode,code,msg", [
    ("short", 23, "truncated file"),
    ("cut", 10, "file error"),
    ("long", 10, "larger than"),
])
def test_download_cut_or_too_long(env, mode, code, msg):
    """A file shorter than its manifest says, cut off mid-way, or longer:
    refused, nothing staged, the state directory unchanged."""
    import re
    env.release("0.1.1")
    c = env.connector("dl3")
    fake = FakeReleases(env, mode)
    try:
        conf = os.path.join(c.state, "fake.conf")
        text = re.sub(r"(url\s*=\s*https://[^:\s]+:)\d+", rf"\g<1>{fake.port}",
                      open(c.conf).read())
        with open(conf, "w") as f:
            f.write(text)
        before = snapshot(c.state)
        r = c.run(["update", "--cloud", "--version", "0.1.1", "--state-dir", c.state,
                   "--config", conf])
        assert r.rc == code, r
        assert msg in r.stderr and "the running version is unchanged" in r.stderr, r
        after = snapshot(c.state)
        after.pop("fake.conf", None)
        before.pop("fake.conf", None)
        assert after == before
        assert not os.path.exists(os.path.join(c.state, "versions", "0.1.1"))
        assert not [n for n in os.listdir(c.state) if n.startswith(".download")]
    finally:
        fake.stop()


# ---- the launcher alone ------------------------------------------------------

def _stage_script(rel, version, body):
    """Signs a shell script as release version and stages it with update."""
    d = os.path.join(rel.d, "s-" + version)
    os.makedirs(d)
    path = os.path.join(d, "uplink-connector")
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body + "\n")
    os.chmod(path, 0o755)
    m = os.path.join(d, "manifest.json")
    r = run([os.path.join(peers.build_dir(), "uplink-release"), "sign", "--key", rel.p("s1.key"),
             "--cert", rel.p("s1.cert"), "--version", version, "--channel", "stable",
             "--arch", ARCH, path, "-o", m])
    assert r.returncode == 0, r.stderr
    r = rel.update(m, dir=d)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("tamper", [False, True])
def test_launcher_switch_verify_and_rollback(tmp_path, tamper):
    """Without a cloud: current is a staged script that asks to switch
    (exit 75) to next. The launcher verifies next again (signature, size,
    SHA-256) before it runs it: a byte changed after staging and it does
    not switch. Untouched, next (a script that exits 1) is run on trial
    and rolled back to current, with rollback.json saying why."""
    rel = Rel(tmp_path)
    _stage_script(rel, "0.1.1", "exit 75")
    os.symlink("0.1.1", os.path.join(rel.state, "versions", "current"))
    _stage_script(rel, "0.1.2", "echo 'bad release' >&2; exit 1")
    os.symlink("0.1.2", os.path.join(rel.state, "versions", "next"))
    if tamper:      # same size, one byte changed: exit 1 becomes exit 0
        staged = os.path.join(rel.state, "versions", "0.1.2", "uplink-connector")
        data = open(staged, "rb").read()
        with open(staged, "wb") as f:
            f.write(data.replace(b"exit 1", b"exit 0"))
    r = subprocess.run([peers.connector_path(), "launch", "--config", rel.conf, "--state-dir",
                        rel.state], capture_output=True, text=True, timeout=60)
    current = os.readlink(os.path.join(rel.state, "versions", "current"))
    assert current == "0.1.1"
    assert not os.path.exists(os.path.join(rel.state, "versions", "trial"))
    assert r.returncode == 1, r
    if tamper:
        assert "launcher: version 0.1.2: not switching to it (hash mismatch)" in r.stderr, r.stderr
        assert not os.path.exists(os.path.join(rel.state, "rollback.json"))
        assert "switching from" not in r.stderr
        return
    assert "launcher: switching from 0.1.1 to version 0.1.2" in r.stderr, r.stderr
    assert "launcher: rolled back from version 0.1.2 to 0.1.1: it exited with status 1 " \
        "before passing its health gate" in r.stderr, r.stderr
    rb = json.load(open(os.path.join(rel.state, "rollback.json")))
    assert rb["version"] == "0.1.2" and rb["back_to"] == "0.1.1" and "status 1" in rb["why"]
    assert not os.path.exists(os.path.join(rel.state, "versions", "next"))
