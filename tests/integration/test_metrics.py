"""Issue 16, section 2: the cloud's Prometheus endpoint (docs/metrics.md).

One module network: the internal services, one uplink-cloud with
[metrics] listen on a free loopback port and allow = 127.0.0.1, publishing
"echo" (allowed by the connector) and "denied" (a target the connector
refuses), and one connector of site hq with one tunnel. A second cloud
without [metrics] shows that the endpoint is off by default. Clients bind
127.0.0.2 to be an address outside the allow list.

promtool (Debian's prometheus package) checks a scrape taken after
traffic, and a real Prometheus started by the test scrapes the endpoint;
its HTTP API must say up == 1 and return an uplink series.
"""

import http.client
import json
import os
import re
import shutil
import subprocess
import urllib.parse
import urllib.request

import pytest

import cloudpeers as cp
import peers
from apiclient import Client

SAN = cp.SAN
SLOW = 3.0 if SAN else 1.0
INTRANET = cp.INTRANET
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CTYPE = "text/plain; version=0.0.4; charset=utf-8"

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
        self.mport = peers.free_port()
        self.cloud = cp.Cloud(
            os.path.join(self.dir, "cloud"),
            publish={"echo": ("hq", f"{INTRANET}:{p['echo']}"),
                     "denied": ("hq", f"{INTRANET}:{p['http']}")},
            options={"metrics": {"listen": f"127.0.0.1:{self.mport}",
                                 "allow": "127.0.0.1"},
                     "limits": {"ping_interval": "1s"}})
        self.cloud.init().start()
        self.full = self.cloud.key("full")
        self.conn = cp.Connector(os.path.join(self.dir, "hq"), name="hq-a", prefix=self.prefix)
        self.before_enroll = scrape(self)
        r = self.conn.enroll(self.cloud.token("hq"))
        assert r.rc == 0, r
        self.conn.configure(allow=[f"{INTRANET}:{p['echo']}"], tunnels=1,
                            run={"ping_interval": "1s"})
        self.conn.start(wait_tunnels=1, timeout=30 * SLOW)
        conns = self.cloud.connectors()
        conns = conns.get("connectors", conns) if isinstance(conns, dict) else conns
        self.connector_id = conns[0]["id"]
        return self

    def stop(self):
        cp.stop_network([self.conn] if self.conn else [], self.cloud, [self.svc])

    def api(self, key=None):
        return Client(self.cloud.port, ca=os.path.join(self.cloud.data, "ca.pem"),
                      key=key or self.full)

    def key(self, name, scope):
        r = self.cloud.admin(["key", "create", "--name", name, "--scope", scope, "--json"])
        assert r.rc == 0 and r.json, r
        assert r.json["scope"] == scope
        return r.json["key"]


@pytest.fixture(scope="module")
def net(workdir):
    prefix = cp.isolation_or_skip(os.path.join(workdir, "metrics-iso"))
    n = Net(os.path.join(workdir, "metrics"), prefix)
    try:
        n.start()
        yield n
    finally:
        n.stop()


def get(port, path="/metrics", src="127.0.0.1", key=None, timeout=10):
    """GET from src: (status, headers dict (lowercase names), body text)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout * SLOW,
                                   source_address=(src, 0))
    try:
        c.request("GET", path, headers={"Authorization": f"Bearer {key}"} if key else {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode()
    finally:
        c.close()


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{(name, ((label, value), ...)): float} of a text-format body."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = tuple(sorted(LABEL.findall(m.group(2) or "")))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def scrape(net, **kw):
    status, headers, body = get(net.mport, **kw)
    assert status == 200, (status, body)
    return parse(body)


def value(samples, name, **labels):
    """The sum of name's samples whose labels include labels."""
    total, seen = 0.0, False
    for (n, ls), v in samples.items():
        d = dict(ls)
        if n == name and all(d.get(k) == v2 for k, v2 in labels.items()):
            total += v
            seen = True
    assert seen, f"no sample {name}{labels}"
    return total


