"""The REST API (/api/v1/, docs/api.md): sites, connectors, enrollment
tokens, published services, required addresses, API keys, notifications,
connectivity checks and the audit log, with real connectors carrying real
streams, and the listener's handling of malformed HTTP.

The environment is test_api.py's Env (a cloud of this module's own): the
internal services, `[publish cfg]` in cloud.conf (site hq -> echo),
connector hq-a of site hq (running, two tunnels) and idle-1 of site idle
(enrolled, never started). Connectors reach their targets by address
(127.0.0.1:PORT) directly.
"""

import functools
import os
import re
import socket
import time

import pytest

import apiclient
import cloudpeers as cp
import peers
from test_api import PW, SLOW, expect, fields, key_id, make_env

pytestmark = pytest.mark.skipif(
    not os.access(cp.cloud_path(), os.X_OK) or not os.access(peers.connector_path(), os.X_OK),
    reason=f"{cp.cloud_path()} or {peers.connector_path()} missing: run make "
           "(make SAN=1 with UPLINK_BUILD=build-san)")

SITE_FIELDS = {"id", "name", "created_at", "state", "connectors_total", "connectors_online",
               "redundancy"}
CONNECTOR_FIELDS = {"id", "name", "site", "state", "version", "created_at", "last_seen",
                    "revoked_at", "cert_not_after", "drained", "tunnels", "tunnels_expected",
                    "streams", "bytes_in", "bytes_out", "rtt_ms", "peer", "last_check",
                    "instances", "outdated", "newest_release"}
TOKEN_FIELDS = {"id", "site", "created_at", "expires_at", "used_at", "used_by", "revoked_at",
                "state"}
SERVICE_FIELDS = {"name", "site", "target", "listen", "source", "created_at", "updated_at"}
KEY_FIELDS = {"id", "name", "scope", "sites", "created_at", "last_used", "revoked_at"}
NOTE_FIELDS = {"id", "kind", "severity", "subject", "subject_name", "message", "created_at",
               "resolved_at", "read_at"}
AUDIT_FIELDS = {"id", "at", "actor", "actor_kind", "address", "action", "target", "detail"}
CHECK_FIELDS = {"id", "connector", "at", "trigger", "ok", "passed", "failed", "report"}
LAST_CHECK_FIELDS = {"id", "at", "ok", "passed", "failed"}
KIB = 1024


@pytest.fixture(scope="module")
def env(workdir):
    e = make_env(workdir, "api-objects")
    try:
        yield e
    finally:
        e.stop()


poll = functools.partial(cp.poll, interval=0.1)


def connector(env, cid):
    return expect(env.key().get(f"/api/v1/connectors/{cid}"), 200)


def echo_works(port, payload=b"ping through the api"):
    try:
        return cp.echo_once(port, payload, timeout=5 * SLOW) == payload
    except OSError:
        return False


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


# --------------------------------------------------------------------------
# redundancy (first: the offline notifications it leads to come after a
# grace period, checked at the end of the file)

def _site(env, name):
    return expect(env.key().get(f"/api/v1/sites/{name}"), 200)


def _open_notes(env, kind, subject):
    ns = expect(env.key().get("/api/v1/notifications"), 200)["notifications"]
    return [n for n in ns if n["kind"] == kind and subject in n["subject"]]


@pytest.fixture(scope="module")
def duo(env):
    """Site duo with connectors duo-1 and duo-2 (both online: redundancy),
    then duo-2 stopped. The cloud waits a grace period (10 s) before it
    raises the offline notifications, so the tests that look for them are
    at the end of this file: the others run meanwhile.
    {"d1", "d2", "before": the site with both online}."""
    k = env.key()
    expect(k.post("/api/v1/sites", {"name": "duo"}), 201)
    d1 = env.connector("duo-1", expect(k.post("/api/v1/tokens", {"site": "duo"}), 201)["token"])
    d2 = env.connector("duo-2", expect(k.post("/api/v1/tokens", {"site": "duo"}), 201)["token"])
    before = poll(lambda: (lambda x: x if x["connectors_online"] == 2 else None)(
        _site(env, "duo")), 10 * SLOW, "site duo with two connectors online")
    assert d2.stop() == 0
    return {"d1": d1, "d2": d2, "before": before}


def test_site_redundancy_and_a_connector_going_offline(env, duo):
    s = duo["before"]
    assert (s["state"], s["connectors_total"], s["redundancy"]) == ("online", 2, True), s
    assert {c["id"] for c in s["connectors"]} == {duo["d1"].id, duo["d2"].id}, s
    d2 = duo["d2"]
    c2 = poll(lambda: (lambda x: x if x["state"] == "offline" else None)(connector(env, d2.id)),
              10 * SLOW, "duo-2 offline")
    assert c2["tunnels"] == 0 and c2["revoked_at"] is None, c2
    s = _site(env, "duo")
    assert (s["state"], s["connectors_online"], s["redundancy"]) == ("degraded", 1, False), s


# --------------------------------------------------------------------------
# sites

def test_sites_list(env):
    sites = {s["name"]: s for s in expect(env.key().get("/api/v1/sites"), 200)["sites"]}
    for s in sites.values():
        fields(s, SITE_FIELDS, "SITE")
    hq = sites["hq"]
    assert (hq["state"], hq["connectors_total"], hq["connectors_online"], hq["redundancy"]) \
        == ("online", 1, 1, False), hq
    idle = sites["idle"]
    assert (idle["state"], idle["connectors_total"], idle["connectors_online"]) \
        == ("offline", 1, 0), idle


