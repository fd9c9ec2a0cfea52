"""`uplink-connector check` against real peers: the test PKI's TLS servers,
a CRL server, squid and mitmproxy, all on 127.0.0.1.

One catalog holds every case, one service per case (so --service picks cases
and results are indexed by service name). It is checked once DIRECT (every
name given with --resolve) and once THROUGH SQUID (squid resolves the .test
names from its hosts_file); the parametrized tests then look at one result
each. Cases that need their own options (timeouts, a dead proxy, mitmproxy,
--save, the environment) run the program themselves.
"""

import configparser
import json
import os
from dataclasses import dataclass, field

import pytest

import peers
import pki as pkimod

CA = pkimod.CA_NAME
SELF = pkimod.UNTRUSTED_NAME
ERRORS = {"dns", "tcp", "timeout", "proxy-unreachable", "proxy-denied", "proxy-error",
          "tls", "tls-interception", "cert-untrusted", "cert-hostname", "cert-expired",
          "cert-revoked", "crl-unreachable", "http", "not-testable"}
STEP_KEYS = {"name", "ok", "ms", "detail"}
RESULT_KEYS = {"service", "address", "port", "scheme", "route", "rule", "ok", "error",
               "issuer", "hint", "steps"}
# Per-step timeout for the big runs: generous for the ASan build.
TIMEOUT = "15"


@dataclass
class Case:
    name: str                   # service name and test id
    addr: object                # callable(servers) -> catalog address dict
    direct: object = None       # expected error DIRECT; None = ok; "n/a" = not run
    proxy: object = None        # expected error THROUGH SQUID (a str, set or None)
    issuer: str = None          # substring of "issuer"; None = no TLS, issuer null
    ok: object = field(default="auto")  # expected "ok"; "auto": error is None


def https(host, key, **extra):
    return lambda s: dict({"host": host, "port": s.tls[key], "scheme": "https"}, **extra)


CASES = [
    Case("valid", https("valid.test", "valid"), issuer=CA),
    Case("expired", https("expired.test", "expired"), "cert-expired", "cert-expired",
         issuer=CA),
    Case("wronghost", https("wronghost.test", "wronghost"), "cert-hostname",
         "cert-hostname", issuer=CA),
    Case("untrusted", https("untrusted.test", "untrusted"), "cert-untrusted",
         "cert-untrusted", issuer=SELF),
    Case("revoked", https("revoked.test", "revoked"), "cert-revoked", "cert-revoked",
         issuer=CA),
    Case("soon", https("soon.test", "soon"), issuer=CA),
    Case("wildcard", https("*.wild.test", "wild", probe="a.wild.test"), issuer=CA),
    # Never contacted (port 443 has nothing behind it): it cannot be tested.
    # Whether that counts as ok is not specified, so "ok" is not asserted.
    Case("noprobe", lambda s: {"host": "*.noprobe.test", "port": 443, "scheme": "https"},
         "not-testable", "not-testable", ok=None),
    Case("crl-http", lambda s: {"host": "crl.test", "port": s.crl_port, "scheme": "http",
                                "path": "/ca.crl"}),
    # Through squid a refused connection comes back as 503 ERR_CONNECT_FAIL;
    # the spec does not say whether that is "tcp" or "proxy-error".
    Case("closed", lambda s: {"host": "closed.test", "port": s.dead.port,
                              "scheme": "https"},
         "tcp", {"tcp", "proxy-error"}),
    # Through squid, the name is squid's to resolve (and its error page's to
    # report): only the direct run is specified.
    Case("nxdomain", lambda s: {"host": "nxdomain.invalid", "port": 443,
                                "scheme": "https"}, "dns", "n/a"),
    Case("denied", https("denied.test", "valid"), "n/a", "proxy-denied"),
    Case("crlgone", https("crlgone.test", "crlgone"), "crl-unreachable",
         "crl-unreachable", issuer=CA),
]
BY_NAME = {c.name: c for c in CASES}
PASSING = [c.name for c in CASES if c.direct is None and c.proxy is None]


