"""The connectivity check on demand (docs/api.md, docs/check.md).

One cloud and two connectors (each its own site): "direct" reaches the
cloud without a proxy, "squid" through squid (enrolled through it too). A
requirement the cloud adds ("extra": a port where nothing listens) cannot
be reached. The check is asked through the cloud's API with an API key
(POST /api/v1/connectors/{id}/check); the connector fetches the catalog
with its client certificate, checks it the way "uplink-connector check
--json" does and answers with that very report, which the cloud returns.
"""

import json
import os
import re

import pytest

import apiclient
import cloudpeers as cp
import peers

SLOW = 3.0 if cp.SAN else 1.0
CHECK_TIMEOUT = 70.0                # the cloud gives a connector 60 s

pytestmark = pytest.mark.skipif(
    not os.access(cp.cloud_path(), os.X_OK) or not os.access(peers.connector_path(), os.X_OK),
    reason=f"{cp.cloud_path()} or {peers.connector_path()} missing: run make "
           "(make SAN=1 with UPLINK_BUILD=build-san)")

REPORT_KEYS = {"ok", "proxy", "source", "passed", "failed", "results"}
ROW_KEYS = {"service", "address", "probe", "port", "scheme", "route", "rule", "ok",
            "error", "detail", "issuer", "hint", "tls", "purpose", "ms", "warnings",
            "steps"}
LOG_LINE = (r"check t\d+/s\d+: (\d+) address(?:es)? (?:through proxy \S+|direct \(no proxy\)): "
            r"(\d+) passed, (\d+) failed.* in \d+ ms")


class Net:
    def __init__(self, workdir, squid):
        self.dir = workdir
        self.squid = squid
        self.connectors = []
        self.cloud = None
        self.dead = None

    def start(self):
        self.dead = peers.DeadPort()
        self.cloud = cp.Cloud(os.path.join(self.dir, "cloud"))
        self.cloud.init().start()
        self.api = apiclient.Client(self.cloud.port, ca=os.path.join(self.cloud.data, "ca.pem"),
                                    key=self.cloud.key("tests"), timeout=CHECK_TIMEOUT)
        r = self.api.put("/api/v1/requirements/extra", {
            "purpose": "a partner that is down",
            "addresses": [{"host": "127.0.0.1", "port": self.dead.port, "scheme": "https"}]})
        assert r.status == 200, r
        self.direct = self.connector("rc-direct", "rcd", proxy=None)
        self.viasquid = self.connector("rc-squid", "rcs", proxy=self.squid.url)
        return self

    def connector(self, name, site, proxy):
        c = cp.Connector(os.path.join(self.dir, name), name=name)
        self.connectors.append(c)
        r = c.enroll(self.cloud.token(site), proxy=proxy)
        assert r.rc == 0, r
        # The cloud may have the connector test only what it allows.
        c.configure(proxy=proxy, tunnels=2,
                    extra=f"\n[check]\nallow = 127.0.0.1:{self.dead.port}\n")
        c.id = [x["id"] for x in self.cloud.connectors() if x["name"] == name][-1]
        c.start(wait_tunnels=2, timeout=30 * SLOW)
        return c

    def check(self, c):
        """POST /api/v1/connectors/{id}/check: the CHECK the cloud returns."""
        r = self.api.post(f"/api/v1/connectors/{c.id}/check")
        assert r.status == 200, f"{r}\n" + cp.tail(c.log) + cp.tail(self.cloud.log)
        return r.body

    def stop(self):
        cp.stop_network(self.connectors, self.cloud, [self.dead])


@pytest.fixture(scope="module")
def net(workdir, squid):
    n = Net(os.path.join(workdir, "remote_check"), squid)
    try:
        n.start()
        yield n
    finally:
        n.stop()


@pytest.fixture(scope="module")
def checks(net):
    """One check of each connector, asked once for the module."""
    return {"direct": net.check(net.direct), "squid": net.check(net.viasquid)}


def rows_of(report, **match):
    return [r for r in report["results"] if all(r.get(k) == v for k, v in match.items())]


def describe(check):
    return json.dumps(check, indent=1)[:6000]


@pytest.mark.parametrize("which", ["direct", "squid"])
def test_check_record(net, checks, which):
    """The cloud's CHECK carries the connector's report, summed up."""
    k = checks[which]
    c = net.direct if which == "direct" else net.viasquid
    assert k["connector"] == c.id, describe(k)
    # A manual request that finds the cloud's own "connect" check running
    # waits for that one (docs/api.md).
    assert k["trigger"] in ("manual", "connect"), describe(k)
    rep = k["report"]
    assert set(rep) == REPORT_KEYS, describe(k)
    assert (k["ok"], k["passed"], k["failed"]) == (rep["ok"], rep["passed"], rep["failed"])
    assert rep["passed"] + rep["failed"] == len(rep["results"]) == 3, describe(k)
    for row in rep["results"]:
        assert set(row) == ROW_KEYS, describe(k)