def test_site_create_and_conflicts(env):
    k = env.key()
    before = int(time.time())
    s = expect(k.post("/api/v1/sites", {"name": "branch"}), 201)
    # docs/api.md: SITE; the cloud adds "connectors": [] (harmless)
    fields({x: v for x, v in s.items() if x != "connectors"}, SITE_FIELDS, "POST /api/v1/sites")
    assert s.get("connectors", []) == [], s
    assert s["name"] == "branch" and s["state"] == "empty", s
    assert (s["connectors_total"], s["connectors_online"], s["redundancy"]) == (0, 0, False), s
    assert before - 1 <= s["created_at"] <= time.time() + 1, s
    expect(k.post("/api/v1/sites", {"name": "branch"}), 409, "conflict")
    expect(k.post("/api/v1/sites", {"name": "BRANCH"}), 409, "conflict")
    got = expect(k.get("/api/v1/sites/branch"), 200)
    fields(got, SITE_FIELDS | {"connectors"}, "GET /api/v1/sites/NAME")
    assert got["connectors"] == [], got
    assert any(x["name"] == "branch" for x in expect(k.get("/api/v1/sites"), 200)["sites"])


@pytest.mark.parametrize("name", ["", "-lead", "has space", "a/b", "x" * 64, "é"])
def test_site_bad_name_400(env, name):
    r = env.key().post("/api/v1/sites", {"name": name})
    expect(r, 400, "bad-field")
    assert "name" in r.body["message"], r


def test_site_detail_lists_its_connectors(env):
    hq = expect(env.key().get("/api/v1/sites/hq"), 200)
    assert [c["id"] for c in hq["connectors"]] == [env.a.id], hq
    fields(hq["connectors"][0], CONNECTOR_FIELDS, "CONNECTOR in SITE")
    expect(env.key().get("/api/v1/sites/nowhere"), 404, "not-found")


# --------------------------------------------------------------------------
# connectors

def test_connectors_list_and_filter(env):
    k = env.key()
    cs = expect(k.get("/api/v1/connectors"), 200)["connectors"]
    ids = {c["id"] for c in cs}
    assert {env.a.id, env.idle.id} <= ids, cs
    hq = expect(k.get("/api/v1/connectors?site=hq"), 200)["connectors"]
    assert [c["id"] for c in hq] == [env.a.id], hq
    expect(k.post("/api/v1/sites", {"name": "filter-empty"}), 201)
    assert expect(k.get("/api/v1/connectors?site=filter-empty"), 200)["connectors"] == []


def test_connector_detail_live(env):
    before = cp.echo_once(env.cloud.publish_ports["cfg"], b"x" * 5000, timeout=10 * SLOW)
    assert before == b"x" * 5000

    def live():
        c = connector(env, env.a.id)
        assert c["bytes_in"] > 0 and c["bytes_out"] > 0, c
        return c
    c = poll(live, 5 * SLOW, "byte counts of hq-a")
    fields(c, CONNECTOR_FIELDS, "GET /api/v1/connectors/ID")
    assert c["name"] == "hq-a" and c["site"] == "hq", c
    assert c["state"] == "online", c
    assert c["tunnels"] == 2 and c["tunnels_expected"] == 2, c
    assert c["drained"] is False and c["revoked_at"] is None, c
    assert isinstance(c["streams"], int) and c["streams"] >= 0, c
    assert c["cert_not_after"] > time.time(), c
    assert isinstance(c["last_seen"], int) and abs(c["last_seen"] - time.time()) < 60, c
    assert isinstance(c["version"], str) and c["version"], c
    assert "127.0.0.1" in str(c["peer"]), c
    assert c["rtt_ms"] is None or isinstance(c["rtt_ms"], (int, float)), c
    if c["last_check"] is not None:
        assert LAST_CHECK_FIELDS <= set(c["last_check"]), c


def test_connector_never_run_is_offline(env):
    c = connector(env, env.idle.id)
    assert c["state"] == "offline" and c["tunnels"] == 0, c
    assert c["last_seen"] is None, c


@pytest.mark.parametrize("path", ["/api/v1/connectors/c-000000000000",
                                  "/api/v1/connectors/nonsense",
                                  "/api/v1/connectors/c-000000000000/checks"])
def test_connector_unknown_404(env, path):
    expect(env.key().get(path), 404, "not-found")


@pytest.mark.parametrize("action", ["revoke", "drain", "resume", "check"])
def test_connector_action_unknown_404(env, action):
    expect(env.key().post(f"/api/v1/connectors/c-000000000000/{action}"), 404, "not-found")


def test_drain_and_resume(env):
    k = env.key()
    port = env.cloud.publish_ports["cfg"]
    with cp.connect(port) as open_stream:           # open before the drain
        open_stream.settimeout(5 * SLOW)
        open_stream.sendall(b"one")
        assert open_stream.recv(10) == b"one"
        try:
            c = expect(k.post(f"/api/v1/connectors/{env.a.id}/drain"), 200)
            fields(c, CONNECTOR_FIELDS, "POST .../drain")
            assert c["drained"] is True and c["state"] == "draining", c
            assert connector(env, env.a.id)["drained"] is True
            # no new stream goes to it (the only connector of hq) ...
            assert not echo_works(port), "a new stream went to the drained connector"
            # ... the open one goes on
            open_stream.sendall(b"two")
            assert open_stream.recv(10) == b"two"
        finally:
            c = expect(k.post(f"/api/v1/connectors/{env.a.id}/resume"), 200)
        assert c["drained"] is False, c
        poll(lambda: connector(env, env.a.id)["state"] == "online", 5 * SLOW, "online again")
        assert poll(lambda: echo_works(port), 5 * SLOW, "streams after resume")


# --------------------------------------------------------------------------
# enrollment tokens, and a connector enrolled with one

