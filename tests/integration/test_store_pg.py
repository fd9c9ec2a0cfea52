"""uplink-cloud on PostgreSQL (issue 14, section 2; docs/internals/store.md).

Each test starts a PostgreSQL server of its own (scripts/pg-test-server:
initdb in the test's directory, a unix socket, no TCP) and stops it.

  * init --store and run: the API and the CLI work on the PostgreSQL
    database, and the data directory holds no uplink.db;
  * two uplink-cloud instances run on one database on different ports;
    two connectors enroll with the same one-time token at the same moment,
    one through each instance: exactly one succeeds, the other is told the
    token was already used;
  * a committed write survives kill -9 of the instance and an immediate
    stop of PostgreSQL;
  * failed sign-ins on one instance delay the account on another;
  * PostgreSQL frozen by SIGSTOP: a stream through a published service
    keeps flowing, API writes answer 503 with the reason within a bound,
    a restarted connector gets its tunnels back and new streams go
    through, and after SIGCONT the instance logs "database is back" and
    writes succeed again.
"""

import os
import shutil
import subprocess
import threading
import time

import pytest

import apiclient
import cloudpeers as cp
import peers

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


def schema_version():
    """STORE_SCHEMA_VERSION from lib/store/store.h (never a number here:
    several branches add steps)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "lib", "store", "store.h")) as f:
        for line in f:
            if line.startswith("#define STORE_SCHEMA_VERSION"):
                return int(line.split()[2])
    raise AssertionError("STORE_SCHEMA_VERSION not found in lib/store/store.h")


@pytest.fixture
def pg(workdir, request):
    server = cp.PgServer(os.path.join(workdir, f"pg-{request.node.name}"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def api(cloud, key, timeout=10):
    return apiclient.Client(cloud.port, os.path.join(cloud.data, "ca.pem"), key=key,
                            timeout=timeout * SLOW)


def psql(conninfo, sql):
    r = subprocess.run(["psql", conninfo, "-qAtc", sql], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def second_instance(first, workdir):
    """Another instance of first's cloud: a copy of its data directory (the
    same CA and server certificate), the same [store] url, its own ports."""
    os.makedirs(workdir, exist_ok=True)
    other = cp.Cloud(workdir, options={"store": dict(first.options["store"])})
    other.data = os.path.join(workdir, "data")
    shutil.copytree(first.data, other.data)
    for f in ("status.json",):
        p = os.path.join(other.data, f)
        if os.path.exists(p):
            os.unlink(p)
    other.port = peers.free_port()
    other.http_port = peers.free_port()
    other.url = f"https://{cp.LOOPBACK}:{other.port}"
    return other


def token_for(token, url_from, url_to):
    """The same token with the cloud URL of another instance (same length:
    the ports have as many digits), checksum made again."""
    p = cp.token_payload(token)
    a, b = url_from.encode(), url_to.encode()
    assert len(a) == len(b)
    i = bytes(p).find(a)
    assert i > 0
    p[i:i + len(a)] = b
    return cp.token_encode(p)


def test_init_store_and_api(pg, workdir):
    d = os.path.join(workdir, "pg-api")
    cloud = cp.Cloud(os.path.join(d, "cloud"), options={"store": {"url": pg.database()}})
    try:
        cloud.init()
        assert not os.path.exists(os.path.join(cloud.data, "uplink.db"))
        cloud.start()
        key = cloud.key("tests")
        r = api(cloud, key).post("/api/v1/sites", {"name": "hq"})
        assert r.status == 201, r
        url = cloud.options["store"]["url"]
        assert psql(url, "SELECT name FROM sites") == "hq"
        assert psql(url, "SELECT version FROM uplink_schema") == str(schema_version())
        # The CLI with only --data-dir finds the database through cloud.conf.
        tok = cloud.token("hq")
        assert tok.startswith("uplink1-")
        assert psql(url, "SELECT count(*) FROM enrollment_tokens") == "1"
    finally:
        cloud.stop()


def test_config_errors(pg, workdir):
    d = os.path.join(workdir, "pg-conf")
    os.makedirs(d, exist_ok=True)
    conf = os.path.join(d, "cloud.conf")
    cases = [
        ("[store]\nurl = postgresql://u:secret@127.0.0.1/db\n",
         "cloud.conf:2: [store] url has a password in it"),
        ("[store]\nurl = mysql://x\n",
         "cloud.conf:2: [store] url = \"mysql://x\" is neither sqlite:PATH nor a PostgreSQL URL"),
        ("[store]\ntimeout = 0s\n", "cloud.conf:2:"),
    ]
    for text, want in cases:
        with open(conf, "w") as f:
            f.write("[cloud]\n" + text.replace("[store]\n", "") if False else text)
        r = cp.run_prog(cp.cloud_path(), ["run", "--config", conf, "--check-config"])
        assert r.rc != 0, r
        assert want in r.stderr, r


def test_token_race_two_instances(pg, workdir):
    """Two instances on one database; the same token presented to both at
    once, several rounds: exactly one enrollment succeeds each round."""
    d = os.path.join(workdir, "pg-race")
    a = cp.Cloud(os.path.join(d, "a"), options={"store": {"url": pg.database()}})
    b = None
    try:
        a.init().start()
        b = second_instance(a, os.path.join(d, "b"))
        for _ in range(20):
            if len(str(b.port)) == len(str(a.port)):
                break
            b.port = peers.free_port()
        b.url = f"https://{cp.LOOPBACK}:{b.port}"
        b.start()
        for rnd in range(3):
            tok = a.token("hq")
            toks = [tok, token_for(tok, a.url, b.url)]
            conns = [cp.Connector(os.path.join(d, f"c{rnd}-{i}"), name=f"c{rnd}-{i}")
                     for i in range(2)]
            results = [None, None]
            gate = threading.Barrier(2)

            def go(i):
                gate.wait()
                results[i] = conns[i].enroll(toks[i], timeout=60 * SLOW)

            ts = [threading.Thread(target=go, args=(i,)) for i in range(2)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(120)
            oks = [r for r in results if r is not None and r.rc == 0]
            bad = [r for r in results if r is not None and r.rc != 0]
            assert len(oks) == 1 and len(bad) == 1, results
            assert "already been used" in bad[0].stderr, bad[0]
        url = a.options["store"]["url"]
        assert psql(url, "SELECT count(*) FROM connectors") == "3"
        assert psql(url, "SELECT count(*) FROM enrollment_tokens WHERE used_at IS NULL") == "0"
    finally:
        if b is not None:
            b.stop(check=False)
        a.stop()


def test_commit_survives_kill9_and_pg_immediate_stop(pg, workdir):
    d = os.path.join(workdir, "pg-kill")
    cloud = cp.Cloud(os.path.join(d, "cloud"), options={"store": {"url": pg.database()}})
    try:
        cloud.init().start()
        key = cloud.key("tests")
        r = api(cloud, key).post("/api/v1/sites", {"name": "kept"})
        assert r.status == 201, r
        cloud.proc.kill()
        cp.wait_exit(cloud.proc, 10)
        cloud.proc = None
        # immediate: no checkpoint, the server recovers from its WAL
        subprocess.run([cp.PG_SERVER, "stop", pg.dir], check=True, timeout=60)
        subprocess.run([cp.PG_SERVER, "start", pg.dir], check=True, timeout=120,
                       capture_output=True)
        cloud.start()
        r = api(cloud, key).get("/api/v1/sites")
        assert r.status == 200, r
        assert "kept" in [s["name"] for s in r.body["sites"]], r
    finally:
        cloud.stop(check=False)


def test_frozen_database(pg, workdir):
    """SIGSTOP of every PostgreSQL process: the instance keeps carrying an
    open stream, answers API writes 503 within a bound, and comes back."""
    d = os.path.join(workdir, "pg-frozen")
    svc = cp.Services(os.path.join(d, "services")).start()
    echo = svc.ports["echo"]
    cloud = cp.Cloud(os.path.join(d, "cloud"),
                     publish={"echo": ("hq", f"127.0.0.1:{echo}")},
                     options={"store": {"url": pg.database(), "timeout": "1s"}})
    conn = None
    frozen = False
    try:
        cloud.init().start()
        key = cloud.key("tests")
        conn = cp.Connector(os.path.join(d, "conn"), name="gw")
        r = conn.enroll(cloud.token("hq"))
        assert r.rc == 0, r
        conn.configure(allow=[f"127.0.0.1:{echo}"], tunnels=2)
        conn.start(wait_tunnels=2, timeout=30 * SLOW)
        s = cp.connect(cloud.publish_ports["echo"])
        s.settimeout(10 * SLOW)
        s.sendall(b"before\n")
        assert s.recv(100) == b"before\n"

        pg.freeze()
        frozen = True
        since = cloud.log_offset()
        # An API write: refused with 503 and why, within a bound.
        t0 = time.monotonic()
        r = api(cloud, key, timeout=30).post("/api/v1/sites", {"name": "while-frozen"})
        took = time.monotonic() - t0
        assert r.status == 503, r
        assert "database is unavailable" in str(r.body), r
        assert took < 10 * SLOW, took
        print(f"\nfrozen database: first API write answered {r.status} after {took:.2f} s: "
              f"{r.body}")
        # The open stream keeps flowing meanwhile, many round trips.
        for i in range(20):
            msg = f"frozen {i}\n".encode()
            s.sendall(msg)
            got = b""
            while len(got) < len(msg):
                got += s.recv(100)
            assert got == msg
            time.sleep(0.05)
        # Further writes fail at once (the breaker is open).
        t0 = time.monotonic()
        r = api(cloud, key).post("/api/v1/sites", {"name": "while-frozen-2"})
        assert r.status == 503, r
        assert time.monotonic() - t0 < 3 * SLOW
        cloud.wait_log(r"database unavailable: ", 10 * SLOW, since=since)
        # A connector restarted meanwhile gets its tunnels again (the owner
        # of its certificate is remembered), and new streams go through.
        s.close()       # it lives on the tunnels the restart closes
        conn.stop()
        conn.start(wait_tunnels=2, timeout=60 * SLOW)
        assert cp.echo_once(cloud.publish_ports["echo"], b"new stream\n",
                            timeout=30 * SLOW) == b"new stream\n"

        # Seconds went by frozen: the outage was said once, not by every
        # timer that reads the database (status.json, notifications).
        noise = [ln for ln in cloud.log_text(since).splitlines()
                 if "status: " in ln or "notifications: " in ln]
        assert not noise, noise
        pg.thaw()
        frozen = False
        cloud.wait_log(r"database is back", 60 * SLOW, since=since)
        r = api(cloud, key).post("/api/v1/sites", {"name": "after"})
        assert r.status == 201, r
        assert cp.echo_once(cloud.publish_ports["echo"], b"after\n",
                            timeout=30 * SLOW) == b"after\n"
    finally:
        if frozen:
            pg.thaw()
        if conn is not None:
            conn.stop()
        cloud.stop(check=False)
        svc.stop()


def test_signin_limits_across_instances(pg, workdir):
    """Failed sign-ins counted on instance A delay the same account on
    instance B, which has seen none of them (per account, from an address
    it never signed in from)."""
    d = os.path.join(workdir, "pg-limits")
    a = cp.Cloud(os.path.join(d, "a"), options={"store": {"url": pg.database()}})
    b = None
    try:
        a.init().start()
        a.add_admin("ana@example.net", "correct horse battery staple")
        b = second_instance(a, os.path.join(d, "b"))
        b.start()
        ca = os.path.join(a.data, "ca.pem")
        on_a = apiclient.Client(a.port, ca, timeout=30 * SLOW)
        retry = 0
        for _ in range(12):
            r = on_a.sign_in("ana@example.net", "wrong password, long enough")
            if r.status == 429:
                retry = int(r.headers.get("Retry-After"))
                if retry >= 4:
                    break
                time.sleep(retry + 0.2)
                continue
            assert r.status == 401, r
        assert retry >= 4, "instance A never delayed the account"
        on_b = apiclient.Client(b.port, ca, timeout=30 * SLOW)
        r = on_b.sign_in("ana@example.net", "correct horse battery staple")
        assert r.status == 429, r
        assert int(r.headers.get("Retry-After")) >= 1, r
        assert "too many failed sign-ins" in str(r.body), r
    finally:
        if b is not None:
            b.stop(check=False)
        a.stop()
