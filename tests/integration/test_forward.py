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
import signal
import socket
import subprocess
import threading
import time

import pytest

import apiclient
import cloudpeers as cp

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


class Forward:
    """cloudpeers.ClusterFixture with two instances a (i1) and b (i2) that
    publish the same services of two sites; connector left has its
    tunnels on a only, right on b only."""

    def __init__(self, workdir):
        self.dir = workdir
        self.svc = None
        self.fx = None
        self.connectors = []

    def publish_map(self):
        p = self.svc.ports
        return {f"{site}-{n}": (site, f"{cp.LOOPBACK}:{p[n]}")
                for site in ("left", "right")
                for n in ("echo", "sink", "source", "slow", "mute")}

    def allow(self):
        p = self.svc.ports
        return [f"{cp.LOOPBACK}:{p[n]}" for n in ("echo", "sink", "source", "slow", "mute")]

    def connector(self, name, i):
        c = cp.Connector(os.path.join(self.dir, name), name=name)
        self.connectors.append(c)
        r = c.enroll(self.fx.token(name))
        assert r.rc == 0, r
        c.configure(allow=self.allow(), tunnels=2)
        self.fx.point(c, i)
        c.id = [x["id"] for x in self.a.connectors() if x["name"] == name][-1]
        c.start(wait_tunnels=2, timeout=30 * SLOW)
        return c

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        self.svc = cp.Services(os.path.join(self.dir, "services"), slow_rate=20 * MB).start()
        self.fx = cp.ClusterFixture(os.path.join(self.dir, "cluster"), n=2, lease="3s",
                                    publish=self.publish_map())
        self.fx.start()
        self.a, self.b = self.fx.clouds
        self.a.peer_port, self.b.peer_port = self.fx.peer_ports
        self.a.wait_log(r"peer link to instance i2 \S+ up", 15 * SLOW)
        self.b.wait_log(r"peer link to instance i1 \S+ up", 15 * SLOW)
        self.key = self.fx.key
        self.right = self.connector("right", 1)
        self.left = self.connector("left", 0)
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
        """Stops everything; raises (a teardown error) when a daemon did
        not exit 0 on SIGTERM or a log holds a sanitizer report."""
        errors = []
        try:
            for c in self.connectors:
                running = c.proc is not None and c.proc.poll() is None
                rc = c.stop(timeout=10)
                if running and rc != 0:
                    errors.append(f"connector {c.name}: exit {rc} on SIGTERM")
            for cloud in (self.fx.clouds if self.fx is not None else []):
                try:
                    cloud.stop(check=True)
                except cp.PeerError as e:
                    errors.append(str(e))
        finally:
            if self.fx is not None:
                self.fx.stop()
            if self.svc is not None:
                self.svc.stop()
        logs = [c.log for c in self.connectors] + \
            [c.log for c in (self.fx.clouds if self.fx else []) if hasattr(c, "log")]
        errors += cp.sanitizer_reports([p for p in logs if os.path.exists(p)])
        if errors:
            raise AssertionError("\n".join(errors))


@pytest.fixture(scope="module")
def cl(workdir):
    # AddressSanitizer keeps 256 MiB of freed memory in quarantine, which
    # would hide what test_bounded_memory_forwarded_slow_reader measures:
    # the instances of this module keep 4 MiB.
    asan = os.environ.get("ASAN_OPTIONS")
    if SAN:
        os.environ["ASAN_OPTIONS"] = ((asan + ":") if asan else "") + \
            "quarantine_size_mb=4:thread_local_quarantine_size_kb=64"
    c = Forward(os.path.join(workdir, "forward"))
    try:
        c.start()
        c.wait_located(c.a, "right")
        c.wait_located(c.b, "left")
        yield c
    finally:
        c.stop()
        if asan is None:
            os.environ.pop("ASAN_OPTIONS", None)
        else:
            os.environ["ASAN_OPTIONS"] = asan


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

def test_idle_instances_do_not_keep_rebuilding_the_crl(cl):
    """Regression: each CRL rebuild takes a new CRL number (a write that
    moves the data version); the instances reacted to each other's and
    kept rebuilding a hundred times a second, their event loops waiting on
    PostgreSQL (a forwarded round trip took 5 ms instead of 0.1 ms). Now
    the CRL is rebuilt only when the revoked serials change."""
    def number():
        return cl.a.db("SELECT value FROM settings WHERE key = 'crl_number'")[0][0]
    first = int(number())
    time.sleep(3)
    assert int(number()) - first <= 2, (first, number())


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


