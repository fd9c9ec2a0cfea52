"""The connector's side of the trust boundary (issue 13): what the cloud, or
anyone who can write its database, can make a connector do.

  * checks: a required address outside [access] allow / [check] allow is
    never connected to, whatever the cloud's store holds; a path with CR/LF
    never reaches a request line (finding 1);
  * requirement texts hold no line break (finding 11), in the API, the
    store and the firewall list;
  * connector.key must be private (design hardening);
  * resolve-then-check: a name allowed by name is not dialled at an
    address an address entry refuses (design hardening);
  * [run] max_streams: a flood of streams through a published service is
    refused beyond the cap while the cloud's check still runs (finding 10).

Each test starts real daemons on loopback; a Recorder is a listening socket
that records whether anything connected and what it sent.
"""

import json
import os
import socket
import sqlite3
import threading
import time

import pytest

import apiclient
import cloudpeers as cp

SLOW = 3.0 if cp.SAN else 1.0
CHECK_TIMEOUT = 70.0


class Recorder:
    """A TCP listener on 127.0.0.1 that records every connection and the
    bytes it sent (up to 64 KiB each), answering nothing."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind((cp.LOOPBACK, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            rec = bytearray()
            with self.lock:
                self.conns.append(rec)
            threading.Thread(target=self._read, args=(c, rec), daemon=True).start()

    def _read(self, c, rec):
        c.settimeout(5)
        try:
            while len(rec) < 65536:
                b = c.recv(4096)
                if not b:
                    break
                with self.lock:
                    rec += b
                if b"\r\n\r\n" in rec:
                    break
        except OSError:
            pass
        c.close()

    def seen(self):
        with self.lock:
            return [bytes(r) for r in self.conns]

    def close(self):
        self.stopping = True
        self.sock.close()


def store_requirement(cloud, name, svc):
    """Writes a requirement straight into the cloud's database, as someone
    who can write the data directory (or a compromised cloud) would: no API
    validation."""
    svc = dict(svc, name=name)
    db = sqlite3.connect(os.path.join(cloud.data, "uplink.db"), timeout=30)
    try:
        db.execute("INSERT INTO requirements(name, json, updated_at) VALUES (?, ?, ?) "
                   "ON CONFLICT(name) DO UPDATE SET json = excluded.json",
                   (name, json.dumps(svc), int(time.time())))
        db.commit()
    finally:
        db.close()


def drop_requirement(cloud, name):
    db = sqlite3.connect(os.path.join(cloud.data, "uplink.db"), timeout=30)
    try:
        db.execute("DELETE FROM requirements WHERE name = ?", (name,))
        db.commit()
    finally:
        db.close()


class Net:
    def __init__(self, workdir):
        self.dir = workdir
        self.cloud = None
        self.conn = None
        self.rec = None

    def start(self):
        self.rec = Recorder()
        self.cloud = cp.Cloud(os.path.join(self.dir, "cloud"))
        self.cloud.init().start()
        self.api = apiclient.Client(self.cloud.port, ca=os.path.join(self.cloud.data, "ca.pem"),
                                    key=self.cloud.key("tests"), timeout=CHECK_TIMEOUT)
        self.conn = cp.Connector(os.path.join(self.dir, "c"), name="sec")
        r = self.conn.enroll(self.cloud.token("sec"))
        assert r.rc == 0, r
        self.conn.configure(tunnels=1)
        self.conn.id = [x["id"] for x in self.cloud.connectors() if x["name"] == "sec"][-1]
        self.conn.start(wait_tunnels=1, timeout=30 * SLOW)
        return self

    def check(self):
        r = self.api.post(f"/api/v1/connectors/{self.conn.id}/check")
        assert r.status == 200, f"{r}\n" + cp.tail(self.conn.log) + cp.tail(self.cloud.log)
        return r.body["report"]

    def stop(self):
        cp.stop_network([self.conn] if self.conn else [], self.cloud, [self.rec] if self.rec else [])


@pytest.fixture(scope="module")
def net(workdir):
    n = Net(os.path.join(workdir, "sec_connector"))
    try:
        n.start()
        yield n
    finally:
        n.stop()


def rows_of(report, **match):
    return [r for r in report["results"] if all(r.get(k) == v for k, v in match.items())]


# --------------------------------------------------------------------------
# finding 1: the check reaches only what the connector allows


def test_check_refuses_a_target_outside_the_allow_lists(net):
    """A required address the cloud's store holds for an internal port the
    connector does not allow is reported "not-allowed", with the fix, and
    nothing connects to it; the cloud's own rows still pass."""
    store_requirement(net.cloud, "hostile", {
        "purpose": "internal scan",
        "addresses": [{"host": "127.0.0.1", "port": net.rec.port, "scheme": "http",
                       "path": "/probe"}]})
    try:
        rep = net.check()
    finally:
        drop_requirement(net.cloud, "hostile")
    rows = rows_of(rep, service="hostile")
    assert len(rows) == 1, json.dumps(rep, indent=1)
    r = rows[0]
    assert r["ok"] is False and r["error"] == "not-allowed", r
    want = f"127.0.0.1:{net.rec.port}"
    assert want in r["detail"] and "[check] allow" in r["detail"], r
    assert net.conn.conf in r["detail"] and f"add {want}" in r["hint"], r
    assert r["steps"] == [], r
    cloud_rows = rows_of(rep, service="cloud")
    assert cloud_rows and all(x["ok"] for x in cloud_rows), json.dumps(rep, indent=1)
    assert net.rec.seen() == [], net.rec.seen()
    net.conn.wait_log(r"check t\d+/s\d+: 1 address of the cloud's catalog not tested", 10)