def test_token_create(env):
    k = env.key()
    t = expect(k.post("/api/v1/tokens", {"site": "hq"}), 201)
    fields(t, TOKEN_FIELDS | {"token", "command"}, "POST /api/v1/tokens")
    assert t["site"] == "hq" and t["state"] == "valid", t
    assert t["expires_at"] == t["created_at"] + 24 * 3600, t
    assert (t["used_at"], t["used_by"], t["revoked_at"]) == (None, None, None), t
    assert t["token"].startswith("uplink1-"), t
    assert "uplink-connector enroll" in t["command"] and t["token"] in t["command"], t
    t30 = expect(k.post("/api/v1/tokens", {"site": "hq", "ttl": "30m"}), 201)
    assert t30["expires_at"] == t30["created_at"] + 1800, t30
    t365 = expect(k.post("/api/v1/tokens", {"site": "hq", "ttl": "365d"}), 201)
    assert t365["expires_at"] == t365["created_at"] + 365 * 86400, t365
    # the secret is shown once
    r = k.get("/api/v1/tokens")
    toks = expect(r, 200)["tokens"]
    for x in toks:
        fields(x, TOKEN_FIELDS, "TOKEN in GET /api/v1/tokens")
    assert t["id"] in {x["id"] for x in toks}, toks
    for secret in (t["token"], t30["token"]):
        assert secret not in r.raw.decode(), "GET /api/v1/tokens shows a token's secret"


@pytest.mark.parametrize("ttl", ["366d", "0s", "-1h", "abc", ""])
def test_token_bad_ttl_400(env, ttl):
    r = env.key().post("/api/v1/tokens", {"site": "hq", "ttl": ttl})
    expect(r, 400, "bad-field")
    assert "ttl" in r.body["message"], r


def test_token_revoke(env):
    k = env.key()
    t = expect(k.post("/api/v1/tokens", {"site": "hq"}), 201)
    r = expect(k.post(f"/api/v1/tokens/{t['id']}/revoke"), 200)
    fields(r, TOKEN_FIELDS, "POST /api/v1/tokens/ID/revoke")
    assert r["state"] == "revoked" and isinstance(r["revoked_at"], int), r
    expect(k.post(f"/api/v1/tokens/{t['id']}/revoke"), 409, "conflict")
    expect(k.post("/api/v1/tokens/t-000000000000/revoke"), 404, "not-found")
    # a revoked token does not enroll
    c = cp.Connector(os.path.join(env.dir, "tok-revoked"), prefix=env.prefix)
    assert c.enroll(t["token"]).rc != 0


@pytest.fixture(scope="module")
def rev(env):
    """A connector of site rev enrolled with a token made through the API,
    running: (connector, token)."""
    expect(env.key().post("/api/v1/sites", {"name": "rev"}), 201)
    t = expect(env.key().post("/api/v1/tokens", {"site": "rev", "ttl": "1h"}), 201)
    c = env.connector("rev-1", t["token"])
    return c, t


def test_token_enrolls_a_connector(env, rev):
    c, t = rev
    toks = {x["id"]: x for x in expect(env.key().get("/api/v1/tokens"), 200)["tokens"]}
    used = toks[t["id"]]
    assert used["state"] == "used" and used["used_by"] == c.id, used
    assert isinstance(used["used_at"], int), used
    expect(env.key().post(f"/api/v1/tokens/{t['id']}/revoke"), 409, "conflict")
    got = poll(lambda: (lambda x: x if x["state"] == "online" and x["tunnels"] == 2 else None)(
        connector(env, c.id)), 10 * SLOW, "rev-1 online with 2 tunnels")
    assert got["site"] == "rev" and got["name"] == "rev-1", got


@pytest.fixture(scope="module")
def revoked(env, rev):
    c, _ = rev
    before = env.cloud.log_offset()
    t0 = time.monotonic()
    r = env.key().post(f"/api/v1/connectors/{c.id}/revoke")
    return c, r, t0, before


def test_revoke_connector(env, revoked):
    c, r, t0, before = revoked
    b = expect(r, 200)
    fields(b, CONNECTOR_FIELDS, "POST .../revoke")
    assert b["state"] == "revoked" and isinstance(b["revoked_at"], int), b
    env.cloud.wait_log(rf"closing: connector {c.id} was revoked", 3 * SLOW, since=before)
    got = poll(lambda: (lambda x: x if x["tunnels"] == 0 else None)(connector(env, c.id)),
               3 * SLOW, "the revoked connector's tunnels gone")
    assert got["state"] == "revoked", got
    assert time.monotonic() - t0 < 3 * SLOW
    listed = [x for x in env.cloud.connectors() if x["id"] == c.id]
    assert listed and listed[0]["revoked_at"], listed
    expect(env.key().post(f"/api/v1/connectors/{c.id}/revoke"), 409, "conflict")
    s = {x["name"]: x for x in expect(env.key().get("/api/v1/sites"), 200)["sites"]}["rev"]
    assert s["connectors_online"] == 0 and s["state"] != "online", s


def test_revoke_raises_a_notification(env, revoked):
    c = revoked[0]

    def note():
        ns = expect(env.key().get("/api/v1/notifications"), 200)["notifications"]
        return [n for n in ns if n["kind"] == "connector-revoked"
                and (c.id in n["subject"] or "rev-1" in n["subject"])]
    ns = poll(note, 5 * SLOW, "a connector-revoked notification")
    assert len(ns) == 1, ns
    fields(ns[0], NOTE_FIELDS, "NOTE")
    assert ns[0]["read_at"] is None and ns[0]["severity"] in ("info", "warning", "error"), ns


