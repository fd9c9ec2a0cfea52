"""Forwarding between the instances of a cluster (issue 14, section 3;
docs/cluster.md, "Forwarding").

One PostgreSQL server (scripts/pg-test-server) and two uplink-cloud
instances on loopback sharing its database, "a" and "b", each with its
own ports and [cluster] peer_listen. Connector "right" has its tunnels on
b only, connector "left" on a only; each instance publishes services of
the site whose connector is on the other one, so every stream here makes
one hop over a peer link:

  * a published service and the ingress proxy on a reach the connector on
    b: 100 MB each way with equal SHA-256; and the reverse, b to a;
  * an on-demand check asked of a's API runs on the connector on b;
  * a connector's certificate is refused on the peer port, an instance's
    certificate as a connector's;
  * the peer link comes back after b restarts, and streams flow again;
  * a forwarded 100 MB stream to a slow reader keeps both instances'
    resident memory bounded.
"""

import base64
import datetime
import os
import shutil
import socket
import subprocess
import threading
import time

import pytest

import apiclient
import cloudpeers as cp
import peers

SAN = cp.SAN
SLOW = 3.0 if SAN else 1.0
MB = 1 << 20
PEER_ALPN = "uplink-peer/1"

pytestmark = [
    pytest.mark.skipif(not os.access(cp.cloud_path(), os.X_OK),
                       reason=f"{cp.cloud_path()} missing: run make"),
    pytest.mark.skipif(not any(os.path.exists(f"/usr/lib/postgresql/{v}/bin/initdb")
                               for v in os.listdir("/usr/lib/postgresql"))
                       if os.path.isdir("/usr/lib/postgresql") else True,
                       reason="PostgreSQL is not installed: run scripts/install-deps"),
]


def token_for(token, url_from, url_to):
    """The same token with the cloud URL of another instance (same length:
    the ports have as many digits), checksum made again."""
    p = cp.token_payload(token)
    a, b = url_from.encode(), url_to.encode()
    assert len(a) == len(b), (url_from, url_to)
    i = bytes(p).find(a)
    assert i > 0
    p[i:i + len(a)] = b
    return cp.token_encode(p)


def five_digit_port():
    for _ in range(100):
        port = peers.free_port()
        if port >= 10000:
            return port
    raise RuntimeError("no free port with five digits")


