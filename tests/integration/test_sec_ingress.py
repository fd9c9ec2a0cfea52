"""Issue 13, the ingress proxy and the published services as an attacker
sees them: API key scopes at the ingress (finding 5), revoked keys'
connections closed at once (8), the ingress request head's absolute
deadline against slowloris (9), and connection caps per service and per
client address (10).

One module network: the internal services, one uplink-cloud publishing
"web" and "echo" of site hq with small caps and a 2 s head deadline, one
connector of site hq, and a site "branch" with no connector. Clients bind
other loopback addresses (127.0.0.2 ...) to play a second host.
"""

import base64
import os
import re
import socket
import subprocess
import time

import pytest

import cloudpeers as cp
import peers
from apiclient import Client

SAN = cp.SAN
SLOW = 3.0 if SAN else 1.0
INTRANET = cp.INTRANET
HEAD_TIMEOUT = 2            # [limits] request_head_timeout in this cloud, seconds
INGRESS_PER_ADDR = 6        # [ingress] connections_per_address
SVC_PER_ADDR = 4            # [limits] service_connections_per_address
SVC_TOTAL = 10              # [limits] service_connections
LOG_BURST = 5               # refusal lines per 10 s (PUB_LOG_BURST, IC_LOG_BURST)

pytestmark = pytest.mark.skipif(
    not os.access(cp.cloud_path(), os.X_OK) or not os.access(peers.connector_path(), os.X_OK),
    reason=f"{cp.cloud_path()} or {peers.connector_path()} missing: run make")


class Net:
    def __init__(self, workdir, prefix):
        self.dir = workdir
        self.prefix = prefix
        self.cloud = self.conn = self.svc = None

    def start(self):
        self.svc = cp.Services(os.path.join(self.dir, "services")).start()
        p = self.svc.ports
        self.cloud = cp.Cloud(
            os.path.join(self.dir, "cloud"),
            publish={"web": ("hq", f"{INTRANET}:{p['http']}"),
                     "echo": ("hq", f"{INTRANET}:{p['echo']}")},
            options={"ingress": {"connections_per_address": str(INGRESS_PER_ADDR)},
                     "limits": {"request_head_timeout": f"{HEAD_TIMEOUT}s",
                                "service_connections": str(SVC_TOTAL),
                                "service_connections_per_address": str(SVC_PER_ADDR)}})
        self.cloud.init().start()
        self.full = self.cloud.key("full")
        self.cloud.token("branch")          # the site exists, without a connector
        self.conn = cp.Connector(os.path.join(self.dir, "hq"), name="hq-a", prefix=self.prefix)
        r = self.conn.enroll(self.cloud.token("hq"))
        assert r.rc == 0, r
        self.conn.configure(allow=[f"{INTRANET}:{p['http']}", f"{INTRANET}:{p['echo']}"],
                            tunnels=1)
        self.conn.start(wait_tunnels=1, timeout=30 * SLOW)
        return self

    def stop(self):
        cp.stop_network([self.conn] if self.conn else [], self.cloud, [self.svc])

    def api(self, key=None):
        return Client(self.cloud.port, ca=os.path.join(self.cloud.data, "ca.pem"),
                      key=key or self.full)

    def key(self, name, scope, sites=None):
        """uplink-cloud key create ... --json: (key text, id)."""
        args = ["key", "create", "--name", name, "--scope", scope, "--json"]
        if sites:
            args += ["--sites", sites]
        r = self.cloud.admin(args)
        assert r.rc == 0 and r.json, r
        return r.json["key"], r.json["id"]

    def target(self, name):
        return f"{INTRANET}:{self.svc.ports[name]}"


@pytest.fixture(scope="module")
def net(workdir):
    prefix = cp.isolation_or_skip(os.path.join(workdir, "sec-ingress-iso"))
    n = Net(os.path.join(workdir, "sec-ingress"), prefix)
    try:
        n.start()
        yield n
    finally:
        n.stop()