def test_notifications_read_and_read_all(env, revoked):
    k = env.key()
    b = expect(k.get("/api/v1/notifications"), 200)
    assert set(b) == {"unread", "notifications"}, b
    notes = b["notifications"]
    assert notes, "no notification at all (the revocation raises one)"
    ids = [n["id"] for n in notes]
    assert ids == sorted(ids, reverse=True), "newest first"
    unread = [n for n in notes if n["read_at"] is None]
    assert b["unread"] == len(unread) >= 1, b
    u = expect(k.get("/api/v1/notifications?unread=1"), 200)
    assert [n["id"] for n in u["notifications"]] == [n["id"] for n in unread], u
    one = unread[0]["id"]
    r = k.post(f"/api/v1/notifications/{one}/read")
    assert r.status in (200, 204), r
    after = expect(k.get("/api/v1/notifications"), 200)
    assert after["unread"] == b["unread"] - 1, after
    n1 = next(n for n in after["notifications"] if n["id"] == one)
    assert isinstance(n1["read_at"], int), n1
    expect(k.post("/api/v1/notifications/999999/read"), 404, "not-found")
    r = k.post("/api/v1/notifications/read-all")
    assert r.status in (200, 204), r
    done = expect(k.get("/api/v1/notifications"), 200)
    assert done["unread"] == 0 and all(n["read_at"] for n in done["notifications"]), done
    assert expect(k.get("/api/v1/notifications?unread=1"), 200)["notifications"] == []
    lim = expect(k.get("/api/v1/notifications?limit=1"), 200)["notifications"]
    assert len(lim) == 1, lim


def test_revoked_connector_cannot_come_back(env, revoked):
    c = revoked[0]
    env.cloud.wait_log(rf"tunnel refused: connector {c.id} was revoked", 15 * SLOW,
                       since=revoked[3])
    assert connector(env, c.id)["state"] == "revoked"


def test_revoked_connector_certificate_opens_nothing(env, revoked):
    c = revoked[0]
    cl = env.client(client_cert=(os.path.join(c.state, "connector.pem"),
                                 os.path.join(c.state, "connector.key")))
    try:
        r = cl.get("/api/v1/requirements")
    except OSError:
        return                  # refused in the handshake: fine too
    assert r.status in (401, 403), r


# --------------------------------------------------------------------------
# published services

def test_service_created_listens_at_once(env):
    k = env.key()
    port = peers.free_port()
    before = int(time.time())
    s = expect(k.post("/api/v1/services", {"name": "web", "site": "hq",
                                           "target": env.target("http"),
                                           "listen": f"127.0.0.1:{port}"}), 201)
    fields(s, SERVICE_FIELDS, "POST /api/v1/services")
    assert (s["name"], s["site"], s["target"], s["listen"], s["source"]) == \
        ("web", "hq", env.target("http"), f"127.0.0.1:{port}", "api"), s
    assert before - 1 <= s["created_at"] <= s["updated_at"] <= time.time() + 1, s
    status, body = cp.http_get(port, "/through-the-api", timeout=10 * SLOW)
    assert status == 200 and cp.INDEX_MARK in body and "/through-the-api" in body, body
    assert expect(k.get("/api/v1/services/web"), 200) == s
    listed = {x["name"]: x for x in expect(k.get("/api/v1/services"), 200)["services"]}
    assert listed["web"] == s, listed
    expect(k.post("/api/v1/services", {"name": "web", "site": "hq", "target": env.target("http"),
                                       "listen": f"127.0.0.1:{peers.free_port()}"}),
           409, "conflict")
    expect(k.post("/api/v1/services", {"name": "WEB", "site": "hq",
                                       "target": env.target("http"),
                                       "listen": f"127.0.0.1:{peers.free_port()}"}),
           409, "conflict")


def test_service_patch_moves_it_and_delete_stops_it(env):
    k = env.key()
    p1, p2 = peers.free_port(), peers.free_port()
    expect(k.post("/api/v1/services", {"name": "mover", "site": "hq",
                                       "target": env.target("echo"),
                                       "listen": f"127.0.0.1:{p1}"}), 201)
    assert echo_works(p1)
    s = expect(k.patch("/api/v1/services/mover", {"listen": f"127.0.0.1:{p2}"}), 200)
    fields(s, SERVICE_FIELDS, "PATCH /api/v1/services/NAME")
    assert s["listen"] == f"127.0.0.1:{p2}" and s["target"] == env.target("echo"), s
    assert s["updated_at"] >= s["created_at"], s
    assert echo_works(p2), "the new listen port does not reach the target"
    assert poll(lambda: refused(p1), 2 * SLOW, "the old port closed")
    s = expect(k.patch("/api/v1/services/mover", {"target": env.target("http")}), 200)
    assert s["target"] == env.target("http"), s
    status, body = cp.http_get(p2, "/moved", timeout=10 * SLOW)
    assert status == 200 and "/moved" in body, body
    r = k.delete("/api/v1/services/mover")
    expect(r, 204)
    assert poll(lambda: refused(p2), 2 * SLOW, "the deleted service's port closed")
    expect(k.get("/api/v1/services/mover"), 404, "not-found")
    expect(k.delete("/api/v1/services/mover"), 404, "not-found")
    expect(k.patch("/api/v1/services/mover", {"target": env.target("http")}), 404, "not-found")


def test_config_service_is_listed_but_409(env):
    k = env.key()
    cfg = expect(k.get("/api/v1/services/cfg"), 200)
    fields(cfg, SERVICE_FIELDS, "GET /api/v1/services/cfg")
    assert (cfg["source"], cfg["site"], cfg["target"]) == ("config", "hq", env.target("echo")), \
        cfg
    assert cfg["listen"].endswith(f":{env.cloud.publish_ports['cfg']}"), cfg
    expect(k.patch("/api/v1/services/cfg", {"target": env.target("http")}), 409, "conflict")
    expect(k.delete("/api/v1/services/cfg"), 409, "conflict")
    expect(k.post("/api/v1/services", {"name": "cfg", "site": "hq", "target": env.target("http"),
                                       "listen": f"127.0.0.1:{peers.free_port()}"}),
           409, "conflict")
    assert echo_works(env.cloud.publish_ports["cfg"])