def wait_value(net, pred, what, timeout=30):
    """Scrapes until pred(samples) holds; returns the samples."""
    box = {}

    def check():
        box["s"] = scrape(net)
        return pred(box["s"])
    cp.wait_for(check, timeout * SLOW, what, interval=0.3)
    return box["s"]


def test_off_by_default(workdir):
    """No [metrics] section: no log line, and the daemon listens on nothing
    but its TLS, HTTP and ingress ports (and its private UNIX sockets)."""
    c = cp.Cloud(os.path.join(workdir, "metrics-off"))
    c.init().start()
    try:
        tcp = [s for s in cp.listening_sockets(c.pid) if s.startswith("tcp")]
        ports = sorted(int(s.split(":")[-1], 16) for s in tcp)
        assert ports == sorted([c.port, c.http_port, c.ingress_port]), tcp
        assert "metrics:" not in c.log_text()
    finally:
        c.stop()


def test_config_errors(workdir):
    """[metrics] keys are checked with FILE:LINE and how to fix."""
    c = cp.Cloud(os.path.join(workdir, "metrics-conf"))
    c.init()
    cases = [
        ("allow = 10.1.2.3/8", "has host bits set"),
        ("allow = 10.0.0.0/33", "prefix length of 10.0.0.0 must be 0 to 32"),
        ("allow = not-an-address", "is not an IPv4 or IPv6 address"),
        ("allow = ,", "[metrics] allow is empty"),
        ("instance = a b", "[metrics] instance"),
        ("listen = 127.0.0.1", "has no port"),
        ("bogus = 1", "unknown key \"bogus\" in [metrics]"),
        (f"listen = 127.0.0.1:{c.http_port}", "collides with"),
    ]
    for line, want in cases:
        c.extra_conf = f"\n[metrics]\nlisten = 127.0.0.1:{peers.free_port()}\n" \
            if not line.startswith("listen") else "\n[metrics]\n"
        c.extra_conf += line + "\n"
        if hasattr(c, "conf"):
            del c.conf
        conf = c.write_conf()
        r = c.run(["run", "--config", conf, "--check-config"])
        assert r.rc != 0, (line, r)
        assert want in r.stderr and "cloud.conf:" in r.stderr, (line, r.stderr)
    # a good one passes
    c.extra_conf = f"\n[metrics]\nlisten = 127.0.0.1:{peers.free_port()}\n" \
        "allow = 127.0.0.1, 10.0.0.0/8 ::1 fd00::/8\ninstance = cloud-eu-1\n"
    del c.conf
    r = c.run(["run", "--config", c.write_conf(), "--check-config"])
    assert r.rc == 0, r


def test_allow_list(net):
    """127.0.0.1 is allowed without a key; 127.0.0.2 is refused (403) and
    the refusal is counted."""
    status, headers, body = get(net.mport)
    assert status == 200 and headers["content-type"] == CTYPE
    assert "uplink_cloud_info{" in body
    status, _, body = get(net.mport, src="127.0.0.2")
    assert status == 403 and "[metrics] allow" in body
    status, _, _ = get(net.mport, path="/other")
    assert status == 404
    assert value(scrape(net), "uplink_metrics_refused_total") >= 1
    net.cloud.wait_log(r"metrics: 127\.0\.0\.2:\d+: refused")


def test_connection_cap(net):
    """Four kept-alive connections per client address (the fifth gets 503
    and is counted); a slot comes back when a connection closes."""
    def one(c):
        c.request("GET", "/metrics")
        r = c.getresponse()
        r.read()
        return r.status

    held = [http.client.HTTPConnection("127.0.0.1", net.mport, timeout=10 * SLOW,
                                       source_address=("127.0.0.4", 0)) for _ in range(4)]
    extra = None
    try:
        # 127.0.0.4 is not allowed: 403, but each connection holds a slot
        assert [one(c) for c in held] == [403] * 4
        extra = http.client.HTTPConnection("127.0.0.1", net.mport, timeout=10 * SLOW,
                                           source_address=("127.0.0.4", 0))
        assert one(extra) == 503
        extra.close()
        assert get(net.mport)[0] == 200          # other addresses are served
        held.pop().close()

        def again():
            c = http.client.HTTPConnection("127.0.0.1", net.mport, timeout=10 * SLOW,
                                           source_address=("127.0.0.4", 0))
            try:
                return one(c) == 403
            finally:
                c.close()
        cp.wait_for(again, 10 * SLOW, "a slot back after a close", interval=0.2)
    finally:
        for c in held:
            c.close()


