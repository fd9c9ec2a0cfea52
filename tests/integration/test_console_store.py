"""Console defects of issue 16 that needed the store (docs/console.md):
"last seen" of an offline connector, traffic totals that survive a
disconnection and a restart of the cloud, the audit log's times and
missing events, sites and connectors renamed and deleted.

One cloud per module (test_api.py's Env: site hq with connector hq-a
running, idle-1 enrolled in site idle), started with
UPLINK_TEST_SEEN_SECS=1 so that connectors' last_seen and byte totals are
written every second instead of every minute.
"""

import os
import re
import time

import pytest

import cloudpeers as cp
import peers
from test_api import SLOW, expect, make_env

pytestmark = pytest.mark.skipif(
    not os.access(cp.cloud_path(), os.X_OK) or not os.access(peers.connector_path(), os.X_OK),
    reason=f"{cp.cloud_path()} or {peers.connector_path()} missing: run make "
           "(make SAN=1 with UPLINK_BUILD=build-san)")


@pytest.fixture(scope="module")
def env(workdir):
    old = os.environ.get("UPLINK_TEST_SEEN_SECS")
    os.environ["UPLINK_TEST_SEEN_SECS"] = "1"
    try:
        e = make_env(workdir, "console-store")
        try:
            yield e
        finally:
            e.stop()
    finally:
        if old is None:
            os.environ.pop("UPLINK_TEST_SEEN_SECS", None)
        else:
            os.environ["UPLINK_TEST_SEEN_SECS"] = old


def poll(fn, timeout, what):
    """Calls fn() until it returns something true (returned), bounded."""
    last = {}

    def once():
        try:
            return fn()
        except AssertionError as e:
            last["e"] = e
            return None
    return cp.wait_for(once, timeout, what, interval=0.2,
                       on_fail=lambda: f"\nlast: {last.get('e')}")


def api_connector(env, cid):
    return expect(env.key().get(f"/api/v1/connectors/{cid}"), 200)


def stored_connector(env, cid):
    """The connector as the store has it (uplink-cloud connector list)."""
    for c in env.cloud.connectors():
        if c["id"] == cid:
            return c
    raise AssertionError(f"connector {cid} not listed")


# --------------------------------------------------------------------------
# defect 1: last_seen

def test_last_seen_moves_while_up_and_at_close(env):
    c = env.connector("seen-1", env.cloud.token("seen"))
    enrolled = api_connector(env, c.id)["created_at"]
    up = time.time()

    # While its tunnels are up the store's last_seen moves (every second
    # here, every minute by default), not only when a tunnel comes up.
    def moved():
        s = stored_connector(env, c.id)
        assert s["last_seen"] is not None and s["last_seen"] >= int(up) + 2, s
        return s
    poll(moved, 20 * SLOW, "last_seen written while the tunnels are up")

    time.sleep(1.5)
    stop = time.time()
    c.stop()

    def offline():
        j = api_connector(env, c.id)
        assert j["state"] == "offline", j
        return j
    j = poll(offline, 20 * SLOW, "seen-1 offline")
    # Written when the last tunnel closed: not its enrollment, not when
    # its tunnels came up.
    assert j["last_seen"] >= int(stop) - 1, (j, stop)
    assert j["last_seen"] > enrolled, (j, enrolled)
    assert j["last_seen"] <= time.time() + 1, j
    s = stored_connector(env, c.id)
    assert s["last_seen"] == j["last_seen"], (s, j)


# --------------------------------------------------------------------------
# defect 2: traffic totals

def test_traffic_totals_survive_disconnection_and_restart(env):
    n = 256 * 1024
    payload = os.urandom(n)
    port = env.cloud.publish_ports["cfg"]
    before = api_connector(env, env.a.id)
    assert cp.echo_once(port, payload, timeout=20 * SLOW) == payload

    def counted():
        j = api_connector(env, env.a.id)
        assert j["bytes_in"] >= before["bytes_in"] + n, j
        assert j["bytes_out"] >= before["bytes_out"] + n, j
        return j
    live = poll(counted, 10 * SLOW, "hq-a's bytes counted")

    env.a.stop()

    def offline():
        j = api_connector(env, env.a.id)
        assert j["state"] == "offline", j
        return j
    j = poll(offline, 20 * SLOW, "hq-a offline")
    # Offline, its totals stay: they do not fall to 0.
    assert j["bytes_in"] >= live["bytes_in"] and j["bytes_out"] >= live["bytes_out"], (j, live)
    sites = expect(env.key().get("/api/v1/connectors"), 200)["connectors"]
    assert sum(c["bytes_in"] for c in sites) >= n, sites

    # A restarted cloud still has them (the store's, not its memory's).
    env.cloud.stop()
    env.cloud.start()
    j2 = api_connector(env, env.a.id)
    assert j2["state"] == "offline", j2
    assert j2["bytes_in"] == j["bytes_in"] and j2["bytes_out"] == j["bytes_out"], (j2, j)

    # Back online, the totals go on from there.
    env.a.start(wait_tunnels=2, timeout=30 * SLOW)
    assert cp.echo_once(port, b"y" * 1000, timeout=20 * SLOW) == b"y" * 1000
    j3 = poll(counted, 10 * SLOW, "hq-a's bytes after the restart")
    assert j3["bytes_in"] >= j2["bytes_in"] + 1000, (j3, j2)


# --------------------------------------------------------------------------
# defect 5: the audit log

EPOCH = re.compile(r"\b1[5-9]\d{8}\b")      # Unix seconds from 2017 to 2033
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def _audit(env, limit=500):
    return expect(env.key().get(f"/api/v1/audit?limit={limit}"), 200)["entries"]


def test_audit_enrollment_and_cli_creations_with_iso_times(env):
    # By CLI: a token and a key (another process, the same database).
    r = env.cloud.admin(["token", "create", "--site", "aud", "--json"])
    assert r.rc == 0 and r.json, r
    cli_token = r.json
    r = env.cloud.admin(["key", "create", "--name", "aud-key", "--json"])
    assert r.rc == 0 and r.json, r
    cli_key = r.json["id"]
    # By API: a token, then a connector enrolled with it.
    api_token = expect(env.key().post("/api/v1/tokens", {"site": "aud"}), 201)
    c = env.connector("aud-1", api_token["token"], start=False)

    entries = _audit(env)
    by = {(e["action"], e["target"]): e for e in entries}
    t = by.get(("token.create", cli_token["id"]))
    assert t is not None, entries
    assert t["actor_kind"] == "cli" and t["actor"], t
    assert ISO.search(t["detail"]) and "aud" in t["detail"], t
    k = by.get(("key.create", cli_key))
    assert k is not None and k["actor_kind"] == "cli", entries
    assert "aud-key" in k["detail"], k
    a = by.get(("token.create", api_token["id"]))
    assert a is not None and a["actor_kind"] == "key", entries
    assert ISO.search(a["detail"]), a
    e = by.get(("connector.enroll", c.id))
    assert e is not None, entries
    assert api_token["id"] in e["actor"] and e["actor_kind"] == "system", e
    assert "aud-1" in e["detail"] and "aud" in e["detail"], e
    assert e["address"].startswith("127.0.0.1"), e
    # The enrollment comes after the token that allowed it.
    assert e["id"] > a["id"] and e["at"] >= a["at"], (e, a)
    # No raw Unix time in any row's details.
    raw = [x for x in entries if EPOCH.search(x["detail"] or "")]
    assert raw == [], raw