@pytest.mark.parametrize("field,value", [
    ("listen", "nonsense"), ("listen", "127.0.0.1:0"), ("listen", "127.0.0.1:70000"),
    ("target", "no-port"), ("target", "host:0"), ("name", "bad name"), ("name", ""),
])
def test_service_bad_fields_400(env, field, value):
    body = {"name": "badsvc", "site": "hq", "target": env.target("echo"),
            "listen": f"127.0.0.1:{peers.free_port()}"}
    body[field] = value
    r = env.key().post("/api/v1/services", body)
    expect(r, 400, "bad-field")
    assert field in r.body["message"], r


def test_service_unknown_site_and_taken_port(env):
    k = env.key()
    r = k.post("/api/v1/services", {"name": "nosite", "site": "no-such-site",
                                    "target": env.target("echo"),
                                    "listen": f"127.0.0.1:{peers.free_port()}"})
    assert r.status in (400, 404) and r.error in ("bad-field", "not-found"), r
    r = k.post("/api/v1/services", {"name": "taken", "site": "hq", "target": env.target("echo"),
                                    "listen": f"127.0.0.1:{env.cloud.publish_ports['cfg']}"})
    assert r.status in (400, 409), r
    expect(k.get("/api/v1/services/taken"), 404, "not-found")
    assert echo_works(env.cloud.publish_ports["cfg"])


# --------------------------------------------------------------------------
# required addresses

def test_requirements_json(env):
    cat = expect(env.key().get("/api/v1/requirements"), 200)
    cloud = [s for s in cat["services"] if s["name"] == "cloud"]
    assert len(cloud) == 1, cat
    addrs = cloud[0]["addresses"]
    assert any(a["host"] == "127.0.0.1" and a.get("port") == env.cloud.port
               and a.get("scheme", "https") == "https" for a in addrs), addrs
    assert any(a["host"] == "127.0.0.1" and a.get("port") == env.cloud.http_port
               and a.get("scheme") == "http" and a.get("path") == "/crl" for a in addrs), addrs


def test_requirements_text(env):
    r = env.key().get("/api/v1/requirements?format=text")
    assert r.status == 200, r
    assert (r.headers.get("Content-Type") or "").startswith("text/plain"), dict(r.headers)
    lines = [ln for ln in r.body.splitlines() if ln.strip() and not ln.startswith("#")]
    by = {ln.split()[0]: ln for ln in lines}
    tls = by.get(f"127.0.0.1:{env.cloud.port}")
    crl = by.get(f"127.0.0.1:{env.cloud.http_port}")
    assert tls and crl, r.body
    assert "#" in tls and "https" in tls and "cloud" in tls, tls
    assert "#" in crl and "http" in crl and "cloud" in crl, crl


def test_requirements_put_delete(env):
    k = env.key()
    svc = {"purpose": "software updates",
           "addresses": [{"host": "updates.example.net", "port": 443},
                         {"host": "*.cdn.example.net", "probe": "a.cdn.example.net"}]}
    b = expect(k.put("/api/v1/requirements/updates", svc), 200)
    assert b["name"] == "updates" and b["purpose"] == "software updates", b
    assert [a["host"] for a in b["addresses"]] == ["updates.example.net", "*.cdn.example.net"], b
    cat = expect(k.get("/api/v1/requirements"), 200)
    assert any(s["name"] == "updates" for s in cat["services"]), cat
    assert "updates.example.net:443" in k.get("/api/v1/requirements?format=text").body
    # PUT replaces
    b = expect(k.put("/api/v1/requirements/updates",
                     {"addresses": [{"host": "new.example.net"}]}), 200)
    assert [a["host"] for a in b["addresses"]] == ["new.example.net"], b
    text = k.get("/api/v1/requirements?format=text").body
    assert "new.example.net:443" in text and "updates.example.net" not in text, text
    expect(k.delete("/api/v1/requirements/updates"), 204)
    cat = expect(k.get("/api/v1/requirements"), 200)
    assert not any(s["name"] == "updates" for s in cat["services"]), cat
    expect(k.delete("/api/v1/requirements/updates"), 404, "not-found")


def test_requirements_cloud_is_built_in_409(env):
    k = env.key()
    expect(k.put("/api/v1/requirements/cloud", {"addresses": [{"host": "x.example.net"}]}),
           409, "conflict")
    expect(k.delete("/api/v1/requirements/cloud"), 409, "conflict")


@pytest.mark.parametrize("addresses", [
    [{"host": "x.example.net", "port": 70000}], [{"host": "x.example.net", "scheme": "ftp"}],
    [{"port": 443}], [{"host": "x.example.net", "colour": "red"}], "x.example.net",
])
def test_requirements_bad_address_400(env, addresses):
    r = env.key().put("/api/v1/requirements/bad", {"addresses": addresses})
    assert r.status == 400 and r.error in ("bad-field", "unknown-field", "missing-field"), r
    assert "addresses" in r.body["message"], r


def test_requirements_for_a_connector_certificate(env):
    c = env.client(client_cert=(os.path.join(env.a.state, "connector.pem"),
                                os.path.join(env.a.state, "connector.key")))
    cat = expect(c.get("/api/v1/requirements"), 200)
    assert any(s["name"] == "cloud" for s in cat["services"]), cat
    # a connector certificate opens nothing else
    expect(c.get("/api/v1/sites"), 401, "unauthenticated")


# --------------------------------------------------------------------------
# API keys

