"""POST /api/v1/session/password: an administrator changes their own
password from the console (docs/api.md, docs/console.md "Administrators").

One uplink-cloud with a read-only administrator (no connectors). Asserts
what a client sees: the status and error codes, that the new password signs
in and the old one no longer does, that the account's other sessions end
while the one that changed it goes on, that an API key has no session to
change a password with, and the audit rows.
"""

import os

import pytest

import cloudpeers as cp
from apiclient import Client

EMAIL = "rita@example.net"
OLD = "a long read-only passphrase 7"
NEW = "another long read-only passphrase 8"


@pytest.fixture(scope="module")
def cloud(workdir):
    c = cp.Cloud(os.path.join(workdir, "console-password", "cloud"))
    try:
        c.init().start()
        r = cp.run_prog(c.binary, ["admin", "add", "--email", EMAIL, "--role", "read",
                                   "--data-dir", c.data], stdin_text=OLD + "\n")
        assert r.rc == 0, r
        yield c
    finally:
        c.stop(check=False)


def client(cloud, **kw):
    return Client(cloud.port, ca=os.path.join(cloud.data, "ca.pem"), **kw)


def signed_in(cloud, password):
    c = client(cloud)
    r = c.sign_in(EMAIL, password)
    assert r.status == 201, r
    return c


def change(c, current, new):
    return c.post("/api/v1/session/password", {"current_password": current, "new_password": new})


def test_read_only_admin_changes_own_password(cloud):
    me = signed_in(cloud, OLD)
    other = signed_in(cloud, OLD)

    r = change(me, OLD + "x", NEW)
    assert r.status == 403 and r.body["error"] == "bad-password", r
    assert "current password is wrong" in r.body["message"]

    r = change(me, OLD, "b" * 16)
    assert r.status == 400 and r.body["error"] == "bad-field", r
    assert "new_password" in r.body["message"] and "repeated" in r.body["message"], r

    r = change(me, OLD, "short")
    assert r.status == 400 and "12" in r.body["message"], r

    r = me.post("/api/v1/session/password", {"current_password": OLD})
    assert r.status == 400, r

    r = change(me, OLD, NEW)
    assert r.status == 204, r
    # This session goes on; the other one of the account ended.
    assert me.get("/api/v1/session").status == 200
    r = other.get("/api/v1/session")
    assert r.status == 401 and r.body["reason"] == "signed-out", r
    # The new password signs in, the old one does not.
    assert client(cloud).sign_in(EMAIL, OLD).status == 401
    signed_in(cloud, NEW)

    audit = client(cloud, key=cloud.key("audit-reader")).get("/api/v1/audit?limit=50").body["entries"]
    rows = [(e["action"], e["detail"]) for e in audit if e["action"] == "admin.password"]
    assert any("wrong current password" in d for _, d in rows), rows
    assert any("changed their own password" in d for _, d in rows), rows
    # Back, for the other tests.
    assert change(me, NEW, OLD).status == 204


def test_needs_csrf_and_a_session(cloud):
    me = signed_in(cloud, OLD)
    me.auto_csrf = False
    r = change(me, OLD, NEW)
    assert r.status == 403, r
    k = client(cloud, key=cloud.key("scripts"))
    r = change(k, OLD, NEW)
    assert r.status == 404 and "session" in r.body["message"], r
    assert client(cloud).sign_in(EMAIL, OLD).status == 201, "the password is unchanged"
