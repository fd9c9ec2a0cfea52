"""The edge of a cluster (issue 14, sections 3 and 4; docs/cluster.md,
"Connectors", "HAProxy", "Stopping and failing").

PostgreSQL of the test's own (scripts/pg-test-server through
cloudpeers.ClusterFixture), three uplink-cloud instances i1..i3 on
loopback, a real HAProxy (Debian's, `haproxy -f CFG -db`) in front of them
as packaging/haproxy/uplink.cfg has it, and two connectors of one site:

  * each connector's two tunnels land on two different instances, the
    ones rendezvous hashing of its id picks (computed here again);
  * HAProxy's PROXY v2 header from a listed address carries the client's
    address into the instance (its log line names the client's 127.0.0.9);
    a header from an address proxy_from does not list is refused, and so
    is a connection without one from a listed address, each with a log line;
  * a rolling restart of every instance, one at a time, while a client
    opens connections through HAProxy to a published service
    continuously: zero failed connections, and the connectors' new
    tunnels come up before the old ones close;
  * kill -9 of one instance: connections through HAProxy succeed again
    and every connector is back on two instances, within 5x the targets
    (5 s, 10 s); the times are printed.

The connectors reach the instances through HAProxy: [cloud] url is
HAProxy's TLS port (no SNI: balanced), each instance's tunnel_address is
that port too and its tunnel_name (i1.cloud.test ...) routes by SNI.
HAProxy connects to the instances from 127.0.0.2, their proxy_from.
"""

import os
import re
import socket
import struct
import subprocess
import time

import pytest

import cloudpeers as cp

SAN = cp.SAN
SLOW = 3.0 if SAN else 1.0
BALANCER = cp.EDGE_BALANCER      # HAProxy's source address: proxy_from
CLIENT = "127.0.0.9"            # a client whose address must come through
IDS = cp.EDGE_IDS


def _have_pg():
    d = "/usr/lib/postgresql"
    return os.path.isdir(d) and any(os.path.exists(f"{d}/{v}/bin/initdb")
                                    for v in os.listdir(d))


pytestmark = [
    pytest.mark.skipif(not os.access(cp.cloud_path(), os.X_OK),
                       reason=f"{cp.cloud_path()} missing: run make"),
    pytest.mark.skipif(not _have_pg(),
                       reason="PostgreSQL is not installed: run scripts/install-deps"),
    pytest.mark.skipif(not os.access(cp.HAPROXY, os.X_OK),
                       reason="haproxy is not installed: run scripts/install-deps"),
]


# ---- the cluster, HAProxy and two connectors (cloudpeers.ClusterEdge)

tunnels_now = cp.tunnels_now
http_ready = cp.http_ready
echo_via = cp.echo_via


@pytest.fixture(scope="module")
def edge(workdir):
    e = cp.ClusterEdge(os.path.join(workdir, "edge"), slow=SLOW)
    try:
        e.start()
        yield e
    finally:
        reports = e.stop()
    assert not reports, "\n".join(reports)


def proxy_v2_header(src, sport, dst, dport):
    return (b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack("!H", 12)
            + socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport))


def closed_without_answer(port, data, source=None, timeout=10):
    s = socket.socket()
    s.settimeout(timeout)
    if source:
        s.bind((source, 0))
    s.connect((cp.LOOPBACK, port))
    with s:
        try:
            s.sendall(data)
            return cp.recv_all(s, timeout) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True


# ---- the tests

def test_tunnels_on_two_instances_by_rendezvous(edge):
    """Each connector's tunnel i is on the i-th instance of the rendezvous
    ranking of its id over i1..i3: two different instances."""
    for c in edge.conns:
        st = edge.wait_two(c, 30 * SLOW)
        rank = cp.rendezvous_rank(c.key, IDS)
        assert st == {"1": rank[0], "2": rank[1]}, (c.name, c.key, st, rank)
        assert re.search(rf"tunnel 1: up to instance {rank[0]} 127\.0\.0\.1:{edge.tls_port} "
                         rf"as {rank[0]}\.cloud\.test", c.log_text())


