"""The connector behind a firewall that only lets it talk to the proxy.

Three network namespaces made for the run (names uplink-t-PID-conn,
-proxy, -cloud), joined by veth pairs with private addresses that exist
only inside them:

    conn 10.250.1.2 ---- 10.250.1.1 proxy 10.250.2.1 ---- 10.250.2.2 cloud
    (connector,          (squid :3128, forwards IP       (uplink-cloud :443,
     internal site on     too, so only the firewall       :80, published
     127.0.0.1)           stops a direct connection)      service :9000)

The connector's namespace has an nftables output policy of drop, accepting
only loopback and TCP to squid's port. The cloud and its client are in
the cloud namespace. Namespaces, and whatever runs in them, are removed in
a finalizer even when a test fails.
"""

import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

import cloudpeers as cp
import peers

NET_CONN, NET_CLOUD = "10.250.1", "10.250.2"
PROXY_IP, CONN_IP = f"{NET_CONN}.1", f"{NET_CONN}.2"
PROXY_IP2, CLOUD_IP = f"{NET_CLOUD}.1", f"{NET_CLOUD}.2"
SQUID_PORT = 3128
PUBLISH_PORT = 9000
SLOW = 3.0 if cp.SAN else 1.0

IP = shutil.which("ip") or "/usr/sbin/ip"
NFT = shutil.which("nft") or "/usr/sbin/nft"


def _can_netns():
    if os.geteuid() != 0:
        return "needs root (creates network namespaces)"
    if not os.access(IP, os.X_OK) or not os.access(NFT, os.X_OK):
        return "needs ip (iproute2) and nft (nftables)"
    probe = f"uplink-t-{os.getpid()}-probe"
    r = subprocess.run([IP, "netns", "add", probe], capture_output=True, text=True)
    if r.returncode != 0:
        return f"ip netns is unavailable here: {r.stderr.strip()}"
    subprocess.run([IP, "netns", "del", probe], capture_output=True)
    return None


