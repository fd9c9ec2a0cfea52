"""The tunnel end to end: uplink-cloud, enrolled connectors, streams.

One cloud and two connectors of site "hq" are shared by the module (the
`net` fixture): connector A reaches the cloud through squid, B directly;
both resolve the internal name intranet.test from a private /etc/hosts
(cloudpeers.host_isolation) and reach the internal services there
directly (bypass .intranet.test). Tests that change state (revocation,
drain, SIGHUP, via_proxy, renewal) get connectors of their own sites, or
a cloud of their own. Everything listens on 127.0.0.1.
"""

import asyncio
import hashlib
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import pytest
from cryptography import x509

import cloudpeers as cp
import peers

SAN = cp.SAN
SLOW = 3.0 if SAN else 1.0          # the ASan build is about 3x slower
MB = 1 << 20
INTRANET = cp.INTRANET

pytestmark = pytest.mark.skipif(
    not os.access(cp.cloud_path(), os.X_OK) or not os.access(peers.connector_path(), os.X_OK),
    reason=f"{cp.cloud_path()} or {peers.connector_path()} missing: run make "
           "(make SAN=1 with UPLINK_BUILD=build-san)")


# --------------------------------------------------------------------------
# the shared network

class Net:
    """Services, one cloud, connectors A (via squid) and B (direct), all in
    site hq; plus dedicated connectors started by tests (own sites)."""

    def __init__(self, workdir, squid, prefix):
        self.dir = workdir
        self.squid = squid
        self.prefix = prefix
        self.connectors = []
        self.cloud = None
        self.svc = None
        self.dead = None

    def publish_map(self):
        p = self.svc.ports
        it = INTRANET
        return {
            # site hq: connectors A and B
            "web": ("hq", f"{it}:{p['http']}"),
            "echo": ("hq", f"{it}:{p['echo']}"),
            "sink": ("hq", f"{it}:{p['sink']}"),
            "source": ("hq", f"{it}:{p['source']}"),
            "mute": ("hq", f"{it}:{p['mute']}"),
            "slow": ("hq", f"{it}:{p['slow']}"),
            "forbidden": ("hq", f"{it}:{p['stats']}"),          # not in [access]
            "closed": ("hq", f"{it}:{self.dead.port}"),          # nobody listens
            "nxdomain": ("hq", "nxdomain.intranet.test:80"),     # does not resolve
            "proxied": ("hq", f"127.0.0.1:{p['echo']}"),         # routed to the proxy
            "nobody": ("empty", f"{it}:{p['echo']}"),            # a site without connectors
            # sites with a connector of their own
            "via-echo": ("via", f"127.0.0.1:{p['echo']}"),
            "hup-echo": ("hup", f"{it}:{p['echo']}"),
            "hup-sink": ("hup", f"{it}:{p['sink']}"),
            "drain-echo": ("drain", f"{it}:{p['echo']}"),
            "rev-echo": ("rev", f"{it}:{p['echo']}"),
        }

    def hq_allow(self):
        p = self.svc.ports
        # intranet.test is 127.0.0.1, and an address entry for 127.0.0.1
        # refuses names its other ports (resolve-then-check, docs/config.md):
        # the loopback ports the names lead to are listed by address too.
        names = [p[n] for n in ("http", "echo", "sink", "source", "mute", "slow")]
        names.append(self.dead.port)
        return ([f"{INTRANET}:{port}" for port in names]
                + ["nxdomain.intranet.test:80"] + [f"127.0.0.1:{port}" for port in names])

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        self.svc = cp.Services(os.path.join(self.dir, "services"), slow_rate=100 * MB).start()
        self.dead = peers.DeadPort()
        # test_1000_concurrent_streams opens 1,000 connections from one address
        self.cloud = cp.Cloud(os.path.join(self.dir, "cloud"), publish=self.publish_map(),
                              options={"limits": {"service_connections_per_address": "1100",
                                                  "service_connections": "1100"}})
        self.cloud.init().start()
        self.key = self.cloud.key("tests")
        # A: tunnels through squid; B: direct (its bypass names the cloud).
        self.a = self.connector("hq-a", "hq", self.hq_allow(), enroll_proxy=True)
        self.b = self.connector("hq-b", "hq", self.hq_allow(),
                                bypass_extra=[f"127.0.0.1:{self.cloud.port}"])
        self.cloud.wait_log(r"site has \d+ tunnels over 2 connectors", 10 * SLOW)
        return self

    def port(self, name):
        return self.cloud.publish_ports[name]

    def connector(self, name, site, allow, enroll_proxy=False, bypass_extra=(),
                  via_proxy=False, drain_timeout=None, tunnels=2, start=True):
        """Enrolls (token for site) and starts a connector; stopped with the
        module. Its [proxy] is squid, bypassing .intranet.test (+ extra)."""
        c = cp.Connector(os.path.join(self.dir, name), name=name, prefix=self.prefix)
        self.connectors.append(c)
        r = c.enroll(self.cloud.token(site), proxy=self.squid.url if enroll_proxy else None)
        assert r.rc == 0, r
        c.configure(allow=allow, proxy=self.squid.url,
                    bypass=[f".{INTRANET}"] + list(bypass_extra), via_proxy=via_proxy,
                    drain_timeout=drain_timeout, tunnels=tunnels)
        c.id = [x["id"] for x in self.cloud.connectors() if x["name"] == name][-1]
        if start:
            c.start(wait_tunnels=tunnels, timeout=30 * SLOW)
        return c

    def stop(self):
        """Stops everything; raises (a teardown error) when a daemon did not
        exit 0 on SIGTERM or a log holds a sanitizer report."""
        cp.stop_network(self.connectors, self.cloud, [self.svc, self.dead])