def curl(net, site, key, url, connect=False):
    """curl through the ingress: (http_code, connect_code, body, stderr)."""
    proxy = f"http://{site}:{key}@127.0.0.1:{net.cloud.ingress_port}"
    out = subprocess.run(["curl", "-sS", "--max-time", str(int(20 * SLOW)), "-o", "-",
                          "-w", "\n@@%{http_code} %{http_connect}"]
                         + (["-p"] if connect else []) + ["-x", proxy, url],
                         capture_output=True, text=True, timeout=60 * SLOW,
                         env=peers.connector_env())
    body, _, codes = out.stdout.rpartition("\n@@")
    code, conn = codes.split()
    return int(code), int(conn), body, out.stderr


def read_head(s, timeout):
    s.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        b = s.recv(4096)
        if not b:
            break
        data += b
    head, _, rest = data.partition(b"\r\n\r\n")
    return head.decode(errors="replace"), rest


def ingress_connect(net, site, key, target, src="127.0.0.1", timeout=10):
    """A raw CONNECT through the ingress from src: (socket, status, head)."""
    s = socket.create_connection(("127.0.0.1", net.cloud.ingress_port), timeout=timeout,
                                 source_address=(src, 0))
    auth = base64.b64encode(f"{site}:{key}".encode()).decode()
    s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n"
              f"Proxy-Authorization: Basic {auth}\r\n\r\n".encode())
    head, rest = read_head(s, timeout * SLOW)
    m = re.match(r"HTTP/1\.1 (\d{3})", head)
    return s, (int(m.group(1)) if m else None), head + "\r\n\r\n" + rest.decode(errors="replace")


def echo_round(s, payload=b"ping\n", timeout=10):
    s.sendall(payload)
    s.settimeout(timeout * SLOW)
    got = b""
    while len(got) < len(payload):
        b = s.recv(4096)
        if not b:
            break
        got += b
    return got


def closed_within(s, timeout):
    """Seconds until the peer closed s (EOF or reset); None if it did not
    within timeout. Bytes that arrive first are read and dropped."""
    t0 = time.monotonic()
    s.settimeout(0.2)
    while time.monotonic() - t0 < timeout:
        try:
            if not s.recv(4096):
                return time.monotonic() - t0
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - t0
    return None


def still_open(s):
    """Whether the peer has not closed s, without waiting."""
    timeout = s.gettimeout()
    s.setblocking(False)
    try:
        return s.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        s.settimeout(timeout)


