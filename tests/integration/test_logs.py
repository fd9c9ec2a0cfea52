"""Connector logs and events in the cloud (issue 16, section 1; docs/api.md
"Connector logs", docs/protocol.md "Logs", docs/cloud.md [logs]).

A cloud of this module's own with a small ingest cap and retention, one
connector of site hq (one tunnel, a log buffer of 40 lines). The
connector's own lines (its start, its SIGHUP reloads: one info line each)
reach the cloud over the tunnel; the tests read them through the API and
`uplink-cloud logs`, stop the cloud while the connector logs more than its
buffer holds, spam it past the ingest cap, tail it live, let retention
delete, and read the connector's and the site's timeline.
"""

import os
import re
import shutil
import signal
import subprocess
import threading
import time

import pytest

import apiclient
import cloudpeers as cp
import peers

SAN = cp.SAN
SLOW = 3.0 if SAN else 1.0
BUFFER = 40                 # [run] log_buffer of the connector
LINES_PER_SEC = 20          # [logs] lines_per_second of the cloud
MAX_BYTES = 16 * 1024       # [logs] max_bytes_per_connector (16k, the least)
EMAIL = "ana@example.net"
PASSWORD = "logs test password 1"
BROWSER_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "browser")
CHROMIUM = "/usr/bin/chromium"
SPAM = 600                  # lines a spamming connector logs in a few seconds

pytestmark = pytest.mark.skipif(
    not os.access(cp.cloud_path(), os.X_OK) or not os.access(peers.connector_path(), os.X_OK),
    reason=f"{cp.cloud_path()} or {peers.connector_path()} missing: run make "
           "(make SAN=1 with UPLINK_BUILD=build-san)")


class Env:
    def __init__(self, workdir):
        self.dir = workdir
        self.cloud = None
        self.conn = None

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        self.prefix = cp.host_isolation(os.path.join(self.dir, "iso"))
        self.cloud = cp.Cloud(os.path.join(self.dir, "cloud"), options={"cloud": {"check_interval": 0}, "logs": {
            "lines_per_second": LINES_PER_SEC, "max_bytes_per_connector": "16k",
            "retention": "7d"}})
        self.cloud.init().start()
        self.ca = os.path.join(self.cloud.data, "ca.pem")
        self.key = self.cloud.key("tests-logs")
        r = cp.run_prog(self.cloud.binary, ["admin", "add", "--email", EMAIL, "--role", "full",
                                            "--data-dir", self.cloud.data],
                        stdin_text=PASSWORD + "\n")
        assert r.rc == 0, r
        c = cp.Connector(os.path.join(self.dir, "hq-a"), name="hq-a", prefix=self.prefix)
        r = c.enroll(self.cloud.token("hq"))
        assert r.rc == 0, r
        c.id = re.search(r"connector (c-[0-9a-f]{12})", r.stdout + r.stderr).group(1)
        c.configure(tunnels=1, run={"log_buffer": BUFFER})
        self.conn = c
        c.start(wait_tunnels=1, timeout=30 * SLOW)
        return self

    def stop(self):
        cp.stop_network([self.conn] if self.conn else [], self.cloud)

    def api(self, **kw):
        kw.setdefault("timeout", 20 * SLOW)
        return apiclient.Client(self.cloud.port, self.ca, key=self.key, **kw)

    def logs(self, query=""):
        r = self.api().get(f"/api/v1/connectors/{self.conn.id}/logs{query}")
        assert r.status == 200, r
        return r.body

    def configure(self, extra=""):
        self.conn.configure(tunnels=1, run={"log_buffer": BUFFER}, extra=extra)

    def marks(self, first, n, every=0.02, tag="mark"):
        """n distinct warning lines from the connector: a config with an
        unknown key TAG_I in [log], then SIGHUP ("SIGHUP: keeping the
        running configuration: ... \"TAG_I\" ..."). The good config is
        back afterwards."""
        try:
            for i in range(first, first + n):
                self.configure(extra=f"{tag}_{i} = 1\n")
                os.kill(self.conn.pid, signal.SIGHUP)
                time.sleep(every)
        finally:
            self.configure()

    def cli(self, args, timeout=30):
        return self.cloud.run(["logs"] + args + ["--data-dir", self.cloud.data],
                              timeout=timeout * SLOW)