@pytest.fixture(scope="module")
def net(workdir, squid):
    prefix = cp.isolation_or_skip(os.path.join(workdir, "tunnel-iso"))
    n = Net(os.path.join(workdir, "tunnel"), squid, prefix)
    try:
        n.start()
        yield n
    finally:
        n.stop()


def draining_in_status(cloud, cid):
    """Whether `uplink-cloud status --json` shows connector cid draining
    (every tunnel it has left is going away) or gone."""
    r = cloud.status()
    if r.rc != 0 or not r.json:
        return False
    for site in r.json.get("sites", []):
        for conn in site.get("connectors", []):
            if conn.get("id") == cid:
                return conn.get("state") in ("draining", "offline")
    return False


def closed_without_data(port, send=b"hello\n", timeout=10 * SLOW):
    """Connects, sends, and returns the bytes received until the connection
    closed (b"" when the stream was refused)."""
    with cp.connect(port) as s:
        try:
            s.sendall(send)
        except OSError:
            return b""
        try:
            return cp.recv_all(s, timeout)
        except ConnectionResetError:
            return b""


def curl(args, timeout=30):
    """curl with no proxy environment; returns (http_code, connect_code, body, rc)."""
    out = subprocess.run(["curl", "-sS", "--max-time", str(int(20 * SLOW)), "-o", "-",
                          "-w", "\n@@%{http_code} %{http_connect}"] + list(args),
                         capture_output=True, text=True, timeout=timeout * SLOW,
                         env=peers.connector_env())
    body, _, codes = out.stdout.rpartition("\n@@")
    code, connect = codes.split()
    return int(code), int(connect), body, out.returncode, out.stderr


def ingress_url(net, site="hq", key=None):
    return f"http://{site}:{key or net.key}@127.0.0.1:{net.cloud.ingress_port}"


# --------------------------------------------------------------------------
# first: start the renewal cloud, whose certificates age meanwhile

def test_renewal_cloud_starts(renewal):
    """Starts the renewal cloud early, so its certificates age while the
    other tests run (test_renewal checks them at the end)."""
    cloud, c, svc, stream = renewal
    assert cp.echo_once(cloud.publish_ports["echo"], b"x") == b"x"


# --------------------------------------------------------------------------
# enrollment

def enroll_dir(tmp_path, name="c"):
    return cp.Connector(str(tmp_path / name), name=name, prefix=cp.host_isolation(
        str(tmp_path / "iso")))


def test_enroll_valid_token(net, tmp_path):
    c = enroll_dir(tmp_path)
    r = c.enroll(net.cloud.token("enroll"))
    assert r.rc == 0, r
    assert "Enrolled connector c-" in r.stdout and "site \"enroll\"" in r.stdout, r
    assert f"next: uplink-connector run --config {c.conf}" in r.stdout, r
    assert os.stat(c.state).st_mode & 0o777 == 0o700
    assert os.stat(os.path.join(c.state, "connector.key")).st_mode & 0o777 == 0o600
    for f in ("connector.pem", "cloud-ca.pem", "uplink-ca.pem", "connector.conf"):
        assert os.path.isfile(os.path.join(c.state, f)), f
    conf = open(c.conf).read()
    assert "[cloud]" in conf and f"url = {net.cloud.url}" in conf, conf
    # The pinned anchor is the cloud's CA; the certificate is the one listed.
    with open(os.path.join(net.cloud.data, "ca.pem"), "rb") as f:
        assert open(os.path.join(c.state, "cloud-ca.pem"), "rb").read().strip() == \
            f.read().strip()
    serial = cp.cert_serial(os.path.join(c.state, "connector.pem"))
    mine = [x for x in net.cloud.connectors() if x["name"] == c.name and x["site"] == "enroll"]
    assert len(mine) == 1 and int(mine[0]["cert_serial"], 16) == serial, mine