def catalog(servers, names):
    return {"services": [{"name": n, "purpose": f"uplink integration test: {n}",
                          "addresses": [dict(BY_NAME[n].addr(servers),
                                             purpose=f"case {n}")]}
                         for n in names]}


def write_catalog(dirpath, servers, names, fname="catalog.json"):
    path = os.path.join(dirpath, fname)
    with open(path, "w") as f:
        json.dump(catalog(servers, names), f, indent=1)
    return path


def by_service(run):
    assert run.json is not None, f"stdout is not JSON\n{run}"
    out = {}
    for r in run.json["results"]:
        assert r["service"] not in out, f"two results for {r['service']}\n{run}"
        out[r["service"]] = r
    return out


def base_args(servers, cat):
    return ["check", "--catalog", cat, "--ca", servers.pki.ca_cert, "--json",
            "--timeout", TIMEOUT, "--parallel", "4"]


def expected_error(case, mode):
    return case.direct if mode == "direct" else case.proxy


def mode_cases(mode):
    return [c.name for c in CASES if expected_error(c, mode) != "n/a"]


def is_warning(result):
    """soon.test: a warning about the expiry, somewhere."""
    texts = [str(s.get("detail") or "") for s in result.get("steps") or []]
    texts += [json.dumps(result.get("warnings") or "")]
    return any("expire" in t.lower() for t in texts)


def check_result(r, case, mode, run, servers, proxy_url=None):
    ctx = f"\nresult: {json.dumps(r, indent=1)}\n{run}"
    addr = case.addr(servers)
    want = expected_error(case, mode)
    assert RESULT_KEYS <= set(r), f"missing fields {RESULT_KEYS - set(r)}" + ctx
    assert r["address"] == addr["host"], ctx
    assert r["port"] == addr["port"], ctx
    assert r["scheme"] == addr["scheme"], ctx
    assert r["route"] == ("direct" if mode == "direct" else "proxy"), ctx
    assert r["rule"] is None, ctx
    if isinstance(want, set):
        assert r["error"] in want, ctx
    else:
        assert r["error"] == want, ctx
    if case.ok == "auto":
        assert r["ok"] is (want is None), ctx
    if case.issuer is None:
        assert r["issuer"] is None, ctx
    else:
        assert isinstance(r["issuer"], str) and case.issuer in r["issuer"], ctx
    assert r["hint"] is None or isinstance(r["hint"], str), ctx
    assert isinstance(r["steps"], list), ctx
    for s in r["steps"]:
        assert STEP_KEYS <= set(s), f"step without {STEP_KEYS - set(s)}" + ctx
        assert isinstance(s["ok"], bool) and isinstance(s["ms"], (int, float)), ctx
    if r["ok"] is True:
        assert all(s["ok"] for s in r["steps"]), ctx
    elif want not in (None, "not-testable"):
        assert r["steps"] and not all(s["ok"] for s in r["steps"]), ctx
    if r["error"] is not None:
        assert r["error"] in ERRORS, ctx


# ------------------------------------------------------------ the big runs

@pytest.fixture(scope="session")
def direct_run(servers, connector, tmp_path_factory):
    d = str(tmp_path_factory.mktemp("direct"))
    cat = write_catalog(d, servers, mode_cases("direct"))
    return connector(base_args(servers, cat) + servers.resolve_args())


@pytest.fixture(scope="session")
def squid_run(servers, squid, connector, tmp_path_factory):
    d = str(tmp_path_factory.mktemp("squid"))
    cat = write_catalog(d, servers, mode_cases("squid"))
    return connector(base_args(servers, cat) + ["--proxy", squid.url])


@pytest.mark.parametrize("case", mode_cases("direct"))
def test_direct(direct_run, servers, case):
    run = direct_run
    assert run.json is not None, f"no JSON on stdout\n{run}"
    results = by_service(run)
    assert case in results, f"no result for service {case}\n{run}"
    check_result(results[case], BY_NAME[case], "direct", run, servers)


@pytest.mark.parametrize("case", mode_cases("squid"))
def test_squid(squid_run, servers, squid, case):
    run = squid_run
    assert run.json is not None, f"no JSON on stdout\n{run}"
    results = by_service(run)
    assert case in results, f"no result for service {case}\n{run}"
    check_result(results[case], BY_NAME[case], "squid", run, servers)