def test_half_close_target_first_forwarded(cl):
    """The target ends its side at once (mute); the client, through a,
    still sends 1 MiB and then ends its own: the target gets every byte.
    Each END_STREAM crosses the join on b in its own order."""
    before = len(cl.svc.stats("mute")["results"])
    payload = os.urandom(MB)
    with cp.connect(cl.a.publish_ports["right-mute"]) as s:
        s.settimeout(10 * SLOW)
        assert s.recv(1) == b""
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        cp.wait_for(lambda: len(cl.svc.stats("mute")["results"]) > before, 10 * SLOW,
                    "the target's end of file")
    got = cl.svc.stats("mute")["results"][-1]
    import hashlib
    assert got == {"count": MB, "sha256": hashlib.sha256(payload).hexdigest()}, got


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
    # Taken before b stops: the connector may have its tunnels back before
    # a logs its peer link up, and both must count.
    since_right = cl.right.log_offset()
    cl.b.stop()
    cl.a.wait_log(r"peer link to instance i2 \S+ (down|closed)", 15 * SLOW, since=since_a)
    cl.b.start()
    cl.a.wait_log(r"peer link to instance i2 \S+ up", 30 * SLOW, since=since_a)
    cl.right.wait_tunnels(2, 30 * SLOW, since=since_right)
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


class PeerClient:
    """This test as an instance on a peer link (an instance certificate
    made with the cloud's CA key), speaking HTTP/2 with python3-h2."""

    def __init__(self, cloud, port, cert, key):
        import ssl
        import h2.config
        import h2.connection
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.load_verify_locations(os.path.join(cloud.data, "ca.pem"))
        ctx.check_hostname = False
        ctx.load_cert_chain(cert, key)
        ctx.set_alpn_protocols([PEER_ALPN])
        raw = socket.create_connection((cp.LOOPBACK, port), timeout=10 * SLOW)
        self.sock = ctx.wrap_socket(raw)
        assert self.sock.selected_alpn_protocol() == PEER_ALPN
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=True, validate_outbound_headers=False, validate_inbound_headers=False))
        self.h2.initiate_connection()
        self.flush()

    def flush(self):
        data = self.h2.data_to_send()
        if data:
            self.sock.sendall(data)

    def connect(self, target, headers=()):
        sid = self.h2.get_next_available_stream_id()
        self.h2.send_headers(sid, [(":method", "CONNECT"), (":authority", target)]
                             + list(headers))
        self.flush()
        return sid

    def answer(self, sid, timeout=10):
        """The response headers of stream sid as a dict, or "reset"."""
        import h2.events
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline:
            data = self.sock.recv(65536)
            if not data:
                return "closed"
            for ev in self.h2.receive_data(data):
                if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid:
                    return {k.decode(): v.decode() for k, v in ev.headers}
                if isinstance(ev, h2.events.StreamReset) and ev.stream_id == sid:
                    return "reset"
            self.flush()
        raise TimeoutError(f"no answer on stream {sid}")

    def close(self):
        self.sock.close()


def test_peer_streams_make_one_hop(cl):
    """What b does with CONNECTs on a peer link (the test poses as
    instance i1): one for the right site (its connector is on b) is
    answered 200; one for the left site, whose connector is on i1, gets
    503 no-connector instead of going back over another link; one without
    uplink-site gets 400 no-site; an uplink-site longer than 63 bytes
    resets the stream."""
    pytest.importorskip("h2")
    cert, key = instance_certificate(cl.a, os.path.join(cl.dir, "as-i1"), "i1")
    pc = PeerClient(cl.b, cl.b.peer_port, cert, key)
    try:
        echo = f"{cp.LOOPBACK}:{cl.svc.ports['echo']}"
        ok = pc.answer(pc.connect(echo, [("uplink-site", "right")]))
        assert ok != "reset" and ok[":status"] == "200", ok
        far = pc.answer(pc.connect(echo, [("uplink-site", "left")]))
        assert far != "reset" and far[":status"] == "503", far
        assert far.get("uplink-error") == "no-connector", far
        none = pc.answer(pc.connect(echo))
        assert none != "reset" and none[":status"] == "400", none
        assert none.get("uplink-error") == "no-site", none
        long = pc.answer(pc.connect(echo, [("uplink-site", "x" * 64)]))
        assert long == "reset", long
    finally:
        pc.close()