def test_enroll_reused_token_refused(net, tmp_path):
    tok = net.cloud.token("enroll")
    assert enroll_dir(tmp_path, "first").enroll(tok).rc == 0
    r = enroll_dir(tmp_path, "second").enroll(tok)
    assert r.rc == 1, r
    assert "already been used" in r.stderr, r
    assert not os.path.exists(os.path.join(str(tmp_path), "second", "state", "connector.pem"))


def test_enroll_expired_token_refused(net, tmp_path):
    tok = net.cloud.token("enroll", ttl="1s")
    time.sleep(2.0)
    r = enroll_dir(tmp_path).enroll(tok)
    assert r.rc == 1, r
    assert "expired" in r.stderr, r


def test_enroll_damaged_token_refused_locally(net, tmp_path):
    tok = net.cloud.token("enroll")
    before = net.cloud.log_offset()
    r = enroll_dir(tmp_path).enroll(cp.damage_token(tok))
    assert r.rc == 1, r
    assert "damaged" in r.stderr and "copy the whole token" in r.stderr, r
    time.sleep(0.3)
    assert "enroll from" not in net.cloud.log_text(before), "a damaged token reached the cloud"
    # The original still works: nothing was spent.
    assert enroll_dir(tmp_path, "ok").enroll(tok).rc == 0


def test_enroll_unknown_secret_refused_by_cloud(net, tmp_path):
    forged = cp.forge_token(net.cloud.token("enroll"))
    before = net.cloud.log_offset()
    r = enroll_dir(tmp_path).enroll(forged)
    assert r.rc == 1, r
    assert "unknown to the cloud" in r.stderr, r
    net.cloud.wait_log(r"token t-\w+ refused \(token-unknown\)", 5, since=before)


def test_enroll_through_mitmproxy_is_interception(net, mitm, tmp_path):
    r = enroll_dir(tmp_path).enroll(net.cloud.token("enroll"), proxy=mitm.url)
    assert r.rc == 1, r
    assert "possible TLS interception" in r.stderr, r
    assert f"127.0.0.1:{net.cloud.port}" in r.stderr, r
    assert "mitmproxy" in r.stderr, r            # the issuer it saw
    assert mitm.url in r.stderr, r               # the proxy to fix
    assert not os.path.exists(os.path.join(str(tmp_path), "c", "state", "connector.key"))


def test_enroll_pin_of_another_cloud(net, tmp_path):
    """A token whose pin belongs to another cloud, pointing at ours: refused
    as interception, naming our CA (the issuer that was presented)."""
    other = cp.Cloud(str(tmp_path / "other"))
    other.init(port=net.cloud.port)          # same URL, another CA: never run
    tok = other.token("enroll")
    with open(os.path.join(net.cloud.data, "ca.pem"), "rb") as f:
        ours = x509.load_pem_x509_certificate(f.read())
    cn = ours.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    r = enroll_dir(tmp_path).enroll(tok)
    assert r.rc == 1, r
    assert "possible TLS interception" in r.stderr, r
    assert f"'{cn}'" in r.stderr, r


def test_enroll_through_squid_with_proxy_flag(net, tmp_path):
    c = enroll_dir(tmp_path)
    r = c.enroll(net.cloud.token("enroll"), proxy=net.squid.url)
    assert r.rc == 0, r
    conf = open(c.conf).read()
    assert re.search(r"^\[proxy\]\s*\nserver = " + re.escape(net.squid.url), conf, re.M), conf
    cp.wait_for(lambda: f"CONNECT 127.0.0.1:{net.cloud.port}" in
                cp.read_text(net.squid.access_log), 10, "squid logged the CONNECT")


def test_enroll_through_squid_from_environment(net, tmp_path):
    c = enroll_dir(tmp_path)
    r = c.enroll(net.cloud.token("enroll"),
                 env={"HTTPS_PROXY": net.squid.url, "NO_PROXY": "intranet.test"})
    assert r.rc == 0, r
    conf = open(c.conf).read()
    assert f"server = {net.squid.url}" in conf, conf
    assert "intranet.test" in conf, conf


def test_enroll_needs_a_reachable_cloud(net, tmp_path):
    """A token for a cloud that is not running: exit 1 and a hint, quickly."""
    other = cp.Cloud(str(tmp_path / "other"))
    dead = peers.DeadPort()
    try:
        other.init(port=dead.port)
        r = enroll_dir(tmp_path).enroll(other.token("enroll"), timeout=30 * SLOW)
    finally:
        dead.close()
    assert r.rc == 1, r
    assert f"127.0.0.1:{dead.port}" in r.stderr, r