def test_key_create_use_revoke(env):
    k = env.key()
    made = expect(k.post("/api/v1/keys", {"name": "ci", "scope": "read"}), 201)
    fields(made, KEY_FIELDS | {"key"}, "POST /api/v1/keys")
    assert made["name"] == "ci" and made["scope"] == "read" and made["revoked_at"] is None, made
    assert made["key"].startswith(f"uk_{made['id']}_"), made
    assert len(made["id"]) == 12 and all(ch in "0123456789abcdef" for ch in made["id"]), made
    r = k.get("/api/v1/keys")
    keys = expect(r, 200)["keys"]
    for x in keys:
        fields(x, KEY_FIELDS, "KEY in GET /api/v1/keys")
    assert made["id"] in {x["id"] for x in keys}, keys
    assert made["key"].split("_", 2)[2] not in r.raw.decode(), "GET /api/v1/keys shows a secret"
    ci = env.client(key=made["key"])
    expect(ci.get("/api/v1/sites"), 200)
    used = next(x for x in expect(k.get("/api/v1/keys"), 200)["keys"] if x["id"] == made["id"])
    assert isinstance(used["last_used"], int) and abs(used["last_used"] - time.time()) < 60, used
    expect(ci.post("/api/v1/sites", {"name": "by-ci"}), 403, "read-only")
    rv = expect(k.post(f"/api/v1/keys/{made['id']}/revoke"), 200)
    fields(rv, KEY_FIELDS, "POST /api/v1/keys/ID/revoke")
    assert isinstance(rv["revoked_at"], int), rv
    r = ci.get("/api/v1/sites")
    expect(r, 401, "unauthenticated")
    assert r.body.get("reason") == "bad-key", r
    expect(k.post("/api/v1/keys/000000000000/revoke"), 404, "not-found")


def test_full_key_made_through_the_api_works(env):
    made = expect(env.key().post("/api/v1/keys", {"name": "full-ci", "scope": "full"}), 201)
    expect(env.client(key=made["key"]).post("/api/v1/sites", {"name": "by-full-ci"}), 201)
    # and for the ingress proxy (the same keys): it is listed by the CLI
    r = env.cloud.admin(["key", "list", "--json"])
    assert r.rc == 0 and made["id"] in {x["id"] for x in r.json}, r


@pytest.mark.parametrize("body", [{"name": "x", "scope": "admin"}, {"name": "", "scope": "read"},
                                  {"name": "x" * 200, "scope": "read"}])
def test_key_bad_fields_400(env, body):
    expect(env.key().post("/api/v1/keys", body), 400, "bad-field")


# --------------------------------------------------------------------------
# connectivity checks (the connector's side: GET /v1/check over a tunnel)

def test_check_on_demand(env):
    k = env.client(key=env.full_key, timeout=70 * SLOW)
    before = int(time.time())
    r = k.post(f"/api/v1/connectors/{env.a.id}/check")
    b = expect(r, 200)
    fields(b, CHECK_FIELDS, "POST .../check")
    assert b["connector"] == env.a.id and b["trigger"] == "manual", b
    assert before - 1 <= b["at"] <= time.time() + 1, b
    assert isinstance(b["ok"], bool) and isinstance(b["report"], dict), b
    assert b["passed"] + b["failed"] == len(b["report"]["results"]), b
    assert b["ok"] == b["report"]["ok"], b
    # the report tested the cloud's own addresses, from the connector
    addrs = {(x["address"], x["port"]) for x in b["report"]["results"]}
    assert ("127.0.0.1", env.cloud.port) in addrs, b["report"]
    checks = expect(env.key().get(f"/api/v1/connectors/{env.a.id}/checks"), 200)["checks"]
    assert checks and checks[0]["id"] == b["id"], checks
    ids = [c["id"] for c in checks]
    assert ids == sorted(ids, reverse=True), ids
    last = connector(env, env.a.id)["last_check"]
    assert LAST_CHECK_FIELDS <= set(last), last      # the cloud adds connector, trigger
    assert {x: last[x] for x in LAST_CHECK_FIELDS} == {x: b[x] for x in LAST_CHECK_FIELDS}, last


def test_check_after_connect(env):
    def connect_check():
        checks = expect(env.key().get(f"/api/v1/connectors/{env.a.id}/checks"), 200)["checks"]
        return [c for c in checks if c["trigger"] == "connect"]
    got = poll(connect_check, 5 * SLOW, "a check with trigger connect")
    fields(got[0], CHECK_FIELDS, "CHECK")


def test_check_of_offline_connector_503(env):
    r = env.key().post(f"/api/v1/connectors/{env.idle.id}/check")
    expect(r, 503, "connector-offline")


# --------------------------------------------------------------------------
# the audit log

def _audit(env, limit=200):
    return expect(env.key().get(f"/api/v1/audit?limit={limit}"), 200)["entries"]


def test_audit_sign_in_failed_sign_in_and_sign_out(env):
    ghost = f"ghost-{os.getpid()}@example.net"
    expect(env.client(source_address="127.0.0.11").sign_in(ghost, PW), 401, "unauthenticated")
    email = env.new_admin()
    s = env.session(email)
    expect(s.sign_out(), 204)
    entries = _audit(env)
    for e in entries[:5]:
        fields(e, AUDIT_FIELDS, "ENTRY")
    failed = [e for e in entries if ghost in (str(e["actor"]) + str(e["target"]) +
                                              str(e["detail"]))]
    assert failed, f"no entry names the failed sign-in of {ghost}: {entries[:10]}"
    assert re.match(r"127\.0\.0\.11\b", str(failed[0]["address"])), failed[0]
    mine = [e for e in entries if e["actor"] == email]
    assert len(mine) >= 2, f"expected the sign-in and the sign-out of {email}: {entries[:10]}"
    assert all(e["actor_kind"] == "admin" for e in mine), mine
    assert all(str(e["address"]).startswith("127.0.0.1") for e in mine), mine
    assert all(e["action"].startswith("session") for e in mine), mine
    assert len({e["action"] for e in mine}) == 2, mine          # in and out differ
    assert mine[0]["id"] > mine[1]["id"], "newest first"