def test_keys(net):
    """From 127.0.0.2 (not allowed): a metrics key (CLI or API) and a full
    key work; a read key gets 403, a wrong key 401. The metrics key does
    not open the API."""
    mkey = net.key("prom", "metrics")
    rkey = net.key("reader", "read")
    r = net.api().post("/api/v1/keys", {"name": "prom-api", "scope": "metrics"})
    assert r.status in (200, 201), r
    akey = r.body["key"]
    assert r.body["scope"] == "metrics"
    for k in (mkey, akey, net.full):
        status, headers, body = get(net.mport, src="127.0.0.2", key=k)
        assert status == 200 and headers["content-type"] == CTYPE, (status, body)
    status, _, body = get(net.mport, src="127.0.0.2", key=rkey)
    assert status == 403 and "scope read" in body
    status, headers, body = get(net.mport, src="127.0.0.2", key="uk_" + "0" * 12 + "_" + "A" * 43)
    assert status == 401 and "bearer" in headers.get("www-authenticate", "").lower()
    r = net.api(mkey).get("/api/v1/connectors")
    assert r.status == 403, r
    listed = [k for k in net.api().get("/api/v1/keys").body["keys"] if k["name"] == "prom"]
    assert listed and listed[0]["scope"] == "metrics"


def test_values_move(net):
    """A connector connected: its state, tunnels, version and the counters
    of enrollment and handshakes moved; a stream through the echo service
    moves the stream counters and bytes by at least what was sent; a
    refused target counts as refused; a check counts by verdict; pings
    fill the RTT histogram."""
    before = net.before_enroll
    s = wait_value(net, lambda s: value(s, "uplink_connectors", state="online") == 1,
                   "connector online in /metrics")
    assert value(s, "uplink_tunnels") >= 1
    assert value(s, "uplink_connector_tunnels", connector=net.connector_id, site="hq") == 1
    assert value(s, "uplink_connector_tunnels_declared", connector=net.connector_id) == 1
    assert value(s, "uplink_connector_info", connector=net.connector_id) == 1
    assert value(s, "uplink_enrollments_total", result="ok") == \
        value(before, "uplink_enrollments_total", result="ok") + 1
    assert value(s, "uplink_tls_handshakes_total", result="ok") > \
        value(before, "uplink_tls_handshakes_total", result="ok")
    assert value(s, "uplink_tunnels_opened_total") >= 1
    # every series carries instance_id, the same everywhere
    ids = {dict(ls).get("instance_id") for (_, ls) in s}
    assert len(ids) == 1 and None not in ids, ids

    n = 1 << 20
    payload = os.urandom(n)
    got = cp.echo_once(net.cloud.publish_ports["echo"], payload, timeout=30 * SLOW)
    assert got == payload
    # a target outside the connector's allow list: the open is refused
    with cp.connect(net.cloud.publish_ports["denied"]) as sock:
        sock.settimeout(20 * SLOW)
        try:
            while sock.recv(4096):
                pass
        except OSError:
            pass

    def moved(a):
        return (value(a, "uplink_tunnel_bytes_total", direction="out")
                - value(s, "uplink_tunnel_bytes_total", direction="out") >= n
                and value(a, "uplink_tunnel_bytes_total", direction="in")
                - value(s, "uplink_tunnel_bytes_total", direction="in") >= n
                and value(a, "uplink_streams_total", outcome="refused") >= 1)
    a = wait_value(net, moved, "bytes and streams counted")
    assert value(a, "uplink_streams_total", outcome="ok") >= \
        value(s, "uplink_streams_total", outcome="ok") + 1
    assert value(a, "uplink_stream_open_seconds_count") >= \
        value(s, "uplink_stream_open_seconds_count") + 2
    assert value(a, "uplink_stream_open_seconds_bucket", le="+Inf") == \
        value(a, "uplink_stream_open_seconds_count")
    assert value(a, "uplink_tunnel_streams_total") >= 2

    checks = sum(v for (nm, _), v in a.items() if nm == "uplink_checks_total")
    api = net.api()
    api.timeout = 90 * SLOW
    r = api.post(f"/api/v1/connectors/{net.connector_id}/check")
    assert r.status == 200, r
    verdict = "passed" if r.body["ok"] else "failed"
    a = scrape(net)
    assert sum(v for (nm, _), v in a.items() if nm == "uplink_checks_total") >= checks + 1
    assert value(a, "uplink_checks_total", verdict=verdict) >= 1

    wait_value(net, lambda x: value(x, "uplink_tunnel_rtt_seconds_count") >= 1,
               "an RTT sample")


