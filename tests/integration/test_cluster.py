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
    through A stops new streams on B, which logs that it was drained
    elsewhere (LISTEN/NOTIFY hint; measured);
  * a console session made on A is valid on B; failed sign-ins on A and B
    add up to one limit;
  * PostgreSQL frozen longer than the lease: renewal failure logged once,
    the three up again after it;
  * a service published through A follows the store on B;
  * the LISTEN connections killed on the server: listening again, with a
    full reaction, and hints again;
  * the console's Instances page and a connector's tunnels per instance,
    axe-core clean.
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
        reports = cl.stop()
    assert not reports, "\n".join(reports)


def wait_instances(cl, i, pred, timeout, what):
    """Polls GET /api/v1/instances on instance i until pred(instances)."""
    last = {}

    def check():
        nonlocal last
        try:
            last = cl.instances(i)
        except cp.PeerError as e:     # 503 while the database comes back
            last = {"error": str(e)}
            return False
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
    # Idle instances do not keep each other busy: a CRL rebuild takes a
    # number (a write, a hint to the others), so they must not rebuild for
    # each other's rebuilds.
    crl = "SELECT value FROM settings WHERE key = 'crl_number'"
    n0 = int(cl.clouds[0].db(crl)[0][0])
    time.sleep(2)
    n1 = int(cl.clouds[0].db(crl)[0][0])
    assert n1 - n0 <= 3, (n0, n1)


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
        # Whichever of i1 and i2 noticed first marked it gone in the
        # database and deleted its locations.
        cp.wait_for(lambda: any("cluster: instance i3 is gone: its lease ran out"
                                in c.log_text() for c in cl.clouds[:2]),
                    5 * SLOW, "i1 or i2 marking i3 gone")
        assert cl.clouds[0].db("SELECT state FROM instances WHERE id = 'i3'") == [("gone",)]
        assert cl.clouds[0].db("SELECT count(*) FROM tunnel_locations "
                               "WHERE instance = 'i3'") == [(0,)]
        r = cl.api(0).get(f"/api/v1/connectors/{cid}")
        assert r.body["instances"] == [], r
    finally:
        conn.stop()


def test_revocation_and_drain_reach_other_instances(workdir):
    """Drain, resume and revoke through i1's API; the connector's tunnels
    are on i2, whose published service stops and resumes taking streams,
    and whose tunnels close. The hint (LISTEN/NOTIFY) makes it quick; the
    bound asserted is the poll's, 5x."""
    d = os.path.join(workdir, "cl-revoke")
    svc = cp.Services(os.path.join(d, "services")).start()
    echo = svc.ports["echo"]
    cl = cp.ClusterFixture(d, n=3, publish={"echo": ("hq", f"127.0.0.1:{echo}")})
    conn = None
    try:
        cl.start()
        for c in cl.clouds:
            c.wait_log(r"cluster: listening for changes", 10 * SLOW)
        conn = cp.Connector(os.path.join(d, "gw"), name="gw")
        assert conn.enroll(cl.token("hq")).rc == 0
        conn.configure(allow=[f"127.0.0.1:{echo}"], tunnels=2)
        cl.point(conn, 1)
        conn.start(wait_tunnels=2, timeout=30 * SLOW)
        cid = [c["id"] for c in cl.api(0).get("/api/v1/connectors").body["connectors"]][0]
        b_port = cl.clouds[1].publish_ports["echo"]
        assert cp.echo_once(b_port, b"ping\n", timeout=10 * SLOW) == b"ping\n"

        def refused():
            try:
                return cp.echo_once(b_port, b"ping\n", timeout=5 * SLOW) != b"ping\n"
            except OSError:
                return True

        # Drain on i1: i2 takes no new stream through it, and says why.
        since = cl.clouds[1].log_offset()
        r = cl.api(0).post(f"/api/v1/connectors/{cid}/drain", {})
        assert r.status == 200, r
        t0 = time.monotonic()
        cp.wait_for(refused, 5 * SLOW, "i2 refusing streams after the drain on i1",
                    interval=0.02)
        drain_took = time.monotonic() - t0
        cl.clouds[1].wait_log(rf"connector {cid}: drained elsewhere \(another instance or "
                              r"the CLI\): no new streams", 5 * SLOW, since=since)
        r = cl.api(0).post(f"/api/v1/connectors/{cid}/resume", {})
        assert r.status == 200, r
        cp.wait_for(lambda: not refused(), 5 * SLOW, "i2 taking streams after resume",
                    interval=0.02)
        cl.clouds[1].wait_log(rf"connector {cid}: resumed elsewhere", 5 * SLOW, since=since)

        # Revoke on i1: i2 closes the connector's tunnels.
        since = cl.clouds[1].log_offset()
        t_req = time.time()
        r = cl.api(0).post(f"/api/v1/connectors/{cid}/revoke", {})
        assert r.status == 200, r
        m = cl.clouds[1].wait_log(rf"closing: connector {cid} was revoked", 5 * SLOW,
                                  since=since)
        line = cl.clouds[1].log_text(since)[:m.end()].splitlines()[-1]
        revoke_took = cp.log_time(line) - t_req
        print(f"\nrevocation on i1 -> tunnels closing on i2: {revoke_took * 1000:.0f} ms; "
              f"drain on i1 -> first refused stream on i2: {drain_took * 1000:.0f} ms")
        assert revoke_took < 5 * SLOW, revoke_took
        conn.wait_log(r"revoked", 10 * SLOW)
        assert refused()
    finally:
        if conn is not None:
            conn.stop()
        reports = cl.stop()
        svc.stop()
    assert not reports, "\n".join(reports)