def test_audit_records_key_changes(env):
    expect(env.key().post("/api/v1/sites", {"name": "audited"}), 201)
    e = next((e for e in _audit(env, 10) if "audited" in str(e["target"]) + str(e["detail"])),
             None)
    assert e is not None, _audit(env, 10)
    assert e["actor"] == key_id(env.full_key) and e["actor_kind"] == "key", e
    assert "audited" in str(e["target"]) + str(e["detail"]), e
    assert str(e["address"]).startswith("127.0.0.1"), e
    assert abs(e["at"] - time.time()) < 5, e


def test_audit_records_admin_changes(env):
    s = env.session(env.new_admin())
    expect(s.post("/api/v1/sites", {"name": "audited-by-admin"}), 201)
    email = s.get("/api/v1/session").body["admin"]["email"]
    e = next((e for e in _audit(env, 10) if "audited-by-admin" in str(e["target"]) +
              str(e["detail"])), None)
    assert e is not None, _audit(env, 10)
    assert e["actor"] == email and e["actor_kind"] == "admin", e
    assert "audited-by-admin" in str(e["target"]) + str(e["detail"]), e


def test_audit_records_the_command_line(env):
    email = env.new_admin(role="read")
    e = next((e for e in _audit(env, 20) if email in str(e["target"])), None)
    assert e is not None, f"admin add of {email} is not in the audit log"
    assert e["actor_kind"] == "cli", e


def test_audit_paging(env):
    k = env.key()
    for i in range(3):
        expect(k.post("/api/v1/sites", {"name": f"page-{i}"}), 201)
    two = expect(k.get("/api/v1/audit?limit=2"), 200)["entries"]
    assert len(two) == 2 and two[0]["id"] > two[1]["id"], two
    nxt = expect(k.get(f"/api/v1/audit?limit=2&before={two[1]['id']}"), 200)["entries"]
    assert len(nxt) == 2 and all(e["id"] < two[1]["id"] for e in nxt), nxt
    everything = expect(k.get("/api/v1/audit"), 200)["entries"]
    assert 3 <= len(everything) <= 100, len(everything)
    ids = [e["id"] for e in everything]
    assert ids == sorted(ids, reverse=True), ids


def test_audit_does_not_hold_secrets(env):
    k = env.key()
    key = expect(k.post("/api/v1/keys", {"name": "audit-secret", "scope": "read"}), 201)["key"]
    tok = expect(k.post("/api/v1/tokens", {"site": "hq"}), 201)["token"]
    expect(k.post("/api/v1/admins", {"email": "secret@example.net",
                                     "password": "a secret password for rita", "role": "read"}), 201)
    raw = k.get("/api/v1/audit?limit=20").raw.decode()
    for secret in (key, key.split("_", 2)[2], tok, "a secret password for rita"):
        assert secret not in raw, f"the audit log shows a secret: {secret[:12]}..."


@pytest.mark.parametrize("path,most", [("/api/v1/notifications?limit=501", 500),
                                       ("/api/v1/audit?limit=1001", 1000)])
def test_limit_above_the_maximum(env, path, most):
    r = env.key().get(path)
    if r.status == 200:         # clamped
        items = r.body.get("notifications", r.body.get("entries"))
        assert len(items) <= most, r
    else:
        expect(r, 400, "bad-field")


@pytest.mark.parametrize("path", ["/api/v1/notifications?limit=abc", "/api/v1/audit?limit=-1",
                                  "/api/v1/audit?before=x", "/api/v1/notifications?limit=0"])
def test_bad_query_400(env, path):
    expect(env.key().get(path), 400, "bad-field")


def test_offline_and_no_redundancy_notifications(env, duo):
    """(at the end of the file: the cloud's grace period ran meanwhile)"""
    k = env.key()
    d2 = duo["d2"]
    off = poll(lambda: _open_notes(env, "connector-offline", d2.id) or
               _open_notes(env, "connector-offline", "duo-2"),
               15 * SLOW, "a connector-offline notification for duo-2")
    red = poll(lambda: _open_notes(env, "site-no-redundancy", "duo"), 15 * SLOW,
               "a site-no-redundancy notification for duo")
    assert len(off) == 1 and len(red) == 1, (off, red)
    assert off[0]["resolved_at"] is None and red[0]["resolved_at"] is None, (off, red)
    assert off[0]["severity"] in ("info", "warning", "error"), off
    # the condition clears: the same notifications are resolved, none is added
    d2.start(wait_tunnels=2, timeout=30 * SLOW)

    def resolved():
        o = [n for n in expect(k.get("/api/v1/notifications"), 200)["notifications"]
             if n["id"] in (off[0]["id"], red[0]["id"])]
        return o if len(o) == 2 and all(n["resolved_at"] for n in o) else None
    poll(resolved, 15 * SLOW, "the notifications resolved once duo-2 is back")
    assert len(_open_notes(env, "site-no-redundancy", "duo")) == 1
    assert len(_open_notes(env, "connector-offline", d2.id)
               or _open_notes(env, "connector-offline", "duo-2")) == 1
    assert _site(env, "duo")["redundancy"] is True


