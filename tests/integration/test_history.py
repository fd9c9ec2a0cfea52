"""History (issue 16, section 4; docs/api.md "History"): per connector,
per site and in all, tunnels up, streams, bytes each way and round trips
by minute, merged into ten-minute rows after a day and deleted after
seven; the API's bounds. Also: a read-only administrator marks
notifications read for themselves.

One cloud per module (test_api.py's Env: site hq with connector hq-a
running, idle-1 enrolled in site idle) with UPLINK_TEST_SEEN_SECS=1 (the
minute write, and so the history rows, every second; the merge and delete
pass at every write instead of every ten minutes) and [limits]
ping_interval = 1s (round trips at once). Runs on PostgreSQL too
(UPLINK_TEST_STORE=pg): old rows are written with Env.db.
"""

import functools
import os
import time

import pytest

import cloudpeers as cp
import peers
from test_api import SLOW, Env, RITA, expect

pytestmark = pytest.mark.skipif(
    not os.access(cp.cloud_path(), os.X_OK) or not os.access(peers.connector_path(), os.X_OK),
    reason=f"{cp.cloud_path()} or {peers.connector_path()} missing: run make "
           "(make SAN=1 with UPLINK_BUILD=build-san)")

DAY = 86400


class HistEnv(Env):
    """test_api.Env whose cloud pings every second."""

    def start(self):
        real = cp.Cloud

        def cloud(*a, **kw):
            kw.setdefault("options", {"limits": {"ping_interval": "1s"}})
            return real(*a, **kw)
        cp.Cloud = cloud
        try:
            return super().start()
        finally:
            cp.Cloud = real


@pytest.fixture(scope="module")
def env(workdir):
    with cp.env_set("UPLINK_TEST_SEEN_SECS", "1"):
        e = HistEnv(os.path.join(workdir, "history"))
        try:
            e.start()
            yield e
        finally:
            e.stop()


poll = functools.partial(cp.poll, interval=0.3)


def stored(env, cid):
    """bytes_in, bytes_out as the store has them (written with the history)."""
    rows = env.db("SELECT bytes_in, bytes_out FROM connectors WHERE id = ?", (cid,))
    return rows[0]


def hist(env, path, **q):
    qs = "&".join(f"{k}={v}" for k, v in q.items())
    return expect(env.key().get(f"/api/v1/{path}" + (f"?{qs}" if qs else "")), 200)


# --------------------------------------------------------------------------
# traffic shows up

def test_traffic_in_connector_site_and_overview_history(env):
    t0 = int(time.time())
    span = {"from": t0 - 3600, "to": t0 + 3600}
    before = hist(env, f"connectors/{env.a.id}/history", **span)["totals"]
    n = 300 * 1024
    payload = os.urandom(n)
    port = env.cloud.publish_ports["cfg"]
    assert cp.echo_once(port, payload, timeout=20 * SLOW) == payload

    # The history's bytes are the very additions to the connector's
    # stored totals (one transaction): equal once both have the echo.
    def caught_up():
        h = hist(env, f"connectors/{env.a.id}/history", **span)
        bi, bo = stored(env, env.a.id)
        assert h["totals"]["bytes_out"] >= before["bytes_out"] + n, h["totals"]
        assert h["totals"]["bytes_in"] >= before["bytes_in"] + n, h["totals"]
        # Everything hq-a ever carried happened within the last hour here.
        assert (h["totals"]["bytes_in"], h["totals"]["bytes_out"]) == (bi, bo), \
            (h["totals"], bi, bo)
        return h
    h = poll(caught_up, 20 * SLOW, "hq-a's echo in its history")
    assert h["connector"] == env.a.id and h["name"] == "hq-a", h
    # What the test sent each way, give or take the cloud's own small
    # requests on the tunnels (GET /v1/info, the check on connect).
    grew_in = h["totals"]["bytes_in"] - before["bytes_in"]
    grew_out = h["totals"]["bytes_out"] - before["bytes_out"]
    assert n <= grew_out <= n + 64 * 1024, (grew_out, n)
    assert n <= grew_in <= n + 64 * 1024, (grew_in, n)
    assert h["totals"]["opened"] >= 1, h["totals"]
    # Minutes, oldest first, without gaps, from and to on the step.
    pts = h["points"]
    assert h["step"] == 60 and len(pts) == (h["to"] - h["from"]) // 60, (h["step"], len(pts))
    assert [p["at"] for p in pts] == list(range(h["from"], h["to"], 60))
    # Two tunnels up, and pinged every second.
    def pinged():
        fine = hist(env, f"connectors/{env.a.id}/history",
                    **{"from": t0 - 600, "to": t0 + 600})
        assert fine["step"] == 60, fine["step"]
        now_pts = [p for p in fine["points"] if p["tunnels"] > 0]
        assert now_pts and max(p["tunnels"] for p in now_pts) == 2, fine["points"]
        rtt = [p for p in now_pts if p["rtt_ms"] is not None]
        assert rtt, now_pts
        return rtt
    rtt = poll(pinged, 20 * SLOW, "hq-a's round trips in its history")
    assert all(0 <= p["rtt_ms"] <= p["rtt_max_ms"] + 1e-9 for p in rtt), rtt

    # The site adds up its connectors (hq has only hq-a); the overview
    # everything (at least hq's).
    s = hist(env, "sites/hq/history", **span)
    # Asked a moment later: the connector's log stream may have carried a
    # few more lines into the site's figures since.
    assert s["site"] == "hq", s
    assert s["totals"]["opened"] == h["totals"]["opened"], (s["totals"], h["totals"])
    assert s["totals"]["bytes_out"] >= h["totals"]["bytes_out"], (s["totals"], h["totals"])
    assert h["totals"]["bytes_in"] <= s["totals"]["bytes_in"] <= \
        h["totals"]["bytes_in"] + 64 * 1024, (s["totals"], h["totals"])
    o = hist(env, "history", **span)
    assert o["totals"]["bytes_in"] >= h["totals"]["bytes_in"], o["totals"]
    assert max(p["tunnels"] for p in o["points"]) >= 2, o["points"]
    idle = hist(env, "sites/idle/history", **span)
    assert idle["totals"] == {"bytes_in": 0, "bytes_out": 0, "opened": 0}, idle["totals"]