def test_cluster_list_for_connectors(edge):
    """GET /api/v1/cluster names every instance, its SNI and address."""
    r = edge.fx.api(0).get("/api/v1/cluster")
    assert r.status == 200, r
    got = {x["id"]: x for x in r.body["instances"]}
    assert set(got) == set(IDS)
    for i in IDS:
        assert got[i]["name"] == f"{i}.cloud.test"
        assert got[i]["address"] == f"{cp.LOOPBACK}:{edge.tls_port}"
        assert got[i]["state"] == "up"
    assert r.body["self"] == "i1"


def test_requirements_cover_the_instances(edge):
    """The cloud's required addresses gain a *.cloud.test row per instance,
    probed by its name: what connectors must reach, for firewalls and the
    check."""
    r = edge.fx.api(1).get("/api/v1/requirements")
    assert r.status == 200, r
    cloud = [s for s in r.body["services"] if s["name"] == "cloud"][0]
    rows = {a["probe"]: a for a in cloud["addresses"] if a["host"] == "*.cloud.test"}
    assert set(rows) == {f"{i}.cloud.test" for i in IDS}
    for i in IDS:
        assert rows[f"{i}.cloud.test"]["port"] == edge.tls_port
        assert rows[f"{i}.cloud.test"]["purpose"] == f"tunnels to instance {i}"


def test_proxy_v2_carries_the_client_address(edge):
    """Through HAProxy from 127.0.0.9, an instance logs 127.0.0.9 as the
    published service's client, not HAProxy's 127.0.0.2."""
    assert echo_via(edge.pub_port, source=CLIENT) == b"hello through the edge\n"
    pat = re.compile(r"publish echo: 127\.0\.0\.9:\d+ -> ")
    cp.wait_for(lambda: any(pat.search(c.log_text()) for c in edge.fx.clouds), 10 * SLOW,
                "a published connection logged from 127.0.0.9")
    for c in edge.fx.clouds:
        assert not re.search(r"publish echo: 127\.0\.0\.2:\d+ -> ", c.log_text())


def test_proxy_v2_refused_from_elsewhere(edge):
    """A PROXY header from 127.0.0.1 (not in proxy_from) and a connection
    without one from 127.0.0.2 (listed) are both closed, each logged."""
    i1 = edge.fx.clouds[0]
    off = i1.log_offset()
    hdr = proxy_v2_header("192.0.2.7", 5555, "127.0.0.1", i1.port)
    assert closed_without_answer(i1.port, hdr + b"\x16\x03\x01\x00\x05hello")
    i1.wait_log(r"refused 127\.0\.0\.1:\d+: a PROXY protocol header from an address "
                r"that proxy_from in \[cluster\] does not list", 10 * SLOW, since=off)
    assert closed_without_answer(i1.port, b"\x16\x03\x01\x00\x05hello" + b"\0" * 16,
                                 source=BALANCER)
    i1.wait_log(r"refused 127\.0\.0\.2:\d+: proxy_from in \[cluster\] lists this address, "
                r"so its connections must start with a PROXY protocol v2 header",
                10 * SLOW, since=off)
    # And the instance still serves HAProxy's clients.
    assert echo_via(edge.pub_port) == b"hello through the edge\n"