def sh(*cmd, ns=None, check=True, timeout=30):
    full = ([IP, "netns", "exec", ns] if ns else []) + [str(c) for c in cmd]
    r = subprocess.run(full, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise cp.PeerError(f"$ {' '.join(full)}\nexit {r.returncode}\n{r.stdout}{r.stderr}")
    return r


def in_ns(ns):
    return [IP, "netns", "exec", ns]


NFT_RULES = """
table inet uplink_test {{
    chain output {{
        type filter hook output priority 0; policy drop;
        oif "lo" accept
        ip daddr {proxy} tcp dport {port} accept
        counter comment "dropped"
    }}
}}
"""


class Topology:
    """The three namespaces, their links and the connector's firewall."""

    def __init__(self):
        pid = os.getpid()
        self.prefix = f"uplink-t-{pid}-"
        self.conn, self.proxy, self.cloud = (self.prefix + n for n in ("conn", "proxy", "cloud"))
        self.made = []
        tag = pid % 100000
        self.veth = {"cp": f"ut{tag}cp", "pc": f"ut{tag}pc",
                     "pk": f"ut{tag}pk", "kp": f"ut{tag}kp"}

    def create(self):
        for ns in (self.conn, self.proxy, self.cloud):
            sh(IP, "netns", "add", ns)
            self.made.append(ns)
            sh(IP, "link", "set", "lo", "up", ns=ns)
        v = self.veth
        sh(IP, "link", "add", v["cp"], "netns", self.conn, "type", "veth",
           "peer", "name", v["pc"], "netns", self.proxy)
        sh(IP, "link", "add", v["pk"], "netns", self.proxy, "type", "veth",
           "peer", "name", v["kp"], "netns", self.cloud)
        for ns, dev, addr in ((self.conn, v["cp"], f"{CONN_IP}/24"),
                              (self.proxy, v["pc"], f"{PROXY_IP}/24"),
                              (self.proxy, v["pk"], f"{PROXY_IP2}/24"),
                              (self.cloud, v["kp"], f"{CLOUD_IP}/24")):
            sh(IP, "addr", "add", addr, "dev", dev, ns=ns)
            sh(IP, "link", "set", dev, "up", ns=ns)
        # The proxy namespace routes between the two: without the firewall,
        # the connector could reach the cloud directly.
        sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=self.proxy)
        sh(IP, "route", "add", "default", "via", PROXY_IP, ns=self.conn)
        sh(IP, "route", "add", "default", "via", PROXY_IP2, ns=self.cloud)
        rules = NFT_RULES.format(proxy=PROXY_IP, port=SQUID_PORT)
        r = subprocess.run(in_ns(self.conn) + [NFT, "-f", "-"], input=rules,
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise cp.PeerError(f"nft -f failed: {r.stderr}")
        return self

    def destroy(self):
        for ns in reversed(self.made):
            # whatever we started in there goes with it
            r = subprocess.run([IP, "netns", "pids", ns], capture_output=True, text=True)
            for p in r.stdout.split():
                try:
                    os.kill(int(p), 9)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run([IP, "netns", "del", ns], capture_output=True)
        self.made = []


class NsSquid:
    """squid -N in the proxy namespace, listening on PROXY_IP:3128 and
    accepting clients from the connector's subnet only."""

    def __init__(self, ns):
        self.ns = ns
        self.proc = None
        self.url = f"http://{PROXY_IP}:{SQUID_PORT}"

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="uplink-squid-ns-")
        os.chmod(self.dir, 0o755)
        pw = pwd.getpwnam("proxy")
        os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        with open(os.path.join(self.dir, "hosts"), "w") as f:
            f.write("127.0.0.1 localhost\n")
        conf = peers.SQUID_CONF.format(
            listen=f"{PROXY_IP}:{SQUID_PORT}", dir=self.dir,
            user="cache_effective_user proxy\ncache_effective_group proxy")
        conf = conf.replace("acl localsrc src 127.0.0.1/32 ::1",
                            f"acl localsrc src {NET_CONN}.0/24")
        path = os.path.join(self.dir, "squid.conf")
        with open(path, "w") as f:
            f.write(conf)
        for p in ("cache.log", "access.log"):
            open(os.path.join(self.dir, p), "a").close()
            os.chown(os.path.join(self.dir, p), pw.pw_uid, pw.pw_gid)
        self.access_log = os.path.join(self.dir, "access.log")
        self.proc = cp.spawn(in_ns(self.ns) + [peers.SQUID, "-N", "-f", path],
                             os.path.join(self.dir, "stderr.log"))
        cp.wait_for(lambda: self._listening(), 30, "squid listening in the proxy namespace",
                    interval=0.2, on_fail=lambda: cp.tail(os.path.join(self.dir, "cache.log")))
        return self

    def _listening(self):
        if self.proc.poll() is not None:
            raise cp.PeerError("squid exited" + cp.tail(os.path.join(self.dir, "cache.log")))
        r = sh("ss", "-ltnH", ns=self.ns, check=False)
        return f"{PROXY_IP}:{SQUID_PORT}" in r.stdout

    def stop(self):
        peers.stop_process(self.proc)
        if os.environ.get("UPLINK_KEEP_PEER_DIRS") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)


CLIENT = r"""
import json, sys
sys.path.insert(0, {here!r})
import cloudpeers as cp
port = {port}
out = {{}}
status, body = cp.http_get(port, "/netns", host="{host}")
out["http"] = [status, cp.INDEX_MARK in body]
payload = bytes(range(256)) * 4096
out["echo"] = cp.echo_once(port + 1, payload, host="{host}") == payload
sent, count, got = cp.send_to_sink(port + 2, 50 << 20, 60, host="{host}")
out["sink"] = [count, got == sent]
print(json.dumps(out))
"""

DIRECT = r"""
import socket, sys, time
t = time.monotonic()
try:
    socket.create_connection(("{host}", {port}), timeout=3).close()
    print("connected")
except socket.timeout:
    print("timeout %.1f" % (time.monotonic() - t))
except OSError as e:
    print("error", e)
"""