def test_offline_connector_tunnels_drop_to_zero(env):
    c = env.connector("hist-b", env.cloud.token("hist"), tunnels=1)
    q = {"from": int(time.time()) - 600, "to": int(time.time()) + 600}

    def up():
        h = hist(env, f"connectors/{c.id}/history", **q)
        assert max(p["tunnels"] for p in h["points"]) == 1, h["points"]
        return h
    poll(up, 20 * SLOW, "hist-b's tunnel in its history")
    c.stop()
    # No rows while it is offline: the minutes after read 0 tunnels.
    time.sleep(2)
    later = int(time.time()) + 120
    h = hist(env, f"connectors/{c.id}/history", **{"from": later, "to": later + 600})
    assert all(p["tunnels"] == 0 for p in h["points"]), h["points"]


# --------------------------------------------------------------------------
# downsampling and retention

COLS = ("connector_id, span, at, tunnels, streams, opened, bytes_in, bytes_out, "
        "rtt_sum, rtt_n, rtt_max")


def test_old_rows_merged_then_deleted(env):
    cid = env.a.id
    now = int(time.time())
    base = (now - 2 * DAY) // 600 * 600          # two days old, on a bucket
    for i in range(10):                           # ten minutes of one-minute rows
        env.db(f"INSERT INTO history ({COLS}) VALUES (?, 60, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (cid, base + 60 * i, 1 + i % 3, i, 2, 1000 + i, 10 * i, 5 * i, 1, i))
    # Before the fine window ends: stays one-minute.
    keep = (now - DAY // 2) // 60 * 60
    env.db(f"INSERT INTO history ({COLS}) VALUES (?, 60, ?, 1, 0, 0, 7, 7, 0, 0, 0)",
           (cid, keep))
    # Older than seven days: deleted, whatever its span.
    old = (now - 8 * DAY) // 600 * 600
    env.db(f"INSERT INTO history ({COLS}) VALUES (?, 60, ?, 1, 0, 0, 1, 1, 0, 0, 0)", (cid, old))
    env.db(f"INSERT INTO history ({COLS}) VALUES (?, 600, ?, 1, 0, 0, 1, 1, 0, 0, 0)",
           (cid, old - 600))

    def pruned():
        rows = env.db("SELECT span, at, tunnels, streams, opened, bytes_in, bytes_out, "
                      "rtt_sum, rtt_n, rtt_max FROM history WHERE connector_id = ? AND at < ? "
                      "ORDER BY at", (cid, now - DAY // 4))
        assert rows == [(600, base, 3, 9, 20, 10045, 450, 225, 10, 9),
                        (60, keep, 1, 0, 0, 7, 7, 0, 0, 0)], rows
        return rows
    poll(pruned, 20 * SLOW, "the old rows merged and the expired ones deleted")

    # The API serves the merged row at a ten-minute step, even when asked
    # for minutes (the answer says which step it used).
    h = hist(env, f"connectors/{cid}/history", **{"from": base - 600, "to": base + 1200,
                                                   "step": 60})
    assert h["step"] == 600, h
    assert [p["at"] for p in h["points"]] == [base - 600, base, base + 600], h["points"]
    p = h["points"][1]
    assert (p["tunnels"], p["streams"], p["opened"], p["bytes_in"], p["bytes_out"]) == \
        (3, 9, 20, 10045, 450), p
    assert p["rtt_ms"] == pytest.approx(225 / 10) and p["rtt_max_ms"] == 9, p
    assert h["points"][0]["bytes_in"] == 0 and h["points"][0]["rtt_ms"] is None, h["points"]
    # A week back: nothing older than seven days.
    wk = hist(env, f"connectors/{cid}/history", **{"from": now - 7 * DAY, "to": now})
    assert wk["step"] == 1200, wk["step"]          # the first auto step of <= 720 points
    assert wk["totals"]["bytes_in"] >= 10045 + 7, wk["totals"]


# --------------------------------------------------------------------------
# API bounds

@pytest.mark.parametrize("query,words", [
    ("from=200&to=100", "before"),
    ("from=100&to=100", "before"),
    ("from=0&to=700000", "7 days"),
    ("step=90", "multiple of 60"),
    ("step=60&from=0&to=604800", "at most 1440"),
    ("step=86401", "from 0 to 86400"),
    ("from=abc", "whole number"),
    ("to=-5", "whole number"),
    ("from=99999999999999999999", "whole number"),
])
def test_bounds(env, query, words):
    for path in ("history", "sites/hq/history", f"connectors/{env.a.id}/history"):
        r = expect(env.key().get(f"/api/v1/{path}?{query}"), 400, "bad-field")
        assert words in r["message"], r


def test_defaults_unknown_and_auth(env):
    h = hist(env, "history")
    assert h["to"] - h["from"] in (DAY, DAY + h["step"]) and h["step"] == 120, \
        (h["from"], h["to"], h["step"])
    assert len(h["points"]) == (h["to"] - h["from"]) // h["step"], len(h["points"])
    assert abs(h["to"] - time.time()) < 600, h["to"]
    expect(env.key().get("/api/v1/connectors/c-000000000000/history"), 404, "not-found")
    expect(env.key().get("/api/v1/sites/nowhere/history"), 404, "not-found")
    expect(env.key(read=True).get("/api/v1/sites/hq/history"), 200)
    expect(env.session(RITA).get("/api/v1/history"), 200)
    expect(env.client().get("/api/v1/history"), 401)


# --------------------------------------------------------------------------
# read-only administrators and notifications

def test_read_admin_marks_notifications_read(env):
    env.db("INSERT INTO notifications (kind, severity, subject, message, created_at) "
           "VALUES ('test', 'info', 'history', 'a note for rita', ?)", (int(time.time()),))
    nid = env.db("SELECT max(id) FROM notifications")[0][0]
    rita = env.session(RITA)
    ana = env.session()

    def unread(c):
        return {n["id"] for n in expect(c.get("/api/v1/notifications?unread=1&limit=500"),
                                        200)["notifications"]}
    assert nid in unread(rita) and nid in unread(ana)
    r = expect(rita.post(f"/api/v1/notifications/{nid}/read"), 200)
    assert nid not in unread(rita) and r["unread"] == len(unread(rita)), r
    # Her mark is hers: the full administrator's bell still shows it.
    assert nid in unread(ana)
    assert expect(rita.post("/api/v1/notifications/read-all"), 200)["unread"] == 0
    assert unread(rita) == set() and nid in unread(ana)
    # Still no changes otherwise, and without CSRF not even this.
    expect(rita.post("/api/v1/sites", {"name": "rita-site"}), 403, "read-only")
    rita.auto_csrf = False
    expect(rita.post(f"/api/v1/notifications/{nid}/read"), 403, "csrf")
    # A read-only API key would change the keys' shared state: refused.
    expect(env.key(read=True).post(f"/api/v1/notifications/{nid}/read"), 403, "read-only")
    expect(env.key(read=True).post("/api/v1/notifications/read-all"), 403, "read-only")