def test_promtool(net, tmp_path):
    """Debian's promtool: a scrape after traffic passes, without a lint
    warning."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool missing: scripts/install-deps installs Debian's prometheus")
    status, _, body = get(net.mport)
    assert status == 200
    r = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "" and r.stderr.strip() == "", \
        (r.returncode, r.stdout, r.stderr)
    # the histograms' buckets are cumulative and end with +Inf
    s = parse(body)
    for h in ("uplink_stream_open_seconds", "uplink_tunnel_rtt_seconds"):
        buckets = sorted(((float(dict(ls)["le"]), v) for (nm, ls), v in s.items()
                          if nm == h + "_bucket"))
        assert buckets[-1][0] == float("inf")
        assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), buckets


def prom_query(port, q, timeout=10):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": q})
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def test_prometheus_scrapes(net, tmp_path):
    """A real Prometheus (Debian's) scrapes the endpoint from 127.0.0.1 with
    the metrics key: up == 1, and uplink_tunnels comes back with its
    instance_id."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus missing: scripts/install-deps installs Debian's prometheus")
    key = net.key("prometheus", "metrics")
    keyfile = tmp_path / "key"
    keyfile.write_text(key)
    keyfile.chmod(0o600)
    conf = tmp_path / "prometheus.yml"
    conf.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: uplink\n"
        f"    authorization:\n      credentials_file: {keyfile}\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{net.mport}']\n")
    port = peers.free_port()
    log = str(tmp_path / "prometheus.log")
    proc = cp.spawn([binary, f"--config.file={conf}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                     f"--web.listen-address=127.0.0.1:{port}"], log)
    try:
        def up():
            if proc.poll() is not None:
                raise cp.PeerError(f"prometheus exited ({proc.returncode})" + cp.tail(log))
            try:
                r = prom_query(port, 'up{job="uplink"}')
            except OSError:
                return False
            res = r.get("data", {}).get("result", [])
            return bool(res) and res[0]["value"][1] == "1"
        cp.wait_for(up, 90 * SLOW, "prometheus: up == 1", interval=0.5,
                    on_fail=lambda: cp.tail(log))

        def series():
            res = prom_query(port, 'uplink_tunnels{job="uplink"}')["data"]["result"]
            return res if res else None
        res = cp.wait_for(series, 30 * SLOW, "prometheus: uplink_tunnels", interval=0.5,
                          on_fail=lambda: cp.tail(log))
        assert res[0]["metric"]["instance_id"] == f"127.0.0.1:{net.cloud.port}"
        assert float(res[0]["value"][1]) >= 1
    finally:
        peers.stop_process(proc, timeout=10)
    assert proc.poll() is not None


def test_grafana_dashboard(net):
    """docs/grafana-dashboard.json is JSON, and every uplink_ family its
    queries use is one the endpoint serves."""
    with open(os.path.join(ROOT, "docs", "grafana-dashboard.json")) as f:
        dash = json.load(f)
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    assert exprs
    served = {nm for (nm, _) in scrape(net)}
    for e in exprs:
        for name in re.findall(r"\buplink_[a-z_]+", e):
            assert name in served, (name, e)