@pytest.fixture(scope="module")
def netns(workdir):
    why = _can_netns()
    if why:
        pytest.skip(why)
    for b in (cp.cloud_path(), peers.connector_path()):
        if not os.access(b, os.X_OK):
            pytest.fail(f"{b} not found: build it first", pytrace=False)
    topo = Topology()
    d = os.path.join(workdir, "netns")
    os.makedirs(d, exist_ok=True)
    squid = svc = cloud = conn = None
    try:
        topo.create()
        squid = NsSquid(topo.proxy).start()
        # the internal site, in the connector's namespace, on its loopback
        svc = cp.Services(os.path.join(d, "services"), prefix=in_ns(topo.conn)).start()
        p = svc.ports
        cloud = cp.Cloud(os.path.join(d, "cloud"), names=CLOUD_IP, listen=CLOUD_IP,
                         prefix=in_ns(topo.cloud),
                         publish={"web": ("branch", f"intranet.test:{p['http']}"),
                                  "echo": ("branch", f"intranet.test:{p['echo']}"),
                                  "sink": ("branch", f"intranet.test:{p['sink']}")})
        cloud.init(port=443, http_port=80)
        cloud.publish_ports = {"web": PUBLISH_PORT, "echo": PUBLISH_PORT + 1,
                               "sink": PUBLISH_PORT + 2}
        cloud.start()
        iso = cp.host_isolation(os.path.join(d, "iso"))
        conn = cp.Connector(os.path.join(d, "conn"), name="branch-1",
                            prefix=in_ns(topo.conn) + iso)
        yield topo, squid, svc, cloud, conn
    finally:
        if conn is not None:
            conn.stop(timeout=10)
        if cloud is not None:
            cloud.stop(check=False)
        if svc is not None:
            svc.stop()
        if squid is not None:
            squid.stop()
        topo.destroy()
    reports = cp.sanitizer_reports([x.log for x in (cloud, conn) if x is not None
                                    and hasattr(x, "log")])
    assert not reports, "\n".join(reports)


def test_netns_direct_path_is_dropped(netns):
    topo, squid, svc, cloud, conn = netns
    # From the proxy namespace the cloud is reachable ...
    r = sh(sys.executable, "-c", DIRECT.format(host=CLOUD_IP, port=443), ns=topo.proxy)
    assert r.stdout.strip() == "connected", r
    # ... from the connector's namespace a direct connection times out.
    r = sh(sys.executable, "-c", DIRECT.format(host=CLOUD_IP, port=443), ns=topo.conn)
    assert r.stdout.startswith("timeout"), r


def test_netns_enroll_run_and_stream(netns):
    topo, squid, svc, cloud, conn = netns
    # Without the proxy, enrollment cannot get out.
    r = conn.enroll(cloud.token("branch"), extra=["--timeout", "3s"], timeout=30 * SLOW)
    assert r.rc == 1, r
    # Through squid it works.
    r = conn.enroll(cloud.token("branch"), env={"HTTPS_PROXY": squid.url,
                                                "NO_PROXY": ".intranet.test"})
    assert r.rc == 0, r
    assert f"server = {squid.url}" in open(conn.conf).read()
    p = svc.ports
    conn.configure(allow=[f"intranet.test:{p['http']}", f"intranet.test:{p['echo']}",
                          f"intranet.test:{p['sink']}"],
                   proxy=squid.url, bypass=[".intranet.test"])
    conn.start(wait_tunnels=2, timeout=30 * SLOW)
    ups = re.findall(r"tunnel \d+: up to (.*)", conn.log_text())
    assert all(f"proxy {squid.url}" in u for u in ups), ups
    cloud.wait_log(r"site has 2 tunnels over 1 connector", 10 * SLOW)

    # A client in the cloud's namespace reaches the internal site.
    r = sh(sys.executable, "-c", CLIENT.format(here=cp.HERE, port=PUBLISH_PORT, host=CLOUD_IP),
           ns=topo.cloud, timeout=120 * SLOW)
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out == {"http": [200, True], "echo": True, "sink": [50 << 20, True]}, r

    # The connector listens on nothing, in its namespace.
    ss = sh("ss", "-ltunxp", ns=topo.conn)
    assert f"pid={conn.pid}," not in ss.stdout, ss.stdout
    assert cp.listening_sockets(conn.pid) == []

    # Squid carried the enrollment (its CONNECT has ended, so it is logged).
    text = cp.read_text(squid.access_log)
    assert f"CONNECT {CLOUD_IP}:443" in text, text