@pytest.fixture(scope="module")
def trio(workdir, cl):
    """Three instances of their own; site pair has connector p2 on i2 and
    p3 on i3, and i1 (none of its tunnels) publishes its echo."""
    d = os.path.join(workdir, "forward-trio")
    os.makedirs(d, exist_ok=True)
    echo = f"{cp.LOOPBACK}:{cl.svc.ports['echo']}"
    slow = f"{cp.LOOPBACK}:{cl.svc.ports['slow']}"
    fx = cp.ClusterFixture(os.path.join(d, "cluster"), n=3, lease="3s",
                           publish={"pair-echo": ("pair", echo),
                                    "pair-slow": ("pair", slow)})
    conns = []
    try:
        fx.start()
        for name, i in (("p2", 1), ("p3", 2)):
            c = cp.Connector(os.path.join(d, name), name=name)
            conns.append(c)
            assert c.enroll(fx.token("pair")).rc == 0
            c.configure(allow=[echo, slow], tunnels=2)
            fx.point(c, i)
            c.start(wait_tunnels=2, timeout=30 * SLOW)
        fx.clouds[0].wait_log(r"peer link to instance i3 \S+ up", 15 * SLOW)
        yield fx, conns
    finally:
        for c in conns:
            c.stop(check=False)
        fx.stop()


def test_kill_9_of_a_peer_streams_go_to_the_other(trio):
    """Both connectors of site pair are on other instances than i1. After
    kill -9 of i2 (its link drops at once, its lease runs out 3 s later),
    every stream through i1 goes to p3 on i3: none fails."""
    fx, conns = trio
    i1, i2 = fx.clouds[0], fx.clouds[1]
    port = i1.publish_ports["pair-echo"]
    cp.wait_for(lambda: cp.echo_once(port, b"x\n", timeout=5 * SLOW) == b"x\n",
                15 * SLOW, "a stream through i1")
    since = i1.log_offset()
    os.kill(i2.pid, signal.SIGKILL)
    i2.proc.wait(10)
    failures = []
    t0 = time.monotonic()
    n = 0
    while time.monotonic() - t0 < 6 * SLOW and n < 300:
        payload = os.urandom(1024)
        try:
            if cp.echo_once(port, payload, timeout=10 * SLOW) != payload:
                failures.append(n)
        except OSError as e:
            failures.append((n, str(e)))
        n += 1
    assert n >= 20, n
    assert not failures, (failures, i1.log_text(since)[-3000:])
    i1.wait_log(r"peer link to instance i2 \S+ down", 10 * SLOW, since=since)
    assert "tunnel up: connector" not in i1.log_text(since)


def test_sigterm_of_the_forwarding_instance_lets_its_stream_finish(trio):
    """i1 forwards a 60 MB upload to a reader taking 20 MB/s (3 s) and gets
    SIGTERM a second in: it lets the stream finish (the target counts every
    byte, same SHA-256), then exits 0. Runs last: i1 is gone after."""
    fx, conns = trio
    i1 = fx.clouds[0]
    total = 60 * MB
    result = {}

    def send():
        try:
            result["r"] = cp.send_to_sink(i1.publish_ports["pair-slow"], total,
                                          timeout=60 * SLOW)
        except Exception as e:       # reported below
            result["e"] = e
    th = threading.Thread(target=send, daemon=True)
    t0 = time.monotonic()
    th.start()
    time.sleep(1.0)
    assert th.is_alive(), "the transfer ended before the signal"
    os.kill(i1.pid, signal.SIGTERM)
    th.join(60 * SLOW)
    assert not th.is_alive()
    assert "e" not in result, result.get("e")
    sent, count, got = result["r"]
    assert count == total and got == sent
    assert time.monotonic() - t0 > total / (20 * MB) * 0.8, "the reader was not slow"
    assert i1.proc.wait(30 * SLOW) == 0
    assert "stopping: every tunnel is closed" in i1.log_text()