class Cluster:
    """PostgreSQL, instances a and b, services, connectors left (on a) and
    right (on b)."""

    def __init__(self, workdir):
        self.dir = workdir
        self.pg = None
        self.svc = None
        self.a = self.b = None
        self.connectors = []

    def publish_map(self, site):
        p = self.svc.ports
        t = cp.LOOPBACK
        return {f"{site}-{n}": (site, f"{t}:{p[n]}")
                for n in ("echo", "sink", "source", "slow")}

    def allow(self):
        p = self.svc.ports
        return [f"{cp.LOOPBACK}:{p[n]}" for n in ("echo", "sink", "source", "slow")]

    def instance(self, name, first=None, publish=None):
        d = os.path.join(self.dir, name)
        os.makedirs(d, exist_ok=True)
        peer = peers.free_port()
        opts = {"store": {"url": self.db},
                "cluster": {"instance": name, "peer_listen": f"{cp.LOOPBACK}:{peer}"}}
        c = cp.Cloud(d, publish=publish, options=opts)
        c.peer_port = peer
        if first is None:
            c.init(port=five_digit_port())
        else:
            # Another instance of the same cloud: the same CA, its own ports.
            c.data = os.path.join(d, "data")
            shutil.copytree(first.data, c.data)
            c.port = five_digit_port()
            c.http_port = peers.free_port()
            c.url = f"https://{cp.LOOPBACK}:{c.port}"
        return c

    def connector(self, name, site, on):
        c = cp.Connector(os.path.join(self.dir, name), name=name)
        self.connectors.append(c)
        tok = token_for(self.a.token(site), self.a.url, on.url)
        r = c.enroll(tok)
        assert r.rc == 0, r
        c.configure(allow=self.allow(), tunnels=2)
        c.id = [x["id"] for x in self.a.connectors() if x["name"] == name][-1]
        c.start(wait_tunnels=2, timeout=30 * SLOW)
        return c

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        self.pg = cp.PgServer(os.path.join(self.dir, "pg")).start()
        self.db = self.pg.database()
        self.svc = cp.Services(os.path.join(self.dir, "services"), slow_rate=20 * MB).start()
        # a publishes the right site's services (connector on b), b the left's.
        self.a = self.instance("a", publish=self.publish_map("right"))
        self.b = self.instance("b", first=self.a, publish=self.publish_map("left"))
        self.a.start()
        self.b.start()
        self.a.wait_log(r"peer link to instance b \S+ up", 15 * SLOW)
        self.b.wait_log(r"peer link to instance a \S+ up", 15 * SLOW)
        self.key = self.a.key("tests")
        self.right = self.connector("right", "right", self.b)
        self.left = self.connector("left", "left", self.a)
        return self

    def wait_located(self, inst, site, timeout=15):
        """Until a stream for site through inst's published echo works
        (the other instance's tunnel locations have reached it)."""
        port = inst.publish_ports[f"{site}-echo"]

        def ok():
            try:
                return cp.echo_once(port, b"ping\n", timeout=5 * SLOW) == b"ping\n"
            except OSError:
                return False
        cp.wait_for(ok, timeout * SLOW, f"a stream for site {site} through {inst.dir}",
                    interval=0.3)

    def stop(self):
        try:
            cp.stop_network(self.connectors, self.a, [self.svc])
        finally:
            try:
                if self.b is not None:
                    self.b.stop()
            finally:
                if self.pg is not None:
                    self.pg.stop()


@pytest.fixture(scope="module")
def cl(workdir):
    c = Cluster(os.path.join(workdir, "forward"))
    try:
        c.start()
        c.wait_located(c.a, "right")
        c.wait_located(c.b, "left")
        yield c
    finally:
        c.stop()


def connect_via_ingress(cloud, site, key, port, timeout=20):
    """A socket through cloud's ingress proxy (CONNECT) to 127.0.0.1:port."""
    auth = base64.b64encode(f"{site}:{key}".encode()).decode()
    s = cp.connect(cloud.ingress_port, timeout=timeout)
    target = f"{cp.LOOPBACK}:{port}"
    s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n"
              f"Proxy-Authorization: Basic {auth}\r\n\r\n".encode())
    head = b""
    s.settimeout(timeout)
    while b"\r\n\r\n" not in head:
        b = s.recv(1)
        assert b, head
        head += b
    assert head.startswith(b"HTTP/1.1 200"), head
    return s


def sink_over(sock, total, timeout):
    """send_to_sink() over an open socket: (sent_sha, count, sha)."""
    import hashlib
    block = os.urandom(MB)
    h = hashlib.sha256()
    sent = 0
    sock.settimeout(timeout)
    while sent < total:
        part = block[:min(len(block), total - sent)]
        sock.sendall(part)
        h.update(part)
        sent += len(part)
    sock.shutdown(socket.SHUT_WR)
    ans = cp.recv_all(sock, timeout).decode().split()
    return h.hexdigest(), int(ans[0]), ans[1]


def source_over(sock, total, timeout):
    """fetch_from_source() over an open socket: (count, sha, trailer)."""
    import hashlib
    h = hashlib.sha256()
    sock.settimeout(timeout)
    sock.sendall(f"{total}\n".encode())
    data = cp.recv_all(sock, timeout)
    body, trailer = data[:-64], data[-64:]
    h.update(body)
    return len(body), h.hexdigest(), trailer.decode(errors="replace")


# --------------------------------------------------------------------------