def test_sessions_and_signin_limits_across_instances(cluster):
    """A console session made on i1 works on i2 and, signed out there, no
    longer on i1; failed sign-ins on i1 and i2 add up to one limit (5 free
    per account): 3 on i1 and at most 3 on i2 are enough for a 429 on i2,
    which alone would have allowed 5."""
    import apiclient
    cl = cluster
    cl.clouds[0].add_admin("ana@example.net", "correct horse battery staple")
    cl.clouds[0].add_admin("bo@example.net", "another horse battery staple")
    ca = os.path.join(cl.clouds[0].data, "ca.pem")

    def client(i):
        return apiclient.Client(cl.clouds[i].port, ca, timeout=30 * SLOW)

    on_a = client(0)
    r = on_a.sign_in("ana@example.net", "correct horse battery staple")
    assert r.status == 201, r
    on_b = client(1)
    on_b.cookies = dict(on_a.cookies)
    on_b.csrf = on_a.csrf
    r = on_b.get("/api/v1/session")
    assert r.status == 200 and r.body["admin"]["email"] == "ana@example.net", r
    r = on_b.post("/api/v1/sites", {"name": "made-on-i2"})
    assert r.status == 201, r
    r = on_b.sign_out()
    assert r.status in (200, 204), r
    r = on_a.get("/api/v1/session")
    assert r.status == 401, r

    for _ in range(3):
        r = client(0).sign_in("bo@example.net", "wrong password, long enough")
        assert r.status == 401, r
    statuses = []
    for _ in range(3):
        r = client(1).sign_in("bo@example.net", "wrong password, long enough")
        statuses.append(r.status)
        if r.status == 429:
            break
    assert statuses[-1] == 429, statuses
    assert "too many failed sign-ins" in str(r.body), r
    r = client(1).sign_in("bo@example.net", "another horse battery staple")
    assert r.status == 429, r


def test_frozen_database_cluster_recovers(workdir):
    """PostgreSQL frozen (SIGSTOP) for longer than the lease: each instance
    logs once that it cannot renew, the API answers (503: the key cannot
    be checked) within a bound instead of hanging, and after SIGCONT the
    three are up again everywhere."""
    d = os.path.join(workdir, "cl-frozen")
    cl = cp.ClusterFixture(d, n=3, lease="2s", options={"store": {"timeout": "1s"}})
    try:
        cl.start()
        for i in range(3):
            wait_instances(cl, i, lambda v: len(v) == 3 and
                           all(x["state"] == "up" for x in v.values()),
                           10 * SLOW, f"three up on {cl.ids[i]}")
        since = [c.log_offset() for c in cl.clouds]
        cl.pg.freeze()
        try:
            time.sleep(5)
            t0 = time.monotonic()
            r = cl.api(0).get("/api/v1/instances")
            assert r.status == 503, r
            assert time.monotonic() - t0 < 5 * SLOW
        finally:
            cl.pg.thaw()
        for i in range(3):
            wait_instances(cl, i, lambda v: len(v) == 3 and
                           all(x["state"] == "up" for x in v.values()),
                           20 * SLOW, f"three up again on {cl.ids[i]}")
        for c, off in zip(cl.clouds, since):
            text = c.log_text(off)
            assert text.count("cannot renew the lease") <= 1, text
            assert "another process with its id" not in text, text
            assert "database unavailable" in text, text
    finally:
        reports = cl.stop()
    assert not reports, "\n".join(reports)