def via(request, mode, servers):
    """Options that send a run DIRECT (--resolve for every name) or THROUGH
    SQUID (started only when a test asks for it)."""
    if mode == "direct":
        return servers.resolve_args()
    return ["--proxy", request.getfixturevalue("squid").url]


@pytest.mark.parametrize("mode", ["direct", "squid"])
def test_run_summary(request, mode):
    run = request.getfixturevalue(f"{mode}_run")
    assert run.rc == 1, str(run)
    assert run.json is not None, str(run)
    assert run.json["ok"] is False, str(run)
    want = None if mode == "direct" else request.getfixturevalue("squid").url
    assert run.json["proxy"] == want, str(run)
    assert sorted(by_service(run)) == sorted(mode_cases(mode)), str(run)


@pytest.mark.parametrize("mode", ["direct", "squid"])
def test_soon_warns(request, mode):
    run = request.getfixturevalue(f"{mode}_run")
    r = by_service(run)["soon"]
    assert r["ok"] is True and is_warning(r), f"no expiry warning\n{json.dumps(r, indent=1)}"


def test_squid_fetched_crl(squid_run, servers, squid):
    """Through squid, the CRLs are fetched through squid too (crl.test's route
    is the proxy): squid logged the CRL URL, and the dead one."""
    with open(squid.access_log) as f:
        log = f.read()
    assert f"http://crl.test:{servers.crl_port}/ca.crl" in log, squid.log_tail()
    assert f"crl.test:{servers.dead_crl.port}" in log, squid.log_tail()


# ------------------------------------------------------------ exit status

@pytest.mark.parametrize("mode", ["direct", "squid"])
def test_only_passing_exit_0(request, servers, connector, tmp_path, mode):
    cat = write_catalog(str(tmp_path), servers, [c.name for c in CASES])
    args = base_args(servers, cat)
    for n in PASSING:
        args += ["--service", n]
    run = connector(args + via(request, mode, servers))
    assert run.rc == 0, str(run)
    assert run.json["ok"] is True, str(run)
    assert sorted(by_service(run)) == sorted(PASSING), str(run)
    assert all(r["ok"] is True and r["error"] is None for r in run.json["results"]), str(run)


def test_one_failing_service_exit_1(servers, connector, tmp_path):
    cat = write_catalog(str(tmp_path), servers, ["valid", "revoked"])
    run = connector(base_args(servers, cat) + ["--service", "revoked"]
                    + servers.resolve_args())
    assert run.rc == 1, str(run)
    assert list(by_service(run)) == ["revoked"], str(run)


# ------------------------------------------------------------ one-off runs

DNS_TIMEOUT = 3


@pytest.fixture(scope="session")
def nx_run(servers, connector, workdir, tmp_path_factory):
    """A real failed lookup (not the reserved .invalid name, which the program
    may answer itself): only where the program's resolv.conf can point at
    127.0.0.1, where nothing answers, so the query stays on this machine."""
    if not peers.dns_isolation(workdir):
        pytest.skip("no private resolv.conf here (needs root and unshare -m)")
    cat = os.path.join(str(tmp_path_factory.mktemp("nx")), "nx.json")
    with open(cat, "w") as f:
        json.dump({"services": [{"name": "nx", "addresses": [
            {"host": "unresolvable.test", "port": 443, "scheme": "https"}]}]}, f)
    return connector(["check", "--catalog", cat, "--ca", servers.pki.ca_cert, "--json",
                      "--timeout", str(DNS_TIMEOUT)])


def test_dns_failure(nx_run):
    run = nx_run
    assert run.rc == 1, str(run)
    r = by_service(run)["nx"]
    assert r["ok"] is False and r["error"] in ("dns", "timeout"), str(run)
    assert r["route"] == "direct" and r["issuer"] is None, str(run)


def test_dns_step_within_timeout(nx_run):
    """--timeout limits each step: a nameserver that never answers must not
    hold the DNS step much longer than that."""
    r = by_service(nx_run)["nx"]
    dns = [s for s in r["steps"] if s["name"] == "dns"] or r["steps"]
    slowest = max(s["ms"] for s in dns)
    assert slowest <= DNS_TIMEOUT * 1000 + 1500, str(nx_run)