# --------------------------------------------------------------------------
# streams through published services

def test_connectors_hold_no_listening_socket(net):
    for c in (net.a, net.b):
        assert cp.listening_sockets(c.pid) == [], c.name
        ss = subprocess.run(["ss", "-ltunxp"], capture_output=True, text=True, timeout=10)
        assert f"pid={c.pid}," not in ss.stdout, ss.stdout


def test_tunnels_use_the_configured_route(net):
    ups = re.findall(r"tunnel \d+: up to (.*)", net.a.log_text())
    assert ups and all(f"proxy {net.squid.url}" in u for u in ups), ups
    ups = re.findall(r"tunnel \d+: up to (.*)", net.b.log_text())
    assert ups and all("direct" in u for u in ups), ups


def test_http_through_published_service(net):
    status, body = cp.http_get(net.port("web"), "/hello")
    assert status == 200 and cp.INDEX_MARK in body and "path /hello" in body, body


def test_200mb_upload_sha256(net):
    t0 = time.monotonic()
    sent, count, got = cp.send_to_sink(net.port("sink"), 200 * MB, timeout=60 * SLOW)
    assert count == 200 * MB, got
    assert got == sent
    assert time.monotonic() - t0 < 60 * SLOW


def test_200mb_download_sha256(net):
    count, sha, trailer = cp.fetch_from_source(net.port("source"), 200 * MB, timeout=60 * SLOW)
    assert count == 200 * MB
    assert sha == trailer


def test_1000_concurrent_streams(net):
    """1,000 streams open at once, each echoing its own random payload."""
    n, size = 1000, 4096
    port = net.port("echo")

    async def one(i, payload, ready, go):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        try:
            w.write(payload)
            await w.drain()
            first = await r.readexactly(size)      # echoed while all are open
            ready.append(i)
            await go.wait()
            w.write_eof()
            rest = await r.read()                  # EOF comes back (half-close)
            return first + rest
        finally:
            w.close()

    async def main():
        go = asyncio.Event()
        ready = []
        payloads = [os.urandom(size) for _ in range(n)]
        tasks = [asyncio.create_task(one(i, payloads[i], ready, go)) for i in range(n)]
        deadline = time.monotonic() + 60 * SLOW
        while len(ready) < n and time.monotonic() < deadline:
            if any(t.done() and t.exception() for t in tasks):
                break
            await asyncio.sleep(0.05)
        open_at_once = len(ready)
        go.set()
        res = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True),
                                     30 * SLOW)
        return open_at_once, payloads, res

    open_at_once, payloads, res = asyncio.run(main())
    errors = [r for r in res if isinstance(r, BaseException)]
    assert not errors, f"{len(errors)} streams failed, e.g. {errors[:3]!r}"
    assert open_at_once == n
    bad = [i for i in range(n) if res[i] != payloads[i]]
    assert not bad, f"{len(bad)} streams got wrong data"


def test_half_close_client_first(net):
    payload = os.urandom(3 * MB)
    with cp.connect(net.port("echo")) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)          # we are done writing ...
        back = cp.recv_all(s, 20 * SLOW)    # ... and still read all, then EOF
    assert back == payload


def test_half_close_server_first(net):
    """The target shuts down its side first (mute); the client sees EOF and
    can still send, and the target receives everything."""
    payload = os.urandom(2 * MB)
    with cp.connect(net.port("mute")) as s:
        s.settimeout(10 * SLOW)
        assert s.recv(1) == b""             # the target's EOF arrived
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        cp.recv_all(s, 10 * SLOW)           # then the stream ends
    want = {"count": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}
    cp.wait_for(lambda: want in net.svc.stats("mute")["results"], 10 * SLOW,
                "the target received everything after its EOF")


def test_sink_answers_after_half_close(net):
    sent, count, got = cp.send_to_sink(net.port("sink"), 1000, timeout=10 * SLOW)
    assert (count, got) == (1000, sent)


def test_access_list_refusal_published(net):
    before = net.cloud.log_offset()
    accepted = net.svc.stats("stats")["accepted"]
    assert closed_without_data(net.port("forbidden"), b"mute\n") == b""
    net.cloud.wait_log(r"publish forbidden: .*403 not-allowed: .*access list", 5 * SLOW,
                       since=before)
    assert net.svc.stats("stats")["accepted"] == accepted + 1   # only our own query


def test_access_list_refusal_ingress(net):
    code, connect, body, rc, err = curl(
        ["-x", ingress_url(net), f"http://{INTRANET}:{net.svc.ports['stats']}/"])
    assert code == 403, (code, body, err)
    assert "not-allowed" in body and "access list" in body, body