def test_console_instances(cluster, workdir):
    """The console of i1 in Chromium (tests/browser/console.mjs, steps
    signin, instances and every page): the Instances page lists the three
    up, the connector page says its tunnels are on i2, and axe-core finds
    no serious or critical violation on any page, the Instances table
    included."""
    import subprocess
    import test_console as tc
    if not tc.NODE or not os.access(tc.CHROMIUM, os.X_OK):
        pytest.skip("node or Chromium is not installed: run scripts/install-deps")
    tc.ensure_playwright()
    cl = cluster
    cl.clouds[0].add_admin(tc.EMAIL, tc.PASSWORD)
    conn, cid = connector_on(cl, os.path.join(workdir, "console"), "gw", 1)
    try:
        wait_instances(cl, 0, lambda v: len(v) == 3 and v["i2"]["tunnels"] == 2, 10 * SLOW,
                       "i1 counting the tunnels on i2")
        data = cl.clouds[0].data
        env = dict(os.environ,
                   UPLINK_CONSOLE_URL=cl.clouds[0].url + "/",
                   UPLINK_CONSOLE_SPKI=",".join(tc.spki_sha256(os.path.join(data, f))
                                                for f in ("ca.pem", "server.pem")),
                   UPLINK_ADMIN_EMAIL=tc.EMAIL, UPLINK_ADMIN_PASSWORD=tc.PASSWORD,
                   UPLINK_SITE="hq", UPLINK_CONNECTORS=cid,
                   UPLINK_ARTIFACTS=os.path.join(workdir, "console-artifacts"),
                   UPLINK_CHROMIUM=tc.CHROMIUM,
                   UPLINK_INSTANCES=",".join(cl.ids), UPLINK_INSTANCE_OF_CONNECTOR="i2")
        r = subprocess.run([tc.NODE, "--test", "--test-reporter=spec",
                            "--test-name-pattern=^(signin|instances|every-page-desktop|every-page-phone)$",
                            tc.SCRIPT], cwd=tc.BROWSER_DIR, env=env, capture_output=True, text=True,
                           timeout=tc.RUN_TIMEOUT)
        assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
        assert re.search(r"✔ instances", r.stdout), r.stdout
    finally:
        conn.stop()


def test_published_service_follows_the_store(workdir):
    """A service published through i1's API: i2, on the same machine,
    cannot take its address and says so once; once i1 has stopped, the
    next change anywhere makes i2 publish it (streams flow through i2's
    connector); deleted through i2, it stops listening."""
    d = os.path.join(workdir, "cl-publish")
    svc = cp.Services(os.path.join(d, "services")).start()
    echo = svc.ports["echo"]
    # Without SO_REUSEPORT (on by default in a cluster: both would listen).
    cl = cp.ClusterFixture(d, n=2, cluster={"reuseport": "no"})
    conn = None
    try:
        cl.start()
        conn = cp.Connector(os.path.join(d, "gw"), name="gw")
        assert conn.enroll(cl.token("hq")).rc == 0
        conn.configure(allow=[f"127.0.0.1:{echo}"], tunnels=2)
        cl.point(conn, 1)
        conn.start(wait_tunnels=2, timeout=30 * SLOW)
        port = cp.peers.free_port()
        r = cl.api(0).post("/api/v1/services", {"name": "web", "site": "hq",
                                                "target": f"127.0.0.1:{echo}",
                                                "listen": f"127.0.0.1:{port}"})
        assert r.status == 201, r
        b = cl.clouds[1]
        b.wait_log(r"publish web \(made through the API\): not published on this "
                   r"instance", 5 * SLOW)
        # More changes: still one line.
        cl.token("hq")
        cl.token("hq")
        time.sleep(1.5)
        assert b.log_text().count("publish web (made through the API): not published") == 1
        since = b.log_offset()
        assert cl.clouds[0].stop() == 0
        cl.token("hq")          # a change made by another process (the CLI)
        b.wait_log(rf"publish web: listening on 127\.0\.0\.1:{port}", 5 * SLOW, since=since)
        assert cp.echo_once(port, b"through i2\n", timeout=10 * SLOW) == b"through i2\n"
        r = cl.api(1).delete("/api/v1/services/web")
        assert r.status == 204, r
        with pytest.raises(OSError):
            cp.connect(port, timeout=2).close()
    finally:
        if conn is not None:
            conn.stop()
        reports = cl.stop()
        svc.stop()
    assert not reports, "\n".join(reports)