def test_connectors_have_tunnels_on_one_instance_only(cl):
    a, b = cl.a.log_text(), cl.b.log_text()
    assert f"tunnel up: connector {cl.right.id}" in b
    assert f"tunnel up: connector {cl.right.id}" not in a
    assert f"tunnel up: connector {cl.left.id}" in a
    assert f"tunnel up: connector {cl.left.id}" not in b


def test_published_on_a_100mb_upload(cl):
    sent, count, got = cp.send_to_sink(cl.a.publish_ports["right-sink"], 100 * MB,
                                       timeout=60 * SLOW)
    assert count == 100 * MB and got == sent


def test_published_on_a_100mb_download(cl):
    count, sha, trailer = cp.fetch_from_source(cl.a.publish_ports["right-source"],
                                               100 * MB, timeout=60 * SLOW)
    assert count == 100 * MB and sha == trailer


def test_ingress_on_a_100mb_both_ways(cl):
    with connect_via_ingress(cl.a, "right", cl.key, cl.svc.ports["sink"]) as s:
        sent, count, got = sink_over(s, 100 * MB, 60 * SLOW)
    assert count == 100 * MB and got == sent
    with connect_via_ingress(cl.a, "right", cl.key, cl.svc.ports["source"]) as s:
        count, sha, trailer = source_over(s, 100 * MB, 60 * SLOW)
    assert count == 100 * MB and sha == trailer


def test_reverse_b_to_a_100mb_both_ways(cl):
    sent, count, got = cp.send_to_sink(cl.b.publish_ports["left-sink"], 100 * MB,
                                       timeout=60 * SLOW)
    assert count == 100 * MB and got == sent
    count, sha, trailer = cp.fetch_from_source(cl.b.publish_ports["left-source"],
                                               100 * MB, timeout=60 * SLOW)
    assert count == 100 * MB and sha == trailer


def test_check_on_demand_via_a(cl):
    """POST /api/v1/connectors/ID/check on a for the connector whose tunnels
    are on b: the check runs there and its report comes back."""
    k = apiclient.Client(cl.a.port, os.path.join(cl.a.data, "ca.pem"), key=cl.key,
                         timeout=30 * SLOW)
    r = k.post(f"/api/v1/connectors/{cl.right.id}/check")
    assert r.status == 200, r
    assert r.body["connector"] == cl.right.id, r.json
    assert "report" in r.body and r.body["report"], r.body
    cl.right.wait_log(r"check", 10 * SLOW)