def test_check_path_with_crlf_from_the_store_is_never_sent(net):
    """The same target, allowed this time, with a path holding CR/LF written
    straight into the store: the connector refuses the catalog, naming the
    field, and sends nothing (not the injected header, not anything)."""
    store_requirement(net.cloud, "inject", {
        "purpose": "x",
        "addresses": [{"host": "127.0.0.1", "port": net.rec.port, "scheme": "http",
                       "path": "/a\r\nX-Injected: yes\r\n\r\nGET /b"}]})
    net.conn.configure(tunnels=1, extra=f"\n[check]\nallow = 127.0.0.1:{net.rec.port}\n")
    net.conn.stop()
    net.conn.start(wait_tunnels=1, timeout=30 * SLOW)
    try:
        rep = net.check()
    finally:
        drop_requirement(net.cloud, "inject")
    assert rep["ok"] is False and len(rep["results"]) == 1, json.dumps(rep, indent=1)
    r = rep["results"][0]
    assert r["error"] == "catalog", r
    assert "path: holds a line break" in r["detail"], r
    assert net.rec.seen() == [], net.rec.seen()


def test_check_allowed_target_is_tested(net):
    """Control: with [check] allow naming it (previous test), the target is
    tested and gets the plain request: the refusals above come from the
    lists, not from a target nobody could reach."""
    store_requirement(net.cloud, "partner", {
        "purpose": "a partner",
        "addresses": [{"host": "127.0.0.1", "port": net.rec.port, "scheme": "http",
                       "path": "/probe"}]})
    try:
        rep = net.check()
    finally:
        drop_requirement(net.cloud, "partner")
    rows = rows_of(rep, service="partner")
    assert len(rows) == 1 and rows[0]["error"] != "not-allowed", json.dumps(rep, indent=1)
    seen = net.rec.seen()
    assert len(seen) >= 1 and seen[-1].startswith(b"GET /probe HTTP/1.1\r\n"), seen
    assert not any(b"X-Injected" in s for s in seen), seen


# --------------------------------------------------------------------------
# findings 1 and 11 at the API and in the firewall list


@pytest.mark.parametrize("field,addr,svc_purpose", [
    ("path", {"host": "a.example.net", "scheme": "http", "path": "/a\r\nX: y"}, None),
    ("path", {"host": "a.example.net", "scheme": "http", "path": "/a b"}, None),
    ("purpose", {"host": "a.example.net", "purpose": "updates\n0.0.0.0/0:443"}, None),
    ("purpose", {"host": "a.example.net"}, "updates\r\n0.0.0.0/0:443"),
    ("probe", {"host": "*.example.net", "probe": "a\nb"}, None),
])
def test_api_refuses_control_characters(net, field, addr, svc_purpose):
    body = {"addresses": [addr]}
    if svc_purpose is not None:
        body["purpose"] = svc_purpose
    r = net.api.put("/api/v1/requirements/bad", body)
    assert r.status == 400 and r.body["error"] == "bad-field", r
    assert f"{field}: holds" in r.body["message"], r
    assert net.api.get("/api/v1/requirements/bad").status in (404, 405)