def test_rolling_restart_zero_failures(edge):
    """SIGTERM, restart, and wait for readiness, instance by instance, with
    a client opening connections through HAProxy all along: not one
    fails; each stopping instance's connectors open their new tunnel
    before the old one closes."""
    prober = cp.Prober(edge.pub_port, every=0.02, timeout=10 * SLOW,
                       max_seconds=240 * SLOW).start()
    try:
        prober.wait_ok(5, time.time() - 1, 20 * SLOW)
        for i, cloud in enumerate(edge.fx.clouds):
            offs = [c.log_offset() for c in edge.conns]
            had = [IDS[i] in tunnels_now(c).values() for c in edge.conns]
            t0 = time.time()
            assert cloud.stop(check=True, timeout=60 * SLOW) == 0
            cloud.start(timeout=30 * SLOW)
            cp.wait_for(lambda: http_ready(cloud), 30 * SLOW, f"{IDS[i]} ready again")
            # Healthy again before the next one: every connector back on
            # the instances its id ranks first.
            for c in edge.conns:
                edge.wait_rank(c, 40 * SLOW)
            for c, off, moved in zip(edge.conns, offs, had):
                if not moved:
                    continue
                text = c.log_text(off)
                m = re.search(rf"tunnel (\d+): moving away from instance {IDS[i]}: "
                              r"the instance asked", text)
                assert m, f"{c.name} was not asked to move off {IDS[i]}" + cp.tail(c.log)
                n = m.group(1)
                up = re.search(rf"tunnel {n}: up to instance (?!{IDS[i]})", text[m.end():])
                gone = re.search(rf"tunnel {n}: the tunnel it moved away from closed",
                                 text[m.end():])
                assert up and gone and up.start() < gone.start(), (
                    f"{c.name}: the new tunnel was not up before the old one closed"
                    + cp.tail(c.log))
            print(f"\n{IDS[i]} restarted in {time.time() - t0:.1f} s "
                  f"({prober.count(after=t0)} connections meanwhile)")
        prober.wait_ok(5, time.time(), 20 * SLOW)
    finally:
        attempts = prober.stop()
    bad = [a for a in attempts if not a.ok]
    print(f"rolling restart: {len(attempts)} connections through HAProxy, {len(bad)} failed")
    assert not bad, prober.summary()


def test_kill9_of_an_instance(edge):
    """kill -9 of the instance with the most of the connectors' tunnels:
    connections through HAProxy succeed again within 25 s (5x the 5 s
    target) and each connector is on two live instances again within 50 s
    (5x 10 s); connections started once it is dead do not fail."""
    counts = {i: 0 for i in IDS}
    # Settled: every connector on its rendezvous choice, and every
    # instance's view of the tunnel locations (re-read every second) has
    # caught up with the moves.
    for c in edge.conns:
        edge.wait_rank(c, 40 * SLOW)
    time.sleep(2)
    for c in edge.conns:
        edge.wait_rank(c, 1)
        for inst in tunnels_now(c).values():
            counts[inst] += 1
    victim = max(IDS, key=lambda i: counts[i])
    cloud = edge.fx.clouds[IDS.index(victim)]
    prober = cp.Prober(edge.pub_port, every=0.02, timeout=10 * SLOW,
                       max_seconds=120 * SLOW).start()
    try:
        prober.wait_ok(5, time.time() - 1, 20 * SLOW)
        offs = [c.log_offset() for c in edge.conns]
        t_kill = time.time()
        cloud.proc.kill()
        cloud.proc.wait(10)
        cloud.proc = None
        # Connections HAProxy handed the instance before it died are what
        # its death costs; those begun once it is gone must not fail.
        t_dead = time.time()
        prober.wait_ok(3, t_kill, 25 * SLOW)
        t_conn = min(a.end for a in prober.select(after=t_kill) if a.ok) - t_kill
        back = []
        for c, off in zip(edge.conns, offs):
            edge.wait_two(c, 50 * SLOW, avoid=(victim,))
            back.append(time.time() - t_kill)
        time.sleep(2)
    finally:
        prober.stop()
    late = prober.failures(after=t_dead)
    print(f"\nkill -9 of {victim} ({counts[victim]} tunnels): connections through HAProxy "
          f"succeeded again {t_conn:.2f} s after; connectors on two instances again "
          f"after {', '.join(f'{b:.2f} s' for b in back)}; "
          f"{len(prober.failures(before=t_kill))} failed before, "
          f"{len(prober.failures(after=t_kill, before=t_dead))} while it died, "
          f"{len(late)} after")
    assert t_conn <= 25 * SLOW
    assert max(back) <= 50 * SLOW
    assert not late, prober.summary(after=t_dead)
    cloud.start(timeout=30 * SLOW)


def test_shipped_haproxy_config_is_valid():
    """packaging/haproxy/uplink.cfg passes haproxy -c."""
    cfg = os.path.join(os.path.dirname(__file__), "..", "..", "packaging", "haproxy",
                       "uplink.cfg")
    r = subprocess.run([cp.HAPROXY, "-c", "-f", cfg], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