def test_via_proxy_refused(net):
    assert closed_without_data(net.port("proxied")) == b""
    code, connect, body, rc, err = curl(
        ["-x", ingress_url(net), f"http://127.0.0.1:{net.svc.ports['echo']}/"])
    assert code == 403, (code, body, err)
    assert "via-proxy" in body and "bypass" in body, body


def test_via_proxy_yes(net):
    p = net.svc.ports["echo"]
    net.connector("via", "via", [f"127.0.0.1:{p}"], via_proxy=True)
    # No half-close here: squid ends a CONNECT tunnel at the first EOF.
    payload = os.urandom(MB)
    with cp.connect(net.port("via-echo")) as s:
        s.settimeout(20 * SLOW)
        s.sendall(payload)
        got = b""
        while len(got) < len(payload):
            b = s.recv(1 << 16)
            assert b, f"closed after {len(got)} bytes"
            got += b
    assert got == payload
    # squid logs a CONNECT when it ends
    cp.wait_for(lambda: f"CONNECT 127.0.0.1:{p}" in cp.read_text(net.squid.access_log),
                10, "squid logged the stream's CONNECT")


def test_unreachable_closed_port(net):
    before = net.cloud.log_offset()
    assert closed_without_data(net.port("closed")) == b""
    net.cloud.wait_log(r"publish closed: .*502 refused", 5 * SLOW, since=before)
    code, connect, body, rc, err = curl(
        ["-x", ingress_url(net), f"http://{INTRANET}:{net.dead.port}/"])
    assert code == 502 and "refused" in body, (code, body, err)


def test_unreachable_unresolvable_name(net):
    code, connect, body, rc, err = curl(
        ["-x", ingress_url(net), "http://nxdomain.intranet.test:80/"])
    assert code == 502 and "dns" in body, (code, body, err)
    assert "nxdomain.intranet.test" in body, body


def test_site_without_connector(net):
    before = net.cloud.log_offset()
    assert closed_without_data(net.port("nobody")) == b""
    net.cloud.wait_log(r"publish nobody: .* 50\d ", 5 * SLOW, since=before)


# --------------------------------------------------------------------------
# the ingress proxy

def test_ingress_absolute_form(net):
    code, connect, body, rc, err = curl(
        ["-x", ingress_url(net), f"http://{INTRANET}:{net.svc.ports['http']}/page"])
    assert code == 200, (code, body, err)
    assert cp.INDEX_MARK in body and "path /page" in body, body
    assert f"host {INTRANET}:{net.svc.ports['http']}" in body, body


def test_ingress_connect(net):
    code, connect, body, rc, err = curl(
        ["-p", "-x", ingress_url(net), f"http://{INTRANET}:{net.svc.ports['http']}/"])
    assert (code, connect) == (200, 200), (code, connect, body, err)
    assert cp.INDEX_MARK in body, body


def test_ingress_connect_raw_echo(net):
    """A raw CONNECT carries arbitrary bytes both ways."""
    import base64
    auth = base64.b64encode(f"hq:{net.key}".encode()).decode()
    payload = os.urandom(256 * 1024)
    with cp.connect(net.cloud.ingress_port) as s:
        s.sendall(f"CONNECT {INTRANET}:{net.svc.ports['echo']} HTTP/1.1\r\n"
                  f"Host: {INTRANET}:{net.svc.ports['echo']}\r\n"
                  f"Proxy-Authorization: Basic {auth}\r\n\r\n".encode())
        head = b""
        s.settimeout(10 * SLOW)
        while b"\r\n\r\n" not in head:
            b = s.recv(1)
            assert b, head
            head += b
        assert head.startswith(b"HTTP/1.1 200"), head
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        assert cp.recv_all(s, 20 * SLOW) == payload


def test_ingress_without_credentials_407(net):
    code, connect, body, rc, err = curl(
        ["-x", f"http://127.0.0.1:{net.cloud.ingress_port}",
         f"http://{INTRANET}:{net.svc.ports['http']}/"])
    assert code == 407, (code, body, err)


def test_ingress_bad_key_403(net):
    bad = net.key[:-4] + ("AAAA" if not net.key.endswith("AAAA") else "BBBB")
    code, connect, body, rc, err = curl(
        ["-x", ingress_url(net, key=bad), f"http://{INTRANET}:{net.svc.ports['http']}/"])
    assert code == 403, (code, body, err)
    assert cp.INDEX_MARK not in body


def test_ingress_unknown_site_403(net):
    code, connect, body, rc, err = curl(
        ["-x", ingress_url(net, site="nosuchsite"), f"http://{INTRANET}:{net.svc.ports['http']}/"])
    assert code == 403, (code, body, err)
    assert "nosuchsite" in body, body