@pytest.mark.parametrize("mode", ["direct", "squid"])
def test_timeout(request, servers, connector, tmp_path, mode):
    """A server that accepts TCP and never answers the TLS handshake."""
    cat = os.path.join(str(tmp_path), "slow.json")
    with open(cat, "w") as f:
        json.dump({"services": [{"name": "slow", "addresses": [
            {"host": "slow.test", "port": servers.silent["slow"], "scheme": "https"}]}]}, f)
    args = ["check", "--catalog", cat, "--ca", servers.pki.ca_cert, "--json",
            "--timeout", "2"]
    run = connector(args + via(request, mode, servers))
    assert run.rc == 1, str(run)
    r = by_service(run)["slow"]
    assert r["ok"] is False and r["error"] == "timeout", str(run)
    assert r["route"] == ("direct" if mode == "direct" else "proxy"), str(run)


def test_proxy_unreachable(servers, connector, tmp_path):
    """A proxy port with nothing listening: every https address fails with
    proxy-unreachable (and the http one fails too)."""
    cat = write_catalog(str(tmp_path), servers, ["valid", "revoked", "wildcard", "crl-http"])
    url = f"http://127.0.0.1:{servers.dead_proxy.port}"
    run = connector(base_args(servers, cat) + ["--proxy", url])
    assert run.rc == 1, str(run)
    assert run.json["proxy"] == url, str(run)
    results = by_service(run)
    for name in ("valid", "revoked", "wildcard"):
        r = results[name]
        assert r["ok"] is False and r["error"] == "proxy-unreachable", str(run)
        assert r["route"] == "proxy" and r["issuer"] is None, str(run)
    assert results["crl-http"]["ok"] is False, str(run)


@pytest.mark.parametrize("case", ["valid", "wildcard", "revoked"])
def test_interception(mitm_run, case):
    run = mitm_run
    r = by_service(run)[case]
    ctx = f"\n{json.dumps(r, indent=1)}\n{run}"
    assert r["ok"] is False and r["error"] == "tls-interception", ctx
    assert r["route"] == "proxy", ctx
    assert isinstance(r["issuer"], str) and "mitmproxy" in r["issuer"], ctx
    assert isinstance(r["hint"], str) and "inspection" in r["hint"].lower(), ctx


@pytest.fixture(scope="session")
def mitm_run(servers, mitm, connector, tmp_path_factory):
    d = str(tmp_path_factory.mktemp("mitm"))
    cat = write_catalog(d, servers, ["valid", "wildcard", "revoked"])
    run = connector(base_args(servers, cat) + ["--proxy", mitm.url])
    assert run.rc == 1, str(run)
    assert run.json is not None and run.json["proxy"] == mitm.url, str(run)
    return run


def test_bypass_goes_direct(servers, squid, connector, tmp_path):
    """--proxy with --bypass: the matching address is direct, with its rule;
    the other goes through squid."""
    cat = write_catalog(str(tmp_path), servers, ["valid", "soon"])
    run = connector(base_args(servers, cat) + ["--proxy", squid.url, "--bypass", "valid.test"]
                    + servers.resolve_args())
    assert run.rc == 0, str(run)
    results = by_service(run)
    assert results["valid"]["route"] == "direct", str(run)
    assert results["valid"]["rule"] == "valid.test", str(run)
    assert results["soon"]["route"] == "proxy", str(run)
    assert results["soon"]["rule"] is None, str(run)
    assert all(r["ok"] for r in results.values()), str(run)


def test_cloud_option(servers, connector, tmp_path):
    cat = write_catalog(str(tmp_path), servers, ["valid"])
    port = servers.tls["soon"]
    run = connector(base_args(servers, cat) + ["--cloud", f"https://soon.test:{port}"]
                    + servers.resolve_args())
    assert run.rc == 0, str(run)
    results = by_service(run)
    assert set(results) == {"valid", "cloud"}, str(run)
    r = results["cloud"]
    assert (r["address"], r["port"], r["scheme"]) == ("soon.test", port, "https"), str(run)
    assert r["ok"] is True, str(run)