def openssl_client(port, cert, key, ca, alpn, wait=3.0):
    """openssl s_client with a client certificate: sends the HTTP/2
    preface and waits (at most wait seconds) for the server to close;
    returns its output."""
    p = subprocess.Popen(["openssl", "s_client", "-connect", f"{cp.LOOPBACK}:{port}",
                          "-cert", cert, "-key", key, "-CAfile", ca, "-alpn", alpn,
                          "-tls1_3", "-ign_eof"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    try:
        out, _ = p.communicate(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", timeout=wait * SLOW)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    return out.decode(errors="replace")


def test_connector_certificate_refused_on_peer_port(cl):
    since = cl.b.log_offset()
    openssl_client(cl.b.peer_port, os.path.join(cl.right.state, "connector.pem"),
                   os.path.join(cl.right.state, "connector.key"),
                   os.path.join(cl.b.data, "ca.pem"), PEER_ALPN)
    cl.b.wait_log(r"peer link from 127\.0\.0\.1:\d+ refused: its certificate is not "
                  r"an instance's", 10 * SLOW, since=since)
    assert "peer link from instance" not in cl.b.log_text(since)


def instance_certificate(cloud, workdir, ident):
    """An instance certificate as cloud/peer.c makes them, signed with the
    cloud's CA key: CN instance:ID and the URI urn:uplink:instance:ID."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    with open(os.path.join(cloud.data, "ca.key"), "rb") as f:
        ca_key = serialization.load_pem_private_key(f.read(), None)
    with open(os.path.join(cloud.data, "ca.pem"), "rb") as f:
        ca = x509.load_pem_x509_certificate(f.read())
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                        f"instance:{ident}")]))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .add_extension(x509.ExtendedKeyUsage([
                ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), False)
            .add_extension(x509.SubjectAlternativeName([
                x509.UniformResourceIdentifier(f"urn:uplink:instance:{ident}")]), False)
            .sign(ca_key, hashes.SHA256()))
    os.makedirs(workdir, exist_ok=True)
    cpath, kpath = os.path.join(workdir, "instance.pem"), os.path.join(workdir, "instance.key")
    with open(cpath, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(kpath, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cpath, kpath


def test_instance_certificate_refused_as_connector(cl):
    cert, key = instance_certificate(cl.a, os.path.join(cl.dir, "rogue"), "rogue")
    since = cl.b.log_offset()
    openssl_client(cl.b.port, cert, key, os.path.join(cl.b.data, "ca.pem"),
                   "uplink-tunnel/1")
    cl.b.wait_log(r"tunnel refused: an instance certificate is not a connector's",
                  10 * SLOW, since=since)
    # On the peer port it is an instance's, but of no instance the cluster
    # lists: refused there too.
    since = cl.b.log_offset()
    openssl_client(cl.b.peer_port, cert, key, os.path.join(cl.b.data, "ca.pem"), PEER_ALPN)
    cl.b.wait_log(r"peer link from 127\.0\.0\.1:\d+ refused: instance rogue is not in the "
                  r"cluster", 10 * SLOW, since=since)
    assert "peer link from instance rogue" not in cl.b.log_text(since)


def test_peer_link_back_after_b_restarts(cl):
    since_a = cl.a.log_offset()
    cl.b.stop()
    cl.a.wait_log(r"peer link to instance b \S+ (down|closed)", 15 * SLOW, since=since_a)
    cl.b.start()
    cl.a.wait_log(r"peer link to instance b \S+ up", 30 * SLOW, since=since_a)
    cl.right.wait_tunnels(2, 30 * SLOW, since=cl.right.log_offset() - 1)
    cl.wait_located(cl.a, "right", timeout=30)
    payload = os.urandom(MB)
    assert cp.echo_once(cl.a.publish_ports["right-echo"], payload,
                        timeout=20 * SLOW) == payload


def test_bounded_memory_forwarded_slow_reader(cl):
    """100 MB through a (forwarded to b) to a reader taking 20 MB/s: the
    sender is slowed end to end, and neither instance buffers it."""
    total = 100 * MB
    pids = {"instance a": cl.a.pid, "instance b": cl.b.pid}
    base = {k: cp.rss_kb(p) or 0 for k, p in pids.items()}
    peak = dict(base)
    result = {}

    def send():
        try:
            result["r"] = cp.send_to_sink(cl.a.publish_ports["right-slow"], total,
                                          timeout=60 * SLOW)
        except Exception as e:       # reported below
            result["e"] = e

    th = threading.Thread(target=send, daemon=True)
    t0 = time.monotonic()
    th.start()
    while th.is_alive() and time.monotonic() - t0 < 70 * SLOW:
        for k, pid in pids.items():
            peak[k] = max(peak[k], cp.rss_kb(pid) or 0)
        time.sleep(0.1)
    th.join(5)
    assert not th.is_alive(), "the transfer did not finish"
    assert "e" not in result, result.get("e")
    sent, count, got = result["r"]
    assert count == total and got == sent
    assert time.monotonic() - t0 > total / (20 * MB) * 0.8, "the reader was not slow"
    print("VmRSS (KiB) before:", base, "peak:", peak)
    for k, kb in peak.items():
        assert kb - base[k] < 32 * 1024, f"{k} grew by {(kb - base[k]) / 1024:.1f} MB: {peak}"