def test_requirements_text_never_gets_an_injected_line(net):
    """A purpose with a newline already in the store (written before the
    fix, or by hand) is left out of the firewall list, not split in two."""
    store_requirement(net.cloud, "old", {
        "purpose": "updates\n0.0.0.0/0:443",
        "addresses": [{"host": "updates.example.net"}]})
    try:
        r = net.api.get("/api/v1/requirements?format=text")
    finally:
        drop_requirement(net.cloud, "old")
    assert r.status == 200, r
    lines = r.body.splitlines()
    assert not any(ln.startswith("0.0.0.0/0") for ln in lines), r.body
    assert any("left out" in ln and ln.startswith("#") for ln in lines), r.body


# --------------------------------------------------------------------------
# connector.key must be private


def test_world_readable_key_refused(net):
    key = os.path.join(net.conn.state, "connector.key")
    assert os.stat(key).st_mode & 0o777 == 0o600
    net.conn.stop()
    try:
        os.chmod(key, 0o644)
        r = net.conn.run(["run", "--config", net.conn.conf], timeout=30)
        assert r.rc != 0, r
        out = r.stdout + r.stderr
        assert f"chmod 600 {key}" in out and "readable by group and others" in out, r
    finally:
        os.chmod(key, 0o600)
    net.conn.start(wait_tunnels=1, timeout=30 * SLOW)


# --------------------------------------------------------------------------
# resolve-then-check and the stream cap: a cloud that publishes services of
# site "rt", whose connector resolves intranet.test to 127.0.0.1 (a private
# /etc/hosts)

MAX_STREAMS = 8


class PubNet:
    def __init__(self, workdir):
        self.dir = workdir
        self.rec = Recorder()
        self.svc = cp.Services(os.path.join(workdir, "services")).start()
        self.cloud = None
        self.conn = None
        self.prefix = cp.host_isolation(os.path.join(workdir, "iso"))

    def start(self):
        self.cloud = cp.Cloud(os.path.join(self.dir, "cloud"), publish={
            "named": ("rt", f"{cp.INTRANET}:{self.rec.port}"),
            "echo": ("rt", f"{cp.LOOPBACK}:{self.svc.ports['echo']}"),
            "fd-echo": ("fd", f"{cp.LOOPBACK}:{self.svc.ports['echo']}")},
            # The descriptor test's 300 clients come from one address: the
            # cloud's own per-address cap (128) must not be what refuses them.
            options={"limits": {"service_connections_per_address": "1000"}})
        self.cloud.init().start()
        self.api = apiclient.Client(self.cloud.port, ca=os.path.join(self.cloud.data, "ca.pem"),
                                    key=self.cloud.key("tests"), timeout=CHECK_TIMEOUT)
        self.conn = cp.Connector(os.path.join(self.dir, "c"), name="rt", prefix=self.prefix)
        r = self.conn.enroll(self.cloud.token("rt"))
        assert r.rc == 0, r
        self.conn.id = [x["id"] for x in self.cloud.connectors() if x["name"] == "rt"][-1]
        return self

    def restart(self, allow):
        self.conn.stop()
        self.conn.configure(allow=allow, tunnels=1, run={"max_streams": MAX_STREAMS})
        self.conn.start(wait_tunnels=1, timeout=30 * SLOW)

    def stop(self):
        cp.stop_network([self.conn] if self.conn else [], self.cloud, [self.svc, self.rec])


@pytest.fixture(scope="module")
def pub(workdir):
    n = PubNet(os.path.join(workdir, "sec_connector_pub"))
    try:
        n.start()
        yield n
    finally:
        n.stop()


def try_echo(port, payload=b"ping", timeout=10):
    """What comes back through a published service ("" when it is closed)."""
    try:
        return cp.echo_once(port, payload, timeout=timeout * SLOW)
    except OSError:
        return b""


def test_name_is_not_dialled_at_a_refused_address(pub):
    """allow = intranet.test:PORT, 127.0.0.1:1: intranet.test resolves to
    127.0.0.1, which the address entry allows only on port 1, so the
    connector refuses the stream and nothing connects to PORT."""
    if not pub.prefix:
        pytest.skip("needs root and unshare (private /etc/hosts)")
    port = pub.rec.port
    pub.restart([f"{cp.INTRANET}:{port}", f"{cp.LOOPBACK}:1"])
    got = try_echo(pub.cloud.publish_ports["named"])
    assert got == b"", got
    pub.conn.wait_log(rf"{cp.INTRANET}:{port}: not dialling this address: 127\.0\.0\.1 is "
                      rf"inside the address entry \"127\.0\.0\.1:1\", which does not allow "
                      rf"port {port}", 10 * SLOW)
    pub.conn.wait_log(rf"refused: 403 not-allowed: .*127\.0\.0\.1:{port}", 10 * SLOW)
    assert pub.rec.seen() == [], pub.rec.seen()
    # Control: without the address entry the same name is dialled.
    pub.restart([f"{cp.INTRANET}:{port}"])
    try_echo(pub.cloud.publish_ports["named"], timeout=3)
    deadline = time.time() + 10 * SLOW
    while not pub.rec.seen() and time.time() < deadline:
        time.sleep(0.1)
    assert len(pub.rec.seen()) == 1, pub.rec.seen()