# --------------------------------------------------------------------------
# connectors coming and going

def test_redundancy_one_connector_killed(net):
    try:
        net.b.kill()
        for i in range(20):
            payload = os.urandom(10000)
            assert cp.echo_once(net.port("echo"), payload, timeout=10 * SLOW) == payload, i
        status, body = cp.http_get(net.port("web"))
        assert status == 200
    finally:
        if net.b.proc is None:
            net.b.start(wait_tunnels=2, timeout=30 * SLOW)


def test_drain_on_sigterm(net):
    c = net.connector("drain", "drain", [f"{INTRANET}:{net.svc.ports['echo']}"],
                      drain_timeout="10s")
    with cp.connect(net.port("drain-echo")) as s:
        s.settimeout(10 * SLOW)
        s.sendall(b"before")
        assert s.recv(100) == b"before"
        t0 = time.monotonic()
        c.signal(signal.SIGTERM)
        c.wait_log(r"draining", 5 * SLOW)
        # A stream the cloud opened before the drain notice reached it is
        # still served (HTTP/2: streams below the final GOAWAY go on), so
        # wait until the cloud has seen the notice on every tunnel.
        cp.wait_for(lambda: draining_in_status(net.cloud, c.id), 10 * SLOW,
                    "uplink-cloud status showing the connector draining")
        # No new streams while draining...
        assert closed_without_data(net.port("drain-echo")) == b""
        # ... but the open one carries on to its end.
        payload = os.urandom(MB)
        s.sendall(payload)
        got = b""
        while len(got) < len(payload):
            b = s.recv(1 << 16)
            assert b, "the stream was cut while draining"
            got += b
        assert got == payload
        assert c.proc.poll() is None, "exited with a stream open"
        s.shutdown(socket.SHUT_WR)
        assert cp.recv_all(s, 10 * SLOW) == b""
    rc = cp.wait_exit(c.proc, 10 + 2 * SLOW)
    assert rc == 0, c.log_text()
    assert time.monotonic() - t0 < 10 + 2 * SLOW


def test_sighup_reload_access_list(net):
    p = net.svc.ports
    c = net.connector("hup", "hup", [f"{INTRANET}:{p['echo']}"])
    with cp.connect(net.port("hup-echo")) as s:
        s.settimeout(10 * SLOW)
        s.sendall(b"one")
        assert s.recv(10) == b"one"
        # not allowed yet
        assert closed_without_data(net.port("hup-sink")) == b""
        c.configure(allow=[f"{INTRANET}:{p['echo']}", f"{INTRANET}:{p['sink']}"],
                    proxy=net.squid.url, bypass=[f".{INTRANET}"])
        before = c.log_offset()
        c.signal(signal.SIGHUP)
        c.wait_log(r"SIGHUP: reloaded .*2 access entries", 5 * SLOW, since=before)
        sent, count, got = cp.send_to_sink(net.port("hup-sink"), MB, timeout=10 * SLOW)
        assert (count, got) == (MB, sent)
        # the stream opened before the reload is still there
        s.sendall(b"two")
        assert s.recv(10) == b"two"
    assert c.proc.poll() is None


def test_revocation(net):
    c = net.connector("rev", "rev", [f"{INTRANET}:{net.svc.ports['echo']}"])
    serial = cp.cert_serial(os.path.join(c.state, "connector.pem"))
    with cp.connect(net.port("rev-echo")) as s:
        s.settimeout(10 * SLOW)
        s.sendall(b"ping")
        assert s.recv(10) == b"ping"
        before = net.cloud.log_offset()
        r = net.cloud.admin(["connector", "revoke", c.id])
        assert r.rc == 0, r
        t0 = time.monotonic()
        # The open stream is cut within 2 s.
        s.settimeout(3 * SLOW)
        try:
            while s.recv(1 << 16):
                pass
        except (ConnectionResetError, socket.timeout):
            pass
        assert time.monotonic() - t0 < 2.0 * SLOW, "the stream outlived the revocation"
    net.cloud.wait_log(rf"closing: connector {c.id} was revoked", 2 * SLOW, since=before)
    # It cannot come back: the cloud refuses its tunnels (the connector
    # keeps trying, it does not crash).
    refused = re.compile(rf"tunnel refused: connector {c.id} was revoked")

    def refused_or_dead():
        if c.proc.poll() is not None:
            raise AssertionError(f"the connector exited ({c.proc.returncode}) after the "
                                 "revocation" + cp.tail(c.log, 60))
        return refused.search(net.cloud.log_text(before))
    cp.wait_for(refused_or_dead, 15 * SLOW, "the cloud refused the revoked connector",
                on_fail=lambda: cp.tail(net.cloud.log) + cp.tail(c.log))
    assert closed_without_data(net.port("rev-echo")) == b""
    # The CRL lists it, signed by the cloud's CA.
    with urllib.request.urlopen(f"http://127.0.0.1:{net.cloud.http_port}/crl",
                                timeout=10) as resp:
        assert resp.status == 200
        crl = x509.load_der_x509_crl(resp.read())
    with open(os.path.join(net.cloud.data, "ca.pem"), "rb") as f:
        ca = x509.load_pem_x509_certificate(f.read())
    assert crl.is_signature_valid(ca.public_key())
    assert crl.get_revoked_certificate_by_serial_number(serial) is not None
    listed = [x for x in net.cloud.connectors() if x["id"] == c.id]
    assert listed and listed[0]["revoked_at"], listed
    assert c.stop() == 0, c.log_text()


