"""Console defects of issue 16 that needed the store (docs/console.md):
"last seen" of an offline connector, traffic totals that survive a
disconnection and a restart of the cloud, the audit log's times and
missing events, sites and connectors renamed and deleted.

One cloud per module (test_api.py's Env: site hq with connector hq-a
running, idle-1 enrolled in site idle), started with
UPLINK_TEST_SEEN_SECS=1 so that connectors' last_seen and byte totals are
written every second instead of every minute.
"""

import functools
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
    with cp.env_set("UPLINK_TEST_SEEN_SECS", "1"):
        e = make_env(workdir, "console-store")
        try:
            yield e
        finally:
            e.stop()


poll = functools.partial(cp.poll, interval=0.2)


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


# --------------------------------------------------------------------------
# defect 10: sites renamed and deleted, connectors renamed and removed

def test_site_rename_follows_connectors_keys_and_tunnels(env):
    k = env.key()
    c = env.connector("ren-1", env.cloud.token("ren"), tunnels=1)
    r = expect(k.post("/api/v1/keys", {"name": "ren-key", "scope": "ingress",
                                       "sites": ["ren"]}), 201)
    kid = r["id"]
    s = expect(k.patch("/api/v1/sites/REN", {"name": "ren-2"}), 200)
    assert s["name"] == "ren-2" and s["connectors_total"] == 1, s
    assert [x["id"] for x in s["connectors"]] == [c.id], s
    expect(k.get("/api/v1/sites/ren"), 404, "not-found")
    j = api_connector(env, c.id)
    assert j["site"] == "ren-2" and j["state"] == "online", j
    keys = {x["id"]: x for x in expect(k.get("/api/v1/keys"), 200)["keys"]}
    assert keys[kid]["sites"] == ["ren-2"], keys[kid]
    # Taken, invalid, in cloud.conf, missing.
    expect(k.patch("/api/v1/sites/ren-2", {"name": "HQ"}), 409, "conflict")
    expect(k.patch("/api/v1/sites/ren-2", {"name": "a b"}), 400, "bad-field")
    r = expect(k.patch("/api/v1/sites/hq", {"name": "hq-2"}), 409, "conflict")
    assert "[publish cfg]" in r["message"] and "cloud.conf" in r["message"], r
    expect(k.patch("/api/v1/sites/nope", {"name": "x"}), 404, "not-found")
    audit = [e for e in _audit(env, 50) if e["action"] == "site.rename"]
    assert audit and audit[0]["target"] == "ren-2" and "ren" in audit[0]["detail"], audit
    # A published service in the renamed site reaches its connector
    # (the router follows the new name).
    port = peers.free_port()
    expect(k.post("/api/v1/services", {"name": "ren-svc", "site": "ren-2",
                                       "target": env.target("echo"),
                                       "listen": f"127.0.0.1:{port}"}), 201)
    assert cp.echo_once(port, b"renamed", timeout=20 * SLOW) == b"renamed"
    r = expect(k.patch("/api/v1/sites/ren-2", {"name": "ren-3"}), 409, "conflict")
    assert "ren-svc" not in r["message"] and "1 published service" in r["message"], r
    expect(k.delete("/api/v1/services/ren-svc"), 204)


def test_site_delete_refused_while_used_then_done(env):
    k = env.key()
    tok = expect(k.post("/api/v1/tokens", {"site": "gone"}), 201)
    c = env.connector("gone-1", tok["token"], start=False)
    tok2 = expect(k.post("/api/v1/tokens", {"site": "gone"}), 201)
    r = expect(k.delete("/api/v1/sites/gone"), 409, "conflict")
    msg = r["message"]
    assert "1 connector not revoked" in msg and "1 enrollment token" in msg, r
    expect(k.post(f"/api/v1/connectors/{c.id}/revoke"), 200)
    r = expect(k.delete("/api/v1/sites/gone"), 409, "conflict")
    assert "0 connectors not revoked" in r["message"], r
    expect(k.post(f"/api/v1/tokens/{tok2['id']}/revoke"), 200)
    expect(k.delete("/api/v1/sites/gone"), 204)
    expect(k.get("/api/v1/sites/gone"), 404, "not-found")
    expect(k.get(f"/api/v1/connectors/{c.id}"), 404, "not-found")
    r = expect(k.delete("/api/v1/sites/hq"), 409, "conflict")
    assert "[publish cfg]" in r["message"], r
    expect(k.delete("/api/v1/sites/gone"), 404, "not-found")
    audit = [e for e in _audit(env, 50) if e["action"] == "site.delete"]
    assert audit and audit[0]["target"] == "gone", audit