def test_stream_cap_refuses_the_flood_and_the_check_still_runs(pub):
    """With [run] max_streams = 8, 20 idle connections through a published
    service get 8 streams; the rest are refused "503 busy" naming the
    setting, and an on-demand check of the connector still passes."""
    pub.restart([f"{cp.LOOPBACK}:{pub.svc.ports['echo']}"])
    port = pub.cloud.publish_ports["echo"]
    socks = []
    try:
        served = 0
        for i in range(20):
            s = cp.connect(port, timeout=10 * SLOW)
            socks.append(s)
            s.sendall(b"hello %d" % i)
            try:
                got = s.recv(100)
            except OSError:
                got = b""
            served += got == b"hello %d" % i
        assert served == MAX_STREAMS, served
        pub.conn.wait_log(r"refused: 503 busy: the connector already has 8 connections open, "
                          r"its limit \(\[run\] max_streams = 8 in ", 10 * SLOW)
        r = pub.api.post(f"/api/v1/connectors/{pub.conn.id}/check")
        assert r.status == 200, r
        rows = r.body["report"]["results"]
        assert rows and all(x["ok"] for x in rows if x["service"] == "cloud"), r.body
    finally:
        for s in socks:
            s.close()
    # Room again once the clients are gone.
    deadline = time.time() + 20 * SLOW
    while try_echo(port, b"again", timeout=3) != b"again":
        assert time.time() < deadline, cp.tail(pub.conn.log)
        time.sleep(0.2)


FD_LIMIT = 256
FD_RESERVE = 64          # STREAMS_FD_RESERVE in connector/service.h


def test_descriptor_limit_keeps_room_for_the_check(pub):
    """A connector run with 256 descriptors (soft and hard) and the default
    max_streams: a client opening 300 idle connections through a published
    service gets 256 - 64 streams, the rest are refused "503 busy" naming
    the descriptor limit, and the cloud's check of that connector still
    passes (before the cap, the flood took every descriptor and the check
    failed)."""
    c = cp.Connector(os.path.join(pub.dir, "fd"), name="fd",
                     prefix=["prlimit", f"--nofile={FD_LIMIT}:{FD_LIMIT}", "--"])
    r = c.enroll(pub.cloud.token("fd"))
    assert r.rc == 0, r
    c.configure(allow=[f"{cp.LOOPBACK}:{pub.svc.ports['echo']}"], tunnels=1)
    cid = [x["id"] for x in pub.cloud.connectors() if x["name"] == "fd"][-1]
    socks = []
    try:
        c.start(wait_tunnels=1, timeout=30 * SLOW)
        cap = FD_LIMIT - FD_RESERVE
        c.wait_log(rf"streams: at most {cap} open at once \(\[run\] max_streams 1000, "
                   rf"descriptor limit {FD_LIMIT}, {FD_RESERVE} kept", 10 * SLOW)
        port = pub.cloud.publish_ports["fd-echo"]
        served = 0
        for i in range(300):
            s = cp.connect(port, timeout=10 * SLOW)
            socks.append(s)
            s.sendall(b"x%d" % i)
            try:
                got = s.recv(100)
            except OSError:
                got = b""
            served += got == b"x%d" % i
        assert served == cap, served
        c.wait_log(r"refused: 503 busy: .*descriptor limit 256 less 64 kept for checks", 10 * SLOW)
        chk = pub.api.post(f"/api/v1/connectors/{cid}/check")
        assert chk.status == 200, chk
        rows = chk.body["report"]["results"]
        cloud_rows = [x for x in rows if x["service"] == "cloud"]
        assert cloud_rows and all(x["ok"] for x in cloud_rows), chk.body
    finally:
        for s in socks:
            s.close()
        rc = c.stop(timeout=15)
        reports = cp.sanitizer_reports([c.log])
        assert not reports, "\n".join(reports)
    assert rc == 0, cp.tail(c.log)