# ------------------------------------------------------------ human output

def test_human_output(servers, connector, tmp_path):
    cat = write_catalog(str(tmp_path), servers, ["valid", "expired"])
    args = [a for a in base_args(servers, cat) if a != "--json"] + servers.resolve_args()
    run = connector(args)
    assert run.rc == 1, str(run)
    lines = [ln for ln in run.stdout.splitlines() if ln.strip()]
    valid = [i for i, ln in enumerate(lines) if "valid.test" in ln]
    expired = [i for i, ln in enumerate(lines) if "expired.test" in ln]
    assert valid and expired, str(run)
    assert not set(valid) & set(expired), f"one row per address\n{run}"
    # A summary after the rows: a line naming neither address, with a count.
    first_row = min(valid + expired)
    assert any("valid.test" not in ln and "expired.test" not in ln
               and any(ch.isdigit() for ch in ln)
               for ln in lines[first_row + 1:]), f"no summary after the rows\n{run}"
    with pytest.raises(ValueError):
        json.loads(run.stdout)


# ------------------------------------------------------------ usage errors

def test_unknown_flag(connector):
    run = connector(["check", "--no-such-flag"])
    assert run.rc == 2, str(run)
    assert run.stderr.strip(), str(run)


def test_save_without_proxy(servers, connector, tmp_path, tmpfile):
    cat = write_catalog(str(tmp_path), servers, ["valid"])
    conf = tmpfile("uplink.conf", "# empty\n")
    run = connector(["check", "--catalog", cat, "--config", conf, "--save"])
    assert run.rc == 2, str(run)


@pytest.mark.parametrize("content", ["{not json", '{"services": 5}', ""],
                         ids=["syntax", "services-not-a-list", "empty"])
def test_bad_catalog(connector, tmpfile, content):
    cat = tmpfile("broken-catalog.json", content)
    run = connector(["check", "--catalog", cat, "--json"])
    assert run.rc == 2, str(run)
    assert "broken-catalog.json" in run.stderr, str(run)


def test_missing_catalog(connector, tmp_path):
    cat = str(tmp_path / "no-such-catalog.json")
    run = connector(["check", "--catalog", cat])
    assert run.rc == 2, str(run)
    assert "no-such-catalog.json" in run.stderr, str(run)


@pytest.mark.parametrize("url,msg", [
    ("http://user:pw@127.0.0.1:3128", "authenticated proxies are not supported"),
    ("http://127.0.0.1/proxy.pac", "automatic proxy configuration is not supported"),
    ("wpad", "automatic proxy configuration is not supported"),
    ("https://127.0.0.1:3128", "only http:// proxies are supported"),
    ("socks5://127.0.0.1:1080", "only http:// proxies are supported"),
], ids=["credentials", "pac-url", "wpad", "https", "socks5"])
def test_refused_proxy(servers, connector, tmp_path, url, msg):
    cat = write_catalog(str(tmp_path), servers, ["valid"])
    run = connector(["check", "--catalog", cat, "--proxy", url, "--json"])
    assert run.rc == 2, str(run)
    assert msg in run.stderr, str(run)


# ------------------------------------------------------------ --save

ORIGINAL = """\
# uplink connector configuration
; written by hand, keep this comment

[proxy]
# the old proxy (nothing listens there)
server = http://127.0.0.1:{dead}

[log]
# more detail while setting up
level = debug
"""

NO_PROXY_SECTION = """\
# uplink connector configuration
; no proxy yet

[log]
# more detail while setting up
level = debug
"""


def read_conf(path):
    cp = configparser.ConfigParser(interpolation=None, strict=False,
                                   comment_prefixes=("#", ";"))
    cp.read(path)
    return cp


def lines_kept(before, after, drop=()):
    """Every line of before (except those in drop) is in after, in order."""
    it = iter(after.splitlines())
    for line in before.splitlines():
        if line in drop:
            continue
        if not any(line == a for a in it):
            return line
    return None