def test_connector_rename_and_remove(env):
    k = env.key()
    c = env.connector("rm-1", env.cloud.token("rm"), tunnels=1)
    j = expect(k.patch(f"/api/v1/connectors/{c.id}", {"name": "rm-renamed"}), 200)
    assert j["name"] == "rm-renamed" and j["state"] == "online", j
    assert stored_connector(env, c.id)["name"] == "rm-renamed"
    expect(k.patch(f"/api/v1/connectors/{c.id}", {"name": "-bad"}), 400, "bad-field")
    expect(k.patch("/api/v1/connectors/c-000000000000", {"name": "x"}), 404, "not-found")
    r = expect(k.delete(f"/api/v1/connectors/{c.id}"), 409, "conflict")
    assert "not revoked" in r["message"], r
    expect(k.post(f"/api/v1/connectors/{c.id}/revoke"), 200)
    expect(k.delete(f"/api/v1/connectors/{c.id}"), 204)
    expect(k.get(f"/api/v1/connectors/{c.id}"), 404, "not-found")
    cs = expect(k.get("/api/v1/connectors"), 200)["connectors"]
    assert c.id not in [x["id"] for x in cs], cs
    acts = {(e["action"], e["target"]) for e in _audit(env, 50)}
    assert ("connector.rename", c.id) in acts and ("connector.remove", c.id) in acts, acts
    env.alive()


# --------------------------------------------------------------------------
# defect 7: read state per administrator, subjects by name

def test_notifications_read_per_administrator_and_named(env):
    k = env.key()
    c = env.connector("note-1", env.cloud.token("note"), start=False)
    expect(k.post(f"/api/v1/connectors/{c.id}/revoke"), 200)
    a = env.session(env.new_admin("full"))
    b = env.session(env.new_admin("full"))

    def note(client):
        r = expect(client.get("/api/v1/notifications?limit=500"), 200)
        ns = [n for n in r["notifications"]
              if n["kind"] == "connector-revoked" and n["subject"] == c.id]
        assert len(ns) == 1, r
        return r["unread"], ns[0]
    ua, na = note(a)
    ub, nb = note(b)
    assert na["read_at"] is None and nb["read_at"] is None, (na, nb)
    assert na["subject_name"] == "note-1", na
    r = expect(a.post(f"/api/v1/notifications/{na['id']}/read"), 200)
    assert r["unread"] == ua - 1, (r, ua)
    ua2, na2 = note(a)
    ub2, nb2 = note(b)
    assert ua2 == ua - 1 and na2["read_at"] is not None, (ua2, na2)
    # The other administrator's bell and list did not move.
    assert ub2 == ub and nb2["read_at"] is None, (ub2, nb2)
    unread_b = expect(b.get("/api/v1/notifications?unread=1&limit=500"), 200)["notifications"]
    assert na["id"] in [n["id"] for n in unread_b], unread_b
    unread_a = expect(a.get("/api/v1/notifications?unread=1&limit=500"), 200)["notifications"]
    assert na["id"] not in [n["id"] for n in unread_a], unread_a
    # Read all, for b only.
    assert expect(b.post("/api/v1/notifications/read-all"), 200)["unread"] == 0
    assert note(b)[0] == 0
    assert note(a)[0] == ua - 1