def refused_at_once(port, src, timeout=5):
    """Connects from src; True when the cloud closes the connection without
    a byte (a refusal at accept), False when it stays open (accepted)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                  source_address=(src, 0)) as s:
        return closed_within(s, 1.5 * SLOW) is not None


# --------------------------------------------------------------------------
# finding 5: scopes at the ingress

def test_read_key_cannot_use_the_ingress(net):
    key, kid = net.key("grafana", "read")
    url = f"http://{net.target('http')}/page"
    code, _, body, err = curl(net, "hq", key, url)
    assert code == 403, (code, body, err)
    assert f"API key {kid} has scope read, which does not open the ingress proxy" in body, body
    code, conn, body, err = curl(net, "hq", key, url, connect=True)
    assert conn == 403, (code, conn, body, err)
    # a full key reaches the same page
    code, _, body, err = curl(net, "hq", net.full, url)
    assert code == 200 and "/page" in body, (code, body, err)


def test_ingress_key_reaches_its_sites_only(net):
    key, kid = net.key("build", "ingress", "hq")
    url = f"http://{net.target('http')}/bound"
    code, _, body, err = curl(net, "hq", key, url)
    assert code == 200 and "/bound" in body, (code, body, err)
    code, conn, body, err = curl(net, "HQ", key, url, connect=True)
    assert conn == 200 and code == 200, (code, conn, body, err)
    code, _, body, err = curl(net, "branch", key, url)
    assert code == 403, (code, body, err)
    assert f"API key {kid} (scope ingress) is not bound to site \"branch\"" in body, body
    # it does not open the API
    r = net.api(key).get("/api/v1/sites")
    assert r.status == 403 and r.body["error"] == "wrong-scope", r
    assert "scope ingress, which does not open the API" in r.body["message"], r


def test_ingress_key_made_through_the_api(net):
    api = net.api()
    r = api.post("/api/v1/keys", {"name": "api-build", "scope": "ingress",
                                  "sites": ["hq", "Branch"]})
    assert r.status == 201, r
    assert r.body["scope"] == "ingress" and r.body["sites"] == ["hq", "branch"], r.body
    code, _, body, err = curl(net, "hq", r.body["key"], f"http://{net.target('http')}/api")
    assert code == 200 and "/api" in body, (code, body, err)
    listed = {k["id"]: k for k in api.get("/api/v1/keys").body["keys"]}
    assert listed[r.body["id"]]["sites"] == ["hq", "branch"], listed
    for body, why in [({"name": "x", "scope": "ingress"}, "needs the sites"),
                      ({"name": "x", "scope": "ingress", "sites": ["paris"]},
                       "no site named \"paris\""),
                      ({"name": "x", "scope": "full", "sites": ["hq"]}, "not bound to sites"),
                      ({"name": "x", "scope": "ingress", "sites": "hq"}, "must be an array"),
                      ({"name": "x", "scope": "ingress", "sites": [1]}, "array of at most"),
                      ({"name": "x", "scope": "admin"}, "full, read, ingress or metrics")]:
        r = api.post("/api/v1/keys", body)
        assert r.status == 400 and r.body["error"] == "bad-field", (body, r)
        assert why in r.body["message"], (body, r.body)
    # a read key still cannot make keys
    rk, _ = net.key("ro", "read")
    r = net.api(rk).post("/api/v1/keys", {"name": "y", "scope": "ingress", "sites": ["hq"]})
    assert r.status == 403, r


def test_key_create_cli(net):
    r = net.cloud.admin(["key", "create", "--name", "x", "--scope", "ingress"])
    assert r.rc != 0 and "scope ingress needs the sites" in r.stderr, r
    r = net.cloud.admin(["key", "create", "--name", "x", "--scope", "ingress",
                         "--sites", "hq,nosuch"])
    assert r.rc != 0 and "no site named \"nosuch\"" in r.stderr, r
    r = net.cloud.admin(["key", "create", "--name", "x", "--scope", "admin"])
    assert r.rc == 2 and "--scope is full, read, ingress or metrics" in r.stderr, r
    _, kid = net.key("two", "ingress", "branch,hq")
    r = net.cloud.admin(["key", "list", "--json"])
    assert r.rc == 0, r
    assert {k["id"]: k["sites"] for k in r.json}[kid] == ["branch", "hq"], r.json
    r = net.cloud.admin(["key", "list"])
    assert re.search(rf"{kid}\s+two\s+ingress\s+branch,hq\s", r.stdout), r.stdout


# --------------------------------------------------------------------------
# finding 8: a revoked key's connections are closed

def open_echo(net, key):
    s, status, head = ingress_connect(net, "hq", key, net.target("echo"))
    assert status == 200, head
    assert echo_round(s) == b"ping\n"
    return s


@pytest.mark.parametrize("how", ["cli", "api"])
def test_revoke_closes_ingress_connections(net, how):
    key, kid = net.key(f"revoke-{how}", "ingress", "hq")
    other = open_echo(net, net.full)          # another key's stream goes on
    conns = [open_echo(net, key) for _ in range(2)]
    before = net.cloud.log_offset()
    if how == "cli":
        r = net.cloud.admin(["key", "revoke", kid])
        assert r.rc == 0, r
    else:
        r = net.api().post(f"/api/v1/keys/{kid}/revoke")
        assert r.status == 200, r
    for s in conns:
        took = closed_within(s, 10 * SLOW)
        assert took is not None, "the revoked key's connection is still open"
        print(f"SEC: revoke ({how}): connection closed {took:.2f} s after the revoke returned")
        s.close()
    net.cloud.wait_log(rf"ingress i\d+ .*closed: API key {kid} was revoked", 5 * SLOW,
                       since=before)
    assert echo_round(other, b"still\n") == b"still\n"
    other.close()
    s, status, head = ingress_connect(net, "hq", key, net.target("echo"))
    if "\r\n\r\nforbidden" not in head:
        head += cp.recv_all(s, 5 * SLOW).decode(errors="replace")
    s.close()
    assert status == 403 and "unknown or revoked API key" in head, head


# --------------------------------------------------------------------------
# finding 9: the request head has an absolute deadline

def test_slowloris_head_is_cut_off(net):
    before = net.cloud.log_offset()
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", net.cloud.ingress_port), timeout=10)
    head = b"CONNECT " + net.target("echo").encode() + b" HTTP/1.1\r\nX-Slow: " + b"a" * 200
    sent = 0
    closed = None
    reply = b""
    try:
        # one byte every 0.25 s, never the end of the head: bounded by 5x the deadline
        while time.monotonic() - t0 < 5 * HEAD_TIMEOUT * SLOW and sent < len(head):
            try:
                s.sendall(head[sent:sent + 1])
            except (BrokenPipeError, ConnectionResetError):
                closed = time.monotonic() - t0
                break
            sent += 1
            s.settimeout(0.25)
            try:
                b = s.recv(4096)
                if not b:
                    closed = time.monotonic() - t0
                    break
                reply += b
            except socket.timeout:
                pass
            except ConnectionResetError:
                closed = time.monotonic() - t0
                break
        if closed is None:
            took = closed_within(s, 1)
            closed = None if took is None else time.monotonic() - t0
    finally:
        s.close()
    assert closed is not None, f"the slow head was still open after {5 * HEAD_TIMEOUT * SLOW} s"
    print(f"SEC: slowloris head ({sent} bytes, one per 0.25 s) closed after {closed:.2f} s "
          f"(head_timeout {HEAD_TIMEOUT} s)")
    assert HEAD_TIMEOUT - 0.1 <= closed <= 5 * HEAD_TIMEOUT * SLOW, closed
    assert reply.startswith(b"HTTP/1.1 408 "), reply
    assert b"no complete request head within 2s (request_head_timeout in [limits])" in reply, reply
    net.cloud.wait_log(r"ingress i\d+ .*408 timeout: no complete request head", 5,
                       since=before)
    # a normal request still goes through
    code, _, body, err = curl(net, "hq", net.full, f"http://{net.target('http')}/after")
    assert code == 200 and "/after" in body, (code, body, err)


# --------------------------------------------------------------------------
# finding 10: connection caps of published services and of the ingress

def hold(port, src, n):
    """n connections from src that the cloud accepted and keeps open."""
    held = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(src, 0))
        held.append(s)
    return held


def test_service_caps_per_address(net):
    port = net.cloud.publish_ports["web"]
    before = net.cloud.log_offset()
    held = hold(port, "127.0.0.2", SVC_PER_ADDR)
    try:
        refused = [refused_at_once(port, "127.0.0.2") for _ in range(LOG_BURST + 3)]
        assert all(refused), refused
        assert [still_open(s) for s in held] == [True] * SVC_PER_ADDR
        # every held connection is live: one of them gets the page
        held[0].sendall(f"GET /held HTTP/1.1\r\nHost: {INTRANET}\r\n"
                        "Connection: close\r\n\r\n".encode())
        data = cp.recv_all(held[0], 10 * SLOW)
        assert b" 200 " in data.split(b"\r\n")[0] and b"/held" in data, data[:200]
        # another address gets the page through the same service
        status, body = cp.http_get(port, "/other", timeout=10 * SLOW)
        assert status == 200 and "/other" in body, (status, body)
    finally:
        for s in held:
            s.close()
    log = net.cloud.log_text(before)
    lines = re.findall(r"publish web: refused a connection from 127\.0\.0\.2:\d+: it has "
                       rf"{SVC_PER_ADDR} open \(connections_per_address = {SVC_PER_ADDR}\); "
                       r"(\d+) refused in all", log)
    print(f"SEC: {len(refused)} refused from 127.0.0.2 over {SVC_PER_ADDR} held: "
          f"{len(lines)} log lines")
    assert 1 <= len(lines) <= LOG_BURST, log[-2000:]
    # the freed slots are given back: the address gets in again
    cp.wait_for(lambda: not refused_at_once(port, "127.0.0.2"), 10 * SLOW,
                "127.0.0.2 accepted again after closing its connections")


def test_service_cap_in_all(net):
    port = net.cloud.publish_ports["echo"]
    before = net.cloud.log_offset()
    held = []
    try:
        for i in range(SVC_TOTAL // SVC_PER_ADDR):
            held += hold(port, f"127.0.0.{10 + i}", SVC_PER_ADDR)
        held += hold(port, "127.0.0.20", SVC_TOTAL - len(held))
        assert len(held) == SVC_TOTAL
        assert refused_at_once(port, "127.0.0.21")
        assert [still_open(s) for s in held] == [True] * SVC_TOTAL
        net.cloud.wait_log(rf"publish echo: refused a connection from 127\.0\.0\.21:\d+: the "
                           rf"service has {SVC_TOTAL} open \(connections = {SVC_TOTAL}\)", 5,
                           since=before)
        # the other service is not affected
        status, body = cp.http_get(net.cloud.publish_ports["web"], "/web", timeout=10 * SLOW)
        assert status == 200, (status, body)
    finally:
        for s in held:
            s.close()
    def echoes():
        try:        # refused (reset) until the cloud has seen the closes
            return cp.echo_once(port, b"back\n", timeout=10 * SLOW) == b"back\n"
        except OSError:
            return False
    cp.wait_for(echoes, 10 * SLOW, "the echo service serves again once the connections closed")


def test_ingress_cap_per_address(net):
    """The cap counts connections without a key yet: strangers holding
    connections from one address are stopped; authenticated streams from the
    same address are not counted, and other addresses are not affected."""
    streams, idle = [], []
    before = net.cloud.log_offset()
    try:
        for _ in range(INGRESS_PER_ADDR + 2):        # more than the cap: not counted
            s, status, head = ingress_connect(net, "hq", net.full, net.target("echo"),
                                              src="127.0.0.3")
            streams.append(s)
            assert status == 200, head
        # idle connections that never send a head, up to the cap (well inside head_timeout)
        idle = hold(net.cloud.ingress_port, "127.0.0.3", INGRESS_PER_ADDR)
        with socket.create_connection(("127.0.0.1", net.cloud.ingress_port), timeout=10,
                                      source_address=("127.0.0.3", 0)) as s:
            took = closed_within(s, HEAD_TIMEOUT / 2)
            assert took is not None, "a connection over the cap was accepted"
        # while the idle ones up to the cap were all accepted (still open)
        assert [still_open(s) for s in idle] == [True] * INGRESS_PER_ADDR
        net.cloud.wait_log(r"ingress: refused a connection from 127\.0\.0\.3:\d+: it has "
                           rf"{INGRESS_PER_ADDR} open without a key yet \(\[ingress\] "
                           rf"connections_per_address = {INGRESS_PER_ADDR}\)", 5, since=before)
        # the streams still carry data, and 127.0.0.1 gets through
        assert echo_round(streams[-1], b"held\n") == b"held\n"
        code, _, body, err = curl(net, "hq", net.full, f"http://{net.target('http')}/free")
        assert code == 200 and "/free" in body, (code, body, err)
        # the idle ones are cut at head_timeout, and the address gets in again
        for s in idle:
            assert closed_within(s, 5 * HEAD_TIMEOUT * SLOW) is not None
        s, status, head = ingress_connect(net, "hq", net.full, net.target("echo"),
                                          src="127.0.0.3")
        streams.append(s)
        assert status == 200, head
    finally:
        for s in streams + idle:
            s.close()