@pytest.mark.parametrize("original", ["replace-server", "new-section"])
def test_save_on_success(servers, squid, connector, tmp_path, tmpfile, original):
    text = (ORIGINAL.format(dead=servers.dead_proxy.port) if original == "replace-server"
            else NO_PROXY_SECTION)
    conf = tmpfile("uplink.conf", text)
    cat = write_catalog(str(tmp_path), servers, ["valid"])
    run = connector(base_args(servers, cat) + ["--config", conf, "--proxy", squid.url,
                                               "--bypass", "localhost", "--save"])
    assert run.rc == 0, str(run)
    assert run.json["proxy"] == squid.url, str(run)
    with open(conf) as f:
        after = f.read()
    cp = read_conf(conf)
    assert cp.get("proxy", "server") == squid.url, after
    assert cp.get("proxy", "bypass").strip() == "localhost", after
    assert cp.get("log", "level") == "debug", after
    old = f"server = http://127.0.0.1:{servers.dead_proxy.port}"
    assert old not in after, after
    missing = lines_kept(text, after, drop=(old,))
    assert missing is None, f"line lost: {missing!r}\n{after}"


def test_save_not_on_failure(servers, squid, connector, tmp_path, tmpfile):
    text = ORIGINAL.format(dead=servers.dead_proxy.port)
    conf = tmpfile("uplink.conf", text)
    cat = write_catalog(str(tmp_path), servers, ["expired"])
    run = connector(base_args(servers, cat) + ["--config", conf, "--proxy", squid.url,
                                               "--save"])
    assert run.rc == 1, str(run)
    with open(conf) as f:
        assert f.read() == text


# ------------------------------------------------------------ environment

@pytest.mark.parametrize("var", ["HTTPS_PROXY", "https_proxy"])
def test_env_proxy_used(servers, squid, connector, tmp_path, var):
    cat = write_catalog(str(tmp_path), servers, ["valid"])
    run = connector(base_args(servers, cat), env={var: squid.url})
    assert run.rc == 0, str(run)
    assert run.json["proxy"] == squid.url, str(run)
    assert by_service(run)["valid"]["route"] == "proxy", str(run)


@pytest.mark.parametrize("var", ["NO_PROXY", "no_proxy"])
def test_env_no_proxy(servers, squid, connector, tmp_path, var):
    """NO_PROXY names valid.test: it goes direct with that rule."""
    cat = write_catalog(str(tmp_path), servers, ["valid", "soon"])
    run = connector(base_args(servers, cat) + servers.resolve_args(),
                    env={"HTTPS_PROXY": squid.url, var: "valid.test"})
    assert run.rc == 0, str(run)
    assert run.json["proxy"] == squid.url, str(run)
    results = by_service(run)
    assert results["valid"]["route"] == "direct", str(run)
    assert results["valid"]["rule"] == "valid.test", str(run)
    assert results["soon"]["route"] == "proxy", str(run)


def test_env_ignored_with_config(servers, connector, tmp_path, tmpfile):
    """With --config the environment is ignored: a dead HTTPS_PROXY does not
    matter, the run is direct."""
    conf = tmpfile("uplink.conf", "# no proxy configured\n")
    cat = write_catalog(str(tmp_path), servers, ["valid"])
    dead = f"http://127.0.0.1:{servers.dead_proxy.port}"
    run = connector(base_args(servers, cat) + ["--config", conf] + servers.resolve_args(),
                    env={"HTTPS_PROXY": dead, "https_proxy": dead})
    assert run.rc == 0, str(run)
    assert run.json["proxy"] is None, str(run)
    assert by_service(run)["valid"]["route"] == "direct", str(run)


def test_config_proxy_used(servers, squid, connector, tmp_path, tmpfile):
    conf = tmpfile("uplink.conf", f"[proxy]\nserver = {squid.url}\n")
    cat = write_catalog(str(tmp_path), servers, ["valid"])
    run = connector(base_args(servers, cat) + ["--config", conf])
    assert run.rc == 0, str(run)
    assert run.json["proxy"] == squid.url, str(run)
    assert by_service(run)["valid"]["route"] == "proxy", str(run)