# --------------------------------------------------------------------------
# bounded memory

@pytest.mark.skipif(SAN, reason="AddressSanitizer inflates resident memory (shadow memory, "
                    "quarantine): the 64 MB bound is checked in the normal build")
def test_bounded_memory_1gb_to_slow_reader(net):
    total = 1024 * MB
    pids = {"cloud": net.cloud.pid, "connector A": net.a.pid, "connector B": net.b.pid}
    peak = {k: 0 for k in pids}
    result = {}

    def send():
        try:
            result["r"] = cp.send_to_sink(net.port("slow"), total, timeout=90)
        except Exception as e:       # reported below
            result["e"] = e

    th = threading.Thread(target=send, daemon=True)
    t0 = time.monotonic()
    th.start()
    while th.is_alive() and time.monotonic() - t0 < 100:
        for k, pid in pids.items():
            peak[k] = max(peak[k], cp.rss_kb(pid) or 0)
        time.sleep(0.2)
    th.join(5)
    assert not th.is_alive(), "the transfer did not finish in 100 s"
    assert "e" not in result, result.get("e")
    sent, count, got = result["r"]
    assert count == total and got == sent
    assert time.monotonic() - t0 > total / (100 * MB) * 0.8, "the reader was not slow"
    print("peak VmRSS (KiB):", peak)
    for k, kb in peak.items():
        assert kb < 64 * 1024, f"{k} reached {kb / 1024:.1f} MB resident: {peak}"


# --------------------------------------------------------------------------
# renewal: a cloud of its own with short-lived certificates

RENEW_LIFETIME = 30      # seconds; renewal is due after 2/3 of the validity


@pytest.fixture(scope="module")
def renewal(workdir):
    """A cloud issuing 30 s certificates and one connector, started by the
    first test of the module so that the certificate ages while the others
    run. Also holds an echo stream open across the renewal."""
    prefix = cp.host_isolation(os.path.join(workdir, "tunnel-iso"))
    if not prefix:
        pytest.skip("needs root and unshare (private /etc/hosts)")
    d = os.path.join(workdir, "renewal")
    svc = cp.Services(os.path.join(d, "services")).start()
    cloud = cp.Cloud(os.path.join(d, "cloud"), cert_lifetime=f"{RENEW_LIFETIME}s",
                     publish={"echo": ("ren", f"{INTRANET}:{svc.ports['echo']}")})
    c = None
    stream = None
    try:
        cloud.init()
        cloud.write_conf()
        chk = cloud.run(["run", "--config", cloud.conf, "--check-config"])
        assert chk.rc == 0, chk
        cloud.start()
        c = cp.Connector(os.path.join(d, "ren"), name="ren", prefix=prefix)
        r = c.enroll(cloud.token("ren"))
        assert r.rc == 0, r
        c.configure(allow=[f"{INTRANET}:{svc.ports['echo']}"])
        c.start(wait_tunnels=2, timeout=30 * SLOW)
        pem = os.path.join(c.state, "connector.pem")
        c.first_serial = cp.cert_serial(pem)
        nb, na = cp.cert_validity(pem)
        c.first_due = nb + (na - nb) * 2 / 3          # wall clock
        c.enrolled_wall = time.time()
        stream = cp.connect(cloud.publish_ports["echo"])
        yield cloud, c, svc, stream
    finally:
        if stream is not None:
            stream.close()
        if c is not None:
            c.stop()
        cloud.stop(check=False)
        svc.stop()
        reports = cp.sanitizer_reports([cloud.log] + ([c.log] if c else []))
        assert not reports, "\n".join(reports)


