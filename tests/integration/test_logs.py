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
        self.cloud = cp.Cloud(os.path.join(self.dir, "cloud"), options={"logs": {
            "lines_per_second": LINES_PER_SEC, "max_bytes_per_connector": "16k",
            "retention": "7d"}})
        self.cloud.init().start()
        self.ca = os.path.join(self.cloud.data, "ca.pem")
        self.key = self.cloud.key("tests-logs")
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

    def hup(self, n, every=0.01):
        """n SIGHUPs to the connector: one "SIGHUP: reloaded" line each."""
        for _ in range(n):
            os.kill(self.conn.pid, signal.SIGHUP)
            time.sleep(every)


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
