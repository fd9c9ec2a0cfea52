"""Issue 16, section 2, the remaining figures (docs/metrics.md): the
store's latency histogram, and the counters the connectors report through
their tunnels (GET /v1/info: streams refused by code, checks run and
failed) as per-connector series; promtool still clean.

The network is test_metrics.py's (Net: a cloud with [metrics] on loopback
and ping_interval = 1s, so the counters are asked every second; a
connector of site hq allowed to reach "echo" only; "denied" publishes a
target it refuses).
"""

import os
import shutil
import subprocess

import pytest

import cloudpeers as cp
from test_metrics import SLOW, Net, get, parse, scrape, value, wait_value

pytestmark = pytest.mark.skipif(
    not os.access(cp.cloud_path(), os.X_OK), reason=f"{cp.cloud_path()} missing: run make")


@pytest.fixture(scope="module")
def net(workdir):
    prefix = cp.isolation_or_skip(os.path.join(workdir, "metrics-conn-iso"))
    n = Net(os.path.join(workdir, "metrics-conn"), prefix)
    try:
        n.start()
        yield n
    finally:
        n.stop()


def buckets(s, name):
    return sorted((float(dict(ls)["le"]), v) for (nm, ls), v in s.items() if nm == name + "_bucket")


def test_store_latency(net):
    s = scrape(net)
    n0 = value(s, "uplink_store_query_seconds_count")
    assert n0 > 0, "statements ran at start (migrations, the CRL, the enrollment)"
    # An API read runs statements: the count moves, the sum with it.
    api = net.api()
    for _ in range(3):
        assert api.get("/api/v1/sites").status == 200
    a = scrape(net)
    assert value(a, "uplink_store_query_seconds_count") >= n0 + 3
    assert value(a, "uplink_store_query_seconds_sum") >= value(s, "uplink_store_query_seconds_sum")
    b = buckets(a, "uplink_store_query_seconds")
    assert len(b) == 15 and b[0][0] == 0.0001 and b[-1][0] == float("inf"), b
    assert all(x[1] <= y[1] for x, y in zip(b, b[1:])), b
    assert b[-1][1] == value(a, "uplink_store_query_seconds_count")
    # On loopback SQLite, most statements take less than 25 ms.
    assert dict(b)[0.025] >= 0.5 * b[-1][1], b


def refused(s, cid, code):
    return value(s, "uplink_connector_streams_refused_total", connector=cid, code=code)


def test_connector_counters(net):
    cid = net.connector_id
    s = wait_value(net, lambda x: any(nm == "uplink_connector_streams_refused_total"
                                      for (nm, _) in x),
                   "the connector's counters reported")
    base = refused(s, cid, "not-allowed")
    # Every code is there, per connector, even at 0.
    codes = {dict(ls)["code"] for (nm, ls) in s if nm == "uplink_connector_streams_refused_total"}
    assert codes == {"not-allowed", "via-proxy", "dns", "refused", "timeout", "proxy", "busy",
                     "internal"}, codes
    # Three opens of a target outside the connector's allow list.
    for _ in range(3):
        with cp.connect(net.cloud.publish_ports["denied"]) as sock:
            sock.settimeout(20 * SLOW)
            try:
                while sock.recv(4096):
                    pass
            except OSError:
                pass
    a = wait_value(net, lambda x: refused(x, cid, "not-allowed") >= base + 3,
                   "three refusals reported by the connector")
    assert refused(a, cid, "dns") == refused(s, cid, "dns")
    # A check on demand is counted by the connector that ran it.
    checks = value(a, "uplink_connector_checks_total", connector=cid)
    failures = value(a, "uplink_connector_check_failures_total", connector=cid)
    api = net.api()
    api.timeout = 90 * SLOW
    r = api.post(f"/api/v1/connectors/{cid}/check")
    assert r.status == 200, r
    c = wait_value(net, lambda x: value(x, "uplink_connector_checks_total", connector=cid)
                   >= checks + 1, "the check counted by the connector")
    got = value(c, "uplink_connector_check_failures_total", connector=cid)
    assert got == failures + (0 if r.body["ok"] else 1), (got, failures, r.body["ok"])


def test_promtool_with_the_new_families(net):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool missing: scripts/install-deps installs Debian's prometheus")
    wait_value(net, lambda x: any(nm == "uplink_connector_checks_total" for (nm, _) in x),
               "the connector's counters")
    status, _, body = get(net.mport)
    assert status == 200
    for fam in ("uplink_store_query_seconds", "uplink_connector_streams_refused_total",
                "uplink_connector_checks_total", "uplink_connector_check_failures_total"):
        assert f"# TYPE {fam} " in body, fam
    r = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "" and r.stderr.strip() == "", \
        (r.returncode, r.stdout, r.stderr)
    assert parse(body)