@pytest.fixture(scope="module")
def env(workdir):
    e = Env(os.path.join(workdir, "logs"))
    try:
        e.start()
        yield e
    finally:
        e.stop()


def wait_lines(env, pred, timeout, what, query=""):
    last = {}

    def check():
        body = env.logs(query)
        last["body"] = body
        return body if pred(body["lines"]) else None
    return cp.wait_for(check, timeout * SLOW, what, interval=0.2,
                       on_fail=lambda: f"\nlast: {str(last.get('body'))[-2000:]}")


def test_lines_reach_the_cloud(env):
    body = wait_lines(env, lambda ls: any("running: " in l["msg"] for l in ls), 20,
                      "the connector's start line in the cloud")
    line = next(l for l in body["lines"] if "running: " in l["msg"])
    assert set(line) >= {"id", "seq", "time", "level", "msg"}, line
    assert line["level"] == "info"
    assert abs(line["time"] / 1000 - time.time()) < 600
    ids = [l["id"] for l in body["lines"]]
    assert ids == sorted(ids), "lines are not oldest first"
    assert body["next"] == ids[-1]


def marks_in(lines, tag="mark"):
    """The numbers I of the TAG_I lines, in order."""
    out = []
    for l in lines:
        m = re.search(rf'"{tag}_(\d+)"', l["msg"])
        if m:
            out.append(int(m.group(1)))
    return out