def test_hint_connection_reestablished(workdir):
    """The LISTEN connections killed on the server (pg_terminate_backend):
    each instance says so once, listens again after its backoff and reacts
    in full; then a change through i1 is again a hint on i2."""
    cl = cp.ClusterFixture(os.path.join(workdir, "cl-relisten"), n=2, log_level="debug")
    try:
        cl.start()
        for c in cl.clouds:
            c.wait_log(r"cluster: listening for changes", 10 * SLOW)
        since = [c.log_offset() for c in cl.clouds]
        rows = cl.clouds[0].db("SELECT count(pg_terminate_backend(pid)) FROM "
                               "pg_stat_activity WHERE query = 'LISTEN uplink_changes'")
        assert rows == [(2,)], rows
        for c, off in zip(cl.clouds, since):
            c.wait_log(r"cluster: not listening for changes \(", 5 * SLOW, since=off)
            c.wait_log(r"cluster: listening for changes again; re-reading everything",
                       10 * SLOW, since=off)
            assert c.log_text(off).count("not listening for changes") == 1
        off = cl.clouds[1].log_offset()
        r = cl.api(0).post("/api/v1/sites", {"name": "after-relisten"})
        assert r.status == 201, r
        cl.clouds[1].wait_log(r"cluster: \d+ hints? that the shared state changed",
                              5 * SLOW, since=off)
    finally:
        reports = cl.stop()
    assert not reports, "\n".join(reports)


def test_two_processes_with_one_id(workdir):
    """A second process started as i1 takes the id (a new run); the first
    says another process runs as i1 and stays out, once; when the second
    stops, the first registers again."""
    import shutil
    d = os.path.join(workdir, "cl-dup")
    cl = cp.ClusterFixture(d, n=2, lease="2s")
    dup = None
    try:
        cl.start()
        first = cl.clouds[0]
        dup = cp.Cloud(os.path.join(d, "dup"), options={k: dict(v) for k, v in first.options.items()})
        dup.data = os.path.join(dup.dir, "data")
        shutil.copytree(first.data, dup.data)
        dup.port = cp.peers.free_port()
        dup.http_port = cp.peers.free_port()
        dup.options["cluster"].update(peer_listen=f"127.0.0.1:{cp.peers.free_port()}",
                                      tunnel_address=f"127.0.0.1:{dup.port}")
        off = first.log_offset()
        dup.start()
        first.wait_log(r"cluster: another process runs as instance i1 \(run 2", 10 * SLOW,
                       since=off)
        time.sleep(2)
        assert first.log_text(off).count("another process runs as instance i1") == 1
        assert cl.clouds[1].db("SELECT epoch FROM instances WHERE id = 'i1'") == [(2,)]
        assert dup.stop() == 0
        dup = None
        first.wait_log(r"cluster: instance i1 was taken for gone by the others \(another "
                       r"process with its id ran and stopped\); registered again as run 3",
                       10 * SLOW, since=off)
        wait_instances(cl, 1, lambda v: v["i1"]["state"] == "up" and v["i1"]["epoch"] == 3,
                       5 * SLOW, "i1 up again (run 3) on i2")
    finally:
        if dup is not None:
            dup.stop(check=False)
        reports = cl.stop()
    assert not reports, "\n".join(reports)