@pytest.mark.parametrize("which", ["direct", "squid"])
def test_settings_are_the_connectors(net, checks, which):
    """The proxy and the source of the settings are the connector's file."""
    rep = checks[which]["report"]
    c = net.direct if which == "direct" else net.viasquid
    assert rep["source"] == c.conf, describe(rep)
    if which == "direct":
        assert rep["proxy"] is None, describe(rep)
    else:
        assert rep["proxy"] == net.squid.url, describe(rep)


@pytest.mark.parametrize("which", ["direct", "squid"])
def test_cloud_rows_pass(net, checks, which):
    """The cloud's own addresses: its TLS port (trusted through the cloud's
    CA, as the tunnels do) and its CRL over HTTP on the other port."""
    rep = checks[which]["report"]
    route = "direct" if which == "direct" else "proxy"
    tls = rows_of(rep, service="cloud", scheme="https")
    assert len(tls) == 1, describe(rep)
    t = tls[0]
    assert t["port"] == net.cloud.port and t["ok"] is True, describe(rep)
    assert t["route"] == route and t["error"] is None, describe(rep)
    assert t["tls"] and t["tls"].startswith("TLSv1."), describe(rep)
    names = [s["name"] for s in t["steps"]]
    for step in ("tls", "verify", "hostname", "expiry", "revocation"):
        assert step in names, describe(rep)
    crl = rows_of(rep, service="cloud", scheme="http")
    assert len(crl) == 1, describe(rep)
    assert crl[0]["port"] == net.cloud.http_port, describe(rep)
    assert crl[0]["ok"] is True and crl[0]["route"] == route, describe(rep)


@pytest.mark.parametrize("which", ["direct", "squid"])
def test_unreachable_requirement_fails(net, checks, which):
    """The added requirement nobody listens on fails as the check names it:
    a refused connection directly; through squid, squid's 503 (tcp or
    proxy-error, as in test_check.py)."""
    k = checks[which]
    rep = k["report"]
    rows = rows_of(rep, service="extra")
    assert len(rows) == 1, describe(rep)
    r = rows[0]
    assert r["port"] == net.dead.port and r["ok"] is False, describe(rep)
    want = {"tcp"} if which == "direct" else {"tcp", "proxy-error"}
    assert r["error"] in want, describe(rep)
    assert r["hint"] and str(net.dead.port) in r["hint"], describe(rep)
    assert r["purpose"] == "a partner that is down", describe(rep)
    assert k["ok"] is False and k["failed"] == 1 and k["passed"] == 2, describe(k)


def strip_times(doc):
    """The report without what differs between two runs: the times, and the
    days to expiry, which tick over when the two runs straddle the moment
    the certificate's remaining life crosses a whole day."""
    doc = json.loads(json.dumps(doc))
    for row in doc["results"]:
        row["ms"] = 0
        for s in row["steps"]:
            s["ms"] = 0
            if s["name"] == "expiry" and s["ok"]:
                s["detail"] = re.sub(r"expires in \d+ days", "expires in N days",
                                     s["detail"])
    return doc


@pytest.mark.parametrize("which", ["direct", "squid"])
def test_same_report_as_check_json(net, checks, which):
    """The report is what "uplink-connector check --json" gives with the
    connector's configuration, the cloud's CA and the same catalog."""
    c = net.direct if which == "direct" else net.viasquid
    r = net.api.get("/api/v1/requirements")
    assert r.status == 200, r
    catalog = os.path.join(c.dir, "requirements.json")
    with open(catalog, "w") as f:
        json.dump(r.body, f)
    ca = [ln.split("=", 1)[1].strip() for ln in c.cloud_section()
          if ln.strip().startswith("ca")][0]
    run = c.run(["check", "--config", c.conf, "--catalog", catalog, "--ca", ca, "--json"])
    assert run.rc == 1 and run.json is not None, run
    assert strip_times(run.json) == strip_times(checks[which]["report"]), \
        f"{run}\n--- remote ---\n{describe(checks[which]['report'])}"


def test_connector_logs_one_line(net, checks):
    """Each check ends with one line in the connector's log: the summary
    and the duration."""
    for c in (net.direct, net.viasquid):
        m = re.findall(LOG_LINE, c.log_text())
        assert m, cp.tail(c.log)
        assert ("3", "2", "1") in m, cp.tail(c.log)