def test_level_and_text_filters_api_and_cli(env):
    env.marks(0, 3, every=0.2, tag="filt")
    os.kill(env.conn.pid, signal.SIGHUP)      # a good reload: an info line
    wait_lines(env, lambda ls: marks_in(ls, "filt") == [0, 1, 2] and
               any("SIGHUP: reloaded" in l["msg"] for l in ls), 20,
               "three filt lines and a reload in the cloud")
    warn = env.logs("?level=warn&limit=1000")["lines"]
    assert marks_in(warn, "filt") == [0, 1, 2]
    assert all(l["level"] in ("warn", "error") for l in warn), warn
    assert not any("running: " in l["msg"] for l in warn)
    found = env.logs("?q=FILT_1&limit=1000")["lines"]        # any case
    assert marks_in(found, "filt") == [1], found
    assert env.logs("?q=no-such-text-anywhere")["lines"] == []
    since = env.logs(f"?since={int(time.time()) + 3600}")["lines"]
    assert since == []
    r = env.api().get(f"/api/v1/connectors/{env.conn.id}/logs?level=loud")
    assert r.status == 400 and r.body["error"] == "bad-field", r
    r = env.api().get(f"/api/v1/connectors/{env.conn.id}/logs?since=yesterday-ish")
    assert r.status == 400 and "not a time" in r.body["message"], r
    r = env.api().get("/api/v1/connectors/c-000000000000/logs")
    assert r.status == 404, r

    r = env.cli([env.conn.id, "--grep", "filt_2"])
    assert r.rc == 0, r
    assert '"filt_2"' in r.stdout and '"filt_1"' not in r.stdout, r
    assert re.search(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z warn ", r.stdout, re.M), r
    r = env.cli(["hq-a", "--level", "warn", "--json", "-n", "1000"])    # by name
    assert r.rc == 0, r
    rows = [__import__("json").loads(x) for x in r.stdout.splitlines()]
    assert marks_in(rows, "filt") == [0, 1, 2]
    assert all(x["level"] in ("warn", "error") for x in rows)
    r = env.cli(["hq-a", "--since", "1h", "--grep", "SIGHUP: reloaded"])
    assert r.rc == 0 and "SIGHUP: reloaded" in r.stdout, r
    r = env.cli(["hq-a", "--level", "loud"])
    assert r.rc == 2 and "error, warn, info or debug" in r.stderr, r
    r = env.cli(["nobody"])
    assert r.rc == 1 and 'no connector "nobody"' in r.stderr, r


def test_live_tail_api_and_cli(env):
    nxt = env.logs("?limit=1")["next"]
    out = {}

    def tail():
        after = nxt
        for _ in range(20):
            t0 = time.monotonic()
            r = env.api(timeout=60).get(
                f"/api/v1/connectors/{env.conn.id}/logs?after={after}&wait=30")
            out["r"], out["t"] = r, time.monotonic() - t0
            out.setdefault("first", out["t"])
            if r.status != 200 or marks_in(r.body["lines"], "tail"):
                return
            after = r.body["next"]
    th = threading.Thread(target=tail)
    th.start()
    time.sleep(1.0)
    assert "first" not in out, f"the tail answered before any new line: {out}"
    follow = subprocess.Popen(
        [cp.cloud_path(), "logs", env.conn.id, "-f", "-n", "1", "--grep", "tail_",
         "--data-dir", env.cloud.data], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        time.sleep(1.0 * SLOW)
        env.marks(0, 1, tag="tail")
        th.join(40)
        assert not th.is_alive()
        r = out["r"]
        assert r.status == 200, r
        assert marks_in(r.body["lines"], "tail") == [0], r.body
        assert out["t"] < 30, "the tail waited its whole time despite a new line"
        assert r.body["next"] > nxt
        line = ""
        deadline = time.monotonic() + 20 * SLOW
        while time.monotonic() < deadline and '"tail_0"' not in line:
            line = follow.stdout.readline()
        assert '"tail_0"' in line, "uplink-cloud logs -f did not print the new line"
    finally:
        follow.send_signal(signal.SIGINT)
        rc = follow.wait(10)
    assert rc == 0
    r = env.api().get(f"/api/v1/connectors/{env.conn.id}/logs?wait=5")
    assert r.status == 400, r       # wait needs after


@pytest.mark.skipif(shutil.which("node") is None or not os.access(CHROMIUM, os.X_OK),
                    reason="the browser test needs node and Debian's chromium (scripts/install-deps)")
def test_console_logs_tab(env):
    """tests/browser/logs.mjs: the Logs tab (level filter, search, follow)
    and the events cards, with axe-core at desktop and phone width."""
    from test_console import ensure_playwright, spki_sha256
    ensure_playwright()
    spki = [spki_sha256(os.path.join(env.cloud.data, f)) for f in ("ca.pem", "server.pem")
            if os.path.exists(os.path.join(env.cloud.data, f))]
    penv = dict(os.environ, UPLINK_CONSOLE_URL=env.cloud.url + "/",
                UPLINK_CONSOLE_SPKI=",".join(spki), UPLINK_ADMIN_EMAIL=EMAIL,
                UPLINK_ADMIN_PASSWORD=PASSWORD, UPLINK_CONNECTOR=env.conn.id, UPLINK_SITE="hq",
                UPLINK_ARTIFACTS=os.path.join(BROWSER_DIR, "artifacts"), UPLINK_CHROMIUM=CHROMIUM)
    r = subprocess.run([shutil.which("node"), "--test", "--test-reporter=spec", "logs.mjs"],
                       cwd=BROWSER_DIR, env=penv, capture_output=True, text=True,
                       timeout=240 * SLOW)
    assert r.returncode == 0, (f"node --test logs.mjs exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
                               + cp.tail(env.cloud.log, 40))


def test_cloud_away_keeps_newest_and_counts_dropped(env):
    before = env.logs("?limit=1")["next"]
    env.cloud.stop()
    try:
        time.sleep(0.5)
        env.marks(0, 3 * BUFFER, every=0.01, tag="away")
        time.sleep(0.5)
    finally:
        env.cloud.start()
    body = wait_lines(env, lambda ls: marks_in(ls, "away")[-1:] == [3 * BUFFER - 1], 60,
                      "the newest line logged while the cloud was away", query=f"?after={before}&limit=1000")
    lines = body["lines"]
    got = marks_in(lines, "away")
    assert got == sorted(got), got
    assert 0 not in got, "the oldest lines were kept, not the newest"
    assert len(got) <= BUFFER, got
    gaps = [l for l in lines if l.get("dropped")]
    assert gaps, f"no line reports the lost lines: {lines}"
    assert sum(l["dropped"] for l in gaps) >= 3 * BUFFER - len(got) - 5, gaps
    assert "lost" in gaps[0]["msg"] and gaps[0]["level"] == "warn"
    print(f"\naway: {3 * BUFFER} lines logged while the cloud was down, {len(got)} kept "
          f"(buffer {BUFFER}), {sum(l['dropped'] for l in gaps)} reported lost")
    first_kept = next(l["id"] for l in lines if '"away_' in l["msg"])
    assert gaps[0]["id"] < first_kept, "the loss is reported after the lines it precedes"


def test_spamming_connector_is_capped(env):
    before = env.logs("?limit=1")["next"]
    t0 = time.monotonic()
    stop = threading.Event()
    slow = []

    def probe():
        while not stop.is_set():
            t = time.monotonic()
            r = env.api().get("/api/v1/sites")
            slow.append((r.status, time.monotonic() - t))
            time.sleep(0.2)
    th = threading.Thread(target=probe)
    th.start()
    try:
        env.marks(0, SPAM, every=0.002, tag="spam")
    finally:
        stop.set()
        th.join(30)
    spent = time.monotonic() - t0
    time.sleep(2.0)
    wait_lines(env, lambda ls: any(l.get("dropped") for l in ls), 20,
               "the lines held back by the cap reported", query=f"?after={before}&limit=1000")
    lines = env.logs(f"?after={before}&limit=1000")["lines"]
    elapsed = time.monotonic() - t0
    stored = len(lines)
    # At most the burst (10 s worth) plus lines_per_second since.
    assert stored <= LINES_PER_SEC * (10 + elapsed * 1.5) + 10, (stored, elapsed)
    assert stored < SPAM, stored
    print(f"\nspam: {SPAM} lines in {spent:.1f} s; {stored} rows stored in {elapsed:.1f} s, "
          f"{sum(l.get('dropped', 0) for l in lines)} reported dropped; slowest API answer "
          f"{max(t for _, t in slow) * 1000:.0f} ms")
    assert sum(l.get("dropped", 0) for l in lines) > 0
    assert slow and all(st == 200 for st, _ in slow), slow
    assert max(t for _, t in slow) < 5 * SLOW, f"the API was slow while spammed: {slow}"
    assert spent < 60


def test_retention_by_size(env):
    # 16 KiB per connector ([logs] max_bytes_per_connector): pruned within
    # about 10 s (the prune period) after the spam.
    def small():
        lines = env.logs("?limit=1000")["lines"]
        total = sum(len(l["msg"]) + 64 for l in lines)
        return total if total <= MAX_BYTES else None
    cp.wait_for(small, 30 * SLOW, "the connector's lines pruned to 16 KiB", interval=0.5)
    assert env.logs("?limit=5")["lines"], "retention deleted everything"


def test_events_timeline(env):
    api = env.api()
    assert api.post(f"/api/v1/connectors/{env.conn.id}/drain").status == 200
    assert api.post(f"/api/v1/connectors/{env.conn.id}/resume").status == 200
    env.conn.stop()
    env.conn.start(wait_tunnels=1, timeout=30 * SLOW)

    def timeline():
        r = api.get(f"/api/v1/connectors/{env.conn.id}/events?limit=500")
        assert r.status == 200, r
        ev = list(reversed(r.body["events"]))
        kinds = [e["kind"] for e in ev]
        return ev if kinds.count("tunnel-up") >= 3 and "tunnel-down" in kinds[
            kinds.index("resumed"):] else None
    ev = cp.wait_for(timeline, 20 * SLOW, "the connector's timeline")
    kinds = [e["kind"] for e in ev]
    assert kinds[0] == "enrolled", kinds
    i_drain, i_resume = kinds.index("drained"), kinds.index("resumed")
    assert kinds[1] == "tunnel-up" and i_drain < i_resume, kinds
    # The cloud's restart (test above): its tunnel went down and came up.
    assert "tunnel-down" in kinds[:i_drain], kinds
    after = ev[i_resume + 1:]
    down = next(e for e in after if e["kind"] == "tunnel-down")
    assert down["detail"], down                    # with the reason
    assert any(e["kind"] == "going-away" for e in after), kinds
    assert [e["kind"] for e in after].index("tunnel-up") > after.index(down), kinds
    assert ev[i_drain]["detail"].startswith("by "), ev[i_drain]
    assert all(e["site"] == "hq" and e["connector"] == env.conn.id for e in ev)
    ats = [e["at"] for e in ev]
    assert ats == sorted(ats)
    r = api.get("/api/v1/sites/hq/events?limit=500")
    assert r.status == 200, r
    assert [e["id"] for e in r.body["events"]] == [e["id"] for e in reversed(ev)][:len(
        r.body["events"])]
    assert api.get("/api/v1/sites/nowhere/events").status == 404


def test_retention_by_age(env):
    # Last: the cloud again with a retention of 3 s (pruned every 1.5 s).
    env.cloud.options["logs"]["retention"] = "3s"
    env.cloud.write_conf()
    env.cloud.stop()
    env.cloud.start()
    env.conn.wait_tunnels(1, 30 * SLOW, since=0)
    env.marks(0, 1, tag="fresh")
    wait_lines(env, lambda ls: marks_in(ls, "fresh") == [0], 20, "a fresh line")

    def aged():
        lines = env.logs("?limit=1000")["lines"]
        now = time.time() * 1000
        old = [l for l in lines if l["time"] < now - 6000]
        return lines if not old else None
    lines = cp.wait_for(aged, 20 * SLOW, "lines older than 3 s deleted", interval=0.5)
    assert not any('"spam_' in l["msg"] for l in lines)


def test_events_updated_and_revoked(env):
    """Last of all: a connector back with another version ("updated"), then
    revoked on the command line ("revoked", and its tunnel down)."""
    api = env.api()
    db = os.path.join(env.cloud.data, "uplink.db")
    if os.environ.get("UPLINK_TEST_STORE") != "pg" and os.path.exists(db):
        import sqlite3
        with sqlite3.connect(db, timeout=10) as con:
            con.execute("UPDATE connectors SET version = '0.0.9' WHERE id = ?", (env.conn.id,))
        env.conn.stop()
        env.conn.start(wait_tunnels=1, timeout=30 * SLOW)

        def updated():
            r = api.get(f"/api/v1/connectors/{env.conn.id}/events?limit=20")
            return [e for e in r.body["events"] if e["kind"] == "updated"]
        ev = cp.wait_for(updated, 20 * SLOW, "an updated event")
        assert ev[0]["detail"].endswith("was 0.0.9"), ev
    r = env.cloud.run(["connector", "revoke", env.conn.id, "--data-dir", env.cloud.data])
    assert r.rc == 0, r

    def revoked():
        r = api.get(f"/api/v1/connectors/{env.conn.id}/events?limit=20")
        kinds = [e["kind"] for e in reversed(r.body["events"])]
        return kinds if "revoked" in kinds and "tunnel-down" in kinds[kinds.index("revoked"):] \
            else None
    cp.wait_for(revoked, 20 * SLOW, "revoked, then its tunnel down")
    r = api.get(f"/api/v1/connectors/{env.conn.id}/events?limit=20")
    down = next(e for e in r.body["events"] if e["kind"] == "tunnel-down")
    assert "revoked" in down["detail"], down