def test_audit_covers_every_change(env, revoked):
    """(at the end: the changes of this file's tests are all made)"""
    entries = _audit(env, 1000)

    def count(target):
        return sum(1 for e in entries if target in str(e["target"]))
    want = {env.a.id: 2,                # drain, resume
            revoked[0].id: 1,           # revoke
            "mover": 4,                 # create, two patches, delete
            "updates": 3,               # two puts, delete
            "duo": 1, "branch": 1}      # sites made
    got = {t: count(t) for t in want}
    assert all(got[t] >= n for t, n in want.items()), \
        f"audit entries per target {got}, expected at least {want}"
    assert all(e["actor_kind"] in ("admin", "key", "cli", "system") for e in entries), entries


# --------------------------------------------------------------------------
# the listener with malformed HTTP

def _tls(env):
    """A raw TLS socket to the cloud's listener (HTTP/1.1)."""
    import socket
    import ssl
    ctx = ssl.create_default_context(cafile=env.ca)
    ctx.set_alpn_protocols(["http/1.1"])
    s = socket.create_connection(("127.0.0.1", env.cloud.port), timeout=10 * SLOW)
    return ctx.wrap_socket(s, server_hostname="127.0.0.1")


def _read_some(s, limit=1 << 16):
    import ssl
    data = b""
    try:
        while len(data) < limit:
            b = s.recv(4096)
            if not b:
                break
            data += b
    except (OSError, ssl.SSLError):
        pass
    return data


def test_keep_alive_connection(env):
    import http.client
    conn = apiclient._Connection("127.0.0.1", env.cloud.port, "127.0.0.1",
                                 env.key().ctx, 10 * SLOW, None)
    try:
        for i in range(3):
            conn.request("GET", "/api/v1/sites",
                         headers={"Authorization": f"Bearer {env.full_key}"})
            r = conn.getresponse()
            assert r.status == 200, (i, r.status, r.read())
            r.read()
        conn.request("POST", "/api/v1/sites", body=b'{"name": "keep-alive"}',
                     headers={"Authorization": f"Bearer {env.full_key}",
                              "Content-Type": "application/json"})
        r = conn.getresponse()
        assert r.status == 201, r.read()
        r.read()
    except http.client.HTTPException as e:
        raise AssertionError(f"the second request on one connection failed: {e!r}")
    finally:
        conn.close()


@pytest.mark.parametrize("what", ["truncated-body", "garbage", "huge-header", "no-host",
                                  "bad-content-length"])
def test_malformed_requests_leave_the_daemon_up(env, what):
    def _send(s, data):
        try:
            s.sendall(data)
        except OSError:         # the cloud may close before it read everything
            pass

    auth = f"Authorization: Bearer {env.full_key}\r\n".encode()
    with _tls(env) as s:
        if what == "truncated-body":
            _send(s, b"POST /api/v1/sites HTTP/1.1\r\nHost: x\r\n" + auth +
                  b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"na")
        elif what == "garbage":
            _send(s, b"\x00\x01 not http at all\r\n\r\n")
            assert not _read_some(s).startswith(b"HTTP/1.1 2")
        elif what == "huge-header":
            _send(s, b"GET /api/v1/sites HTTP/1.1\r\nHost: x\r\n" + auth +
                  b"Cookie: " + b"a" * (64 * KIB) + b"\r\n\r\n")
            head = _read_some(s)
            assert not head.startswith(b"HTTP/1.1 2"), head[:200]
        elif what == "no-host":
            _send(s, b"GET /api/v1/sites HTTP/1.0\r\n" + auth + b"\r\n")
            head = _read_some(s)
            assert head.startswith(b"HTTP/1."), head[:200]
        elif what == "bad-content-length":
            _send(s, b"POST /api/v1/sites HTTP/1.1\r\nHost: x\r\n" + auth +
                  b"Content-Type: application/json\r\nContent-Length: -5\r\n\r\n{}")
            head = _read_some(s)
            assert not head.startswith(b"HTTP/1.1 2"), head[:200]
    env.alive()
    expect(env.key().get("/api/v1/sites"), 200)


def test_daemon_still_up(env):
    env.alive()
    expect(env.key().get("/api/v1/sites"), 200)


# --------------------------------------------------------------------------
# automatic checks on a cloud of their own: check_interval = 2s

def test_checks_on_connect_then_every_interval(workdir):
    """With [cloud] check_interval = 2s the cloud checks a connector a few
    seconds after it connects (trigger connect), then again every interval
    (trigger hourly): each stored, newest first, each with a report."""
    d = os.path.join(workdir, "api-interval")
    cloud = cp.Cloud(os.path.join(d, "cloud"), options={"cloud": {"check_interval": "2s"}})
    conn = None
    try:
        cloud.init().start()
        conn = cp.Connector(os.path.join(d, "c1"), name="c1")
        r = conn.enroll(cloud.token("tick"))
        assert r.rc == 0, r
        cid = re.search(r"connector (c-[0-9a-f]{12})", r.stdout + r.stderr).group(1)
        conn.configure(allow=[], tunnels=1)
        conn.start(wait_tunnels=1, timeout=30 * SLOW)
        api = apiclient.Client(cloud.port, os.path.join(cloud.data, "ca.pem"),
                               key=cloud.key("interval"), timeout=20 * SLOW)

        def triggers():
            checks = expect(api.get(f"/api/v1/connectors/{cid}/checks"), 200)["checks"]
            got = [c["trigger"] for c in reversed(checks)]      # oldest first
            return checks if got[:1] == ["connect"] and "hourly" in got else None
        checks = poll(triggers, 20 * SLOW, "a connect check, then an hourly one")
        for c in checks:
            fields(c, CHECK_FIELDS, "CHECK")
            assert c["connector"] == cid and c["ok"] is True, c
            assert c["report"]["passed"] == 2 and c["report"]["failed"] == 0, c
        assert [c["id"] for c in checks] == sorted((c["id"] for c in checks), reverse=True)
    finally:
        if conn is not None:
            conn.stop(timeout=10)
        cloud.stop()