def test_renewal(renewal):
    cloud, c, svc, stream = renewal
    pem = os.path.join(c.state, "connector.pem")
    assert c.first_due - c.enrolled_wall < RENEW_LIFETIME, \
        f"renewal is due {c.first_due - c.enrolled_wall:.0f} s after enrollment"
    stream.settimeout(10 * SLOW)
    stream.sendall(b"before renewal")
    assert stream.recv(100) == b"before renewal"
    # The connector renews by itself, around 2/3 of the validity (measured
    # from the certificate's notBefore, or from its issue when that is
    # backdated: the later of the two, plus a margin).
    due = max(c.first_due, c.enrolled_wall + RENEW_LIFETIME * 2 / 3)
    wait = due + 10 * SLOW - time.time()
    cp.wait_for(lambda: cp.cert_serial(pem) != c.first_serial, max(wait, 1.0),
                "the connector renewed its certificate", interval=0.25,
                on_fail=lambda: cp.tail(c.log))
    c.wait_log(r"certificate renewal: renewed", 5)
    # What the cloud lists is what the connector holds (retried: a later
    # renewal may land between the two reads).
    for _ in range(5):
        serial, na = cp.cert_serial(pem), cp.cert_validity(pem)[1]
        listed = [x for x in cloud.connectors() if x["name"] == "ren"]
        if cp.cert_serial(pem) == serial:
            break
    assert len(listed) == 1, listed
    assert int(listed[0]["cert_serial"], 16) == serial, listed
    assert listed[0]["not_after"] == na, (listed, na)
    assert os.stat(os.path.join(c.state, "connector.key")).st_mode & 0o777 == 0o600
    # Not a storm: at most one renewal per third of the lifetime.
    time.sleep(2)
    n = len(re.findall(r"renew from .*connector " + re.escape(listed[0]["id"]),
                       cloud.log_text()))
    elapsed = time.time() - c.enrolled_wall
    assert 1 <= n <= elapsed / (RENEW_LIFETIME / 3) + 1, f"{n} renewals in {elapsed:.0f} s"
    # The stream opened before the renewal still works, and so do new ones.
    stream.sendall(b"after renewal")
    assert stream.recv(100) == b"after renewal"
    assert cp.echo_once(cloud.publish_ports["echo"], b"new stream") == b"new stream"
    # After a restart the tunnels come up with the renewed certificate.
    stream.shutdown(socket.SHUT_WR)
    assert cp.recv_all(stream, 10 * SLOW) == b""
    assert c.stop() == 0
    before = cloud.log_offset()
    c.start(wait_tunnels=2, timeout=30 * SLOW)
    cloud.wait_log(r"tunnel up: connector", 5 * SLOW, since=before)
    assert cp.echo_once(cloud.publish_ports["echo"], b"restarted") == b"restarted"


# --------------------------------------------------------------------------
# make demo

DEMO = os.path.join(peers.REPO, "scripts", "demo")


def test_demo_once():
    r = subprocess.run([DEMO, "--once"], capture_output=True, text=True, timeout=120 * SLOW,
                       env=dict(peers.connector_env(), UPLINK_BUILD=peers.build_dir()))
    assert r.returncode == 0, r.stdout + r.stderr
    for what in ("connector-1 enrolled through squid", "connector-2 enrolled through squid",
                 "curl http://127.0.0.1:", "curl -x http://hq:KEY@127.0.0.1:",
                 "the same with CONNECT", "uplink-cloud connector list shows 2 connectors"):
        assert re.search(r"ok +" + re.escape(what), r.stdout), (what, r.stdout)
    assert "FAIL" not in r.stdout


def test_demo_ctrl_c_stops_everything():
    """The demo waits for Ctrl-C; SIGINT stops everything it started: none of
    the ports it printed accepts a connection afterwards."""
    proc = subprocess.Popen([DEMO], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True,
                            env=dict(peers.connector_env(), UPLINK_BUILD=peers.build_dir()))
    out = ""
    try:
        deadline = time.monotonic() + 120 * SLOW
        while "Press Ctrl-C" not in out and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            out += line
        assert "Press Ctrl-C" in out, out
        ports = {int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", out)}
        ports |= {int(p) for p in re.findall(r"localhost:(\d+)", out)}
        work = re.search(r"(/tmp/uplink-demo-\w+)/", out).group(1)
        assert len(ports) >= 5, out           # site, squid, cloud, published, ingress
        assert all(peers.port_open(p) for p in ports), out
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30 * SLOW)
        out += rest
        assert proc.returncode == 0, out
        assert "stopped everything the demo started" in out, out
        still = [p for p in ports if peers.port_open(p)]
        assert not still, f"still listening after Ctrl-C: {still}\n{out}"
        assert not os.path.exists(work), work
    finally:
        peers.stop_process(proc)
