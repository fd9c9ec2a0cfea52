"""`uplink-connector route`: the route decision for one destination, from
--proxy/--bypass flags, a config file, or the environment. Nothing is
contacted, so no peers are needed; every run is quick."""

import ipaddress
import json

import pytest

P = "http://127.0.0.1:3128"
P2 = "http://127.0.0.1:3129"
P3 = "http://127.0.0.1:3130"


class Row:
    def __init__(self, id, dest, bypass, route, rule=None):
        self.id, self.dest, self.bypass, self.route, self.rule = id, dest, bypass, route, rule


ROWS = [
    # names
    Row("exact", "host.example.com", "host.example.com", "direct", "host.example.com"),
    Row("exact-not-below", "sub.host.example.com", "host.example.com", "proxy"),
    Row("exact-not-suffix", "evilhost.example.com", "host.example.com", "proxy"),
    Row("star-below", "a.corp.example", "*.corp.example", "direct", "*.corp.example"),
    Row("star-deep", "x.y.corp.example", "*.corp.example", "direct", "*.corp.example"),
    Row("star-not-itself", "corp.example", "*.corp.example", "proxy"),
    Row("star-label-boundary", "notcorp.example", "*.corp.example", "proxy"),
    Row("dot-itself", "corp.example", ".corp.example", "direct", ".corp.example"),
    Row("dot-below", "deep.a.corp.example", ".corp.example", "direct", ".corp.example"),
    Row("dot-label-boundary", "notcorp.example", ".corp.example", "proxy"),
    Row("all", "anything.example", "*", "direct", "*"),
    Row("all-address", "192.0.2.7", "*", "direct", "*"),
    Row("local-dotless", "intranet", "<local>", "direct", "<local>"),
    Row("local-dotted", "intranet.corp", "<local>", "proxy"),
    Row("local-not-v6", "[::1]", "<local>", "proxy"),
    Row("case-host", "WWW.Corp.Example", "*.corp.example", "direct", "*.corp.example"),
    Row("case-entry", "www.corp.example", "*.CORP.Example", "direct", "*.CORP.Example"),
    Row("trailing-dot-host", "www.corp.example.", "*.corp.example", "direct",
        "*.corp.example"),
    Row("trailing-dot-entry", "host.example.com", "host.example.com.", "direct",
        "host.example.com."),
    # IPv4
    Row("v4-exact", "192.0.2.1", "192.0.2.1", "direct", "192.0.2.1"),
    Row("v4-exact-miss", "192.0.2.10", "192.0.2.1", "proxy"),
    Row("cidr4-in", "10.1.2.3", "10.0.0.0/8", "direct", "10.0.0.0/8"),
    Row("cidr4-out", "11.1.2.3", "10.0.0.0/8", "proxy"),
    Row("cidr4-edge", "192.168.1.255", "192.168.1.0/24", "direct", "192.168.1.0/24"),
    Row("octets-in", "10.20.30.40", "10.*", "direct", "10.*"),
    Row("octets-out", "100.20.30.40", "10.*", "proxy"),
    Row("octets-two", "192.168.7.1", "192.168.*", "direct", "192.168.*"),
    Row("name-vs-octets", "10.example", "10.*", "proxy"),
    Row("name-vs-address", "localhost", "127.0.0.1", "proxy"),
    Row("address-vs-name", "127.0.0.1", "localhost", "proxy"),
    # IPv6
    Row("v6-exact", "[::1]", "::1", "direct", "::1"),
    Row("v6-bracketed-entry", "[::1]", "[::1]", "direct", "[::1]"),
    Row("v6-other-spelling", "[fd00:0:0:0:0:0:0:1]", "fd00::1", "direct", "fd00::1"),
    Row("cidr6-in", "[fd00::1]", "fd00::/8", "direct", "fd00::/8"),
    Row("cidr6-out", "[fe80::1]", "fd00::/8", "proxy"),
    # ports
    Row("port-match", "host.example.com:8443", "host.example.com:8443", "direct",
        "host.example.com:8443"),
    Row("port-miss-default", "host.example.com", "host.example.com:8443", "proxy"),
    Row("port-443", "host.example.com", "host.example.com:443", "direct",
        "host.example.com:443"),
    Row("star-port", "a.corp.example:8443", "*.corp.example:8443", "direct",
        "*.corp.example:8443"),
    Row("octets-port", "10.0.0.1:80", "10.*:80", "direct", "10.*:80"),
    Row("cidr4-port-miss", "10.0.0.1:81", "10.0.0.0/8:80", "proxy"),
    Row("v6-port-match", "[::1]:8443", "[::1]:8443", "direct", "[::1]:8443"),
    Row("v6-port-miss", "[::1]:9443", "[::1]:8443", "proxy"),
    Row("cidr6-port", "[fd00::5]:8443", "[fd00::/8]:8443", "direct", "[fd00::/8]:8443"),
    # lists
    Row("first-match", "b.corp.example", "a.example; *.corp.example, <local>", "direct",
        "*.corp.example"),
    Row("spec-example-cidr", "10.1.1.1", "*.corp.example; 10.0.0.0/8, <local>", "direct",
        "10.0.0.0/8"),
    Row("spec-example-local", "printer", "*.corp.example; 10.0.0.0/8, <local>", "direct",
        "<local>"),
    Row("whitespace-separated", "intranet", "a.example  b.example\t<local>", "direct",
        "<local>"),
    Row("no-bypass", "example.com", None, "proxy"),
    Row("empty-bypass", "example.com", "", "proxy"),
]


def split_dest(dest):
    """HOST[:PORT] -> (host as written without brackets, port)."""
    if dest.startswith("["):
        host, _, rest = dest[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else 443
    if dest.count(":") == 1:
        host, port = dest.split(":")
        return host, int(port)
    return dest, 443


def same_host(got, given):
    """Exact for lower-case names and IPv4; for anything the program may
    normalize (case, trailing dot, IPv6 spelling and brackets) compare
    normalized."""
    if given == given.lower() and not given.endswith(".") and ":" not in given:
        return got == given
    g = got.strip("[]").rstrip(".").lower()
    w = given.strip("[]").rstrip(".").lower()
    try:
        return ipaddress.ip_address(g) == ipaddress.ip_address(w)
    except ValueError:
        return g == w


def check_json(run, dest, route, rule, proxy):
    assert run.rc == 0, str(run)
    assert run.json is not None, f"stdout is not JSON\n{run}"
    j = run.json
    host, port = split_dest(dest)
    assert {"host", "port", "route", "rule", "proxy"} <= set(j), str(run)
    assert same_host(j["host"], host), str(run)
    assert j["port"] == port, str(run)
    assert j["route"] == route, str(run)
    assert j["rule"] == rule, str(run)
    if route == "proxy":
        assert j["proxy"] == proxy, str(run)
    elif proxy is None:
        assert j["proxy"] is None, str(run)
    else:
        # Direct by a bypass rule while a proxy is configured: the spec does
        # not say whether "proxy" then names the configured proxy or is null.
        assert j["proxy"] in (None, proxy), str(run)


def config_text(server, bypass):
    text = "[proxy]\n"
    if server is not None:
        text += f"server = {server}\n"
    if bypass is not None:
        text += f"bypass = {bypass}\n"
    return text


# ------------------------------------------------------------ the table

@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_flags(connector, row):
    args = ["route", row.dest, "--proxy", P, "--json"]
    if row.bypass is not None:
        args += ["--bypass", row.bypass]
    check_json(connector(args), row.dest, row.route, row.rule, P)


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_config(connector, tmpfile, row):
    conf = tmpfile("uplink.conf", config_text(P, row.bypass))
    run = connector(["route", row.dest, "--config", conf, "--json"])
    check_json(run, row.dest, row.route, row.rule, P)


def test_no_proxy_configured(connector):
    run = connector(["route", "example.com", "--json"])
    check_json(run, "example.com", "direct", None, None)


def test_bypass_without_proxy(connector):
    """A bypass list alone configures no proxy: everything is direct."""
    run = connector(["route", "example.com", "--bypass", "other.example", "--json"])
    check_json(run, "example.com", "direct", None, None)


def test_config_without_server(connector, tmpfile):
    conf = tmpfile("uplink.conf", config_text(None, "*.corp.example"))
    run = connector(["route", "example.com", "--config", conf, "--json"])
    check_json(run, "example.com", "direct", None, None)


@pytest.mark.parametrize("given,normal", [
    ("http://127.0.0.1:3128/", "http://127.0.0.1:3128"),
    ("http://[::1]:3128", "http://[::1]:3128"),
], ids=["trailing-slash", "ipv6"])
def test_proxy_normalized(connector, given, normal):
    run = connector(["route", "example.com", "--proxy", given, "--json"])
    check_json(run, "example.com", "proxy", None, normal)


# ------------------------------------------------------------ text output

@pytest.mark.parametrize("args,line", [
    (["a.corp.example", "--proxy", P, "--bypass", "*.corp.example"],
     'direct (bypass rule "*.corp.example")'),
    (["example.com", "--proxy", P, "--bypass", "*.corp.example"],
     f"proxy {P} (no bypass rule matched)"),
    (["example.com:8443", "--proxy", P], f"proxy {P} (no bypass rule matched)"),
    (["example.com"], "direct (no proxy configured)"),
], ids=["bypass", "proxy", "proxy-no-list", "no-proxy"])
def test_text_output(connector, args, line):
    run = connector(["route"] + args)
    assert run.rc == 0, str(run)
    assert run.stdout.strip() == line, str(run)


# ------------------------------------------------------------ refusals

REFUSED = [
    ("credentials", "http://user:pw@127.0.0.1:3128", "authenticated proxies are not supported"),
    ("credentials-user-only", "http://user@127.0.0.1:3128",
     "authenticated proxies are not supported"),
    ("pac", "pac", "automatic proxy configuration is not supported"),
    ("auto", "auto", "automatic proxy configuration is not supported"),
    ("wpad", "wpad", "automatic proxy configuration is not supported"),
    ("pac-url", "http://127.0.0.1:8080/proxy.pac",
     "automatic proxy configuration is not supported"),
    ("https", "https://127.0.0.1:3128", "only http:// proxies are supported"),
    ("socks5", "socks5://127.0.0.1:1080", "only http:// proxies are supported"),
]


@pytest.mark.parametrize("url,msg", [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_refused_proxy_flag(connector, url, msg):
    run = connector(["route", "example.com", "--proxy", url])
    assert run.rc == 2, str(run)
    assert msg in run.stderr, str(run)
    assert run.stdout.strip() == "", str(run)


@pytest.mark.parametrize("url,msg", [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_refused_proxy_config(connector, tmpfile, url, msg):
    conf = tmpfile("uplink.conf", f"# line 1\n[proxy]\n\nserver = {url}\n")
    run = connector(["route", "example.com", "--config", conf])
    assert run.rc == 2, str(run)
    assert msg in run.stderr, str(run)
    assert f"{conf}:4:" in run.stderr, str(run)


BAD_ENTRIES = [
    ("cidr-prefix", "10.0.0.0/33"),
    ("port-range", "host.example:99999"),
    ("empty-label", "a..b.example"),
    ("v6-cidr-prefix", "fd00::/129"),
]


@pytest.mark.parametrize("entry", [e for _, e in BAD_ENTRIES], ids=[i for i, _ in BAD_ENTRIES])
def test_bad_bypass_flag(connector, entry):
    run = connector(["route", "example.com", "--proxy", P, "--bypass", f"ok.example, {entry}"])
    assert run.rc == 2, str(run)
    assert entry in run.stderr, str(run)


@pytest.mark.parametrize("entry", [e for _, e in BAD_ENTRIES], ids=[i for i, _ in BAD_ENTRIES])
def test_bad_bypass_config(connector, tmpfile, entry):
    conf = tmpfile("uplink.conf", f"[proxy]\nserver = {P}\nbypass = ok.example; {entry}\n")
    run = connector(["route", "example.com", "--config", conf])
    assert run.rc == 2, str(run)
    assert entry in run.stderr, str(run)
    assert f"{conf}:3:" in run.stderr, str(run)


def test_config_syntax_error(connector, tmpfile):
    conf = tmpfile("uplink.conf", f"[proxy]\nserver = {P}\n\nthis line is not ini\n")
    run = connector(["route", "example.com", "--config", conf])
    assert run.rc == 2, str(run)
    assert f"{conf}:4:" in run.stderr, str(run)


def test_config_missing(connector, tmp_path):
    conf = str(tmp_path / "no-such.conf")
    run = connector(["route", "example.com", "--config", conf])
    assert run.rc == 2, str(run)
    assert "no-such.conf" in run.stderr, str(run)


@pytest.mark.parametrize("args", [
    [], ["--no-such-flag", "example.com"], ["example.com:99999"], ["example.com:0"],
    ["example.com", "--proxy"],
], ids=["no-host", "unknown-flag", "bad-port", "port-zero", "proxy-without-value"])
def test_usage_errors(connector, args):
    run = connector(["route"] + args)
    assert run.rc == 2, str(run)
    assert run.stderr.strip(), str(run)


def test_unknown_subcommand(connector):
    run = connector(["no-such-subcommand"])
    assert run.rc == 2, str(run)


# ------------------------------------------------------------ environment

@pytest.mark.parametrize("env,dest,route,rule,proxy", [
    ({"HTTPS_PROXY": P}, "example.com", "proxy", None, P),
    ({"https_proxy": P}, "example.com", "proxy", None, P),
    ({"HTTPS_PROXY": P, "NO_PROXY": "example.com"}, "example.com", "direct",
     "example.com", P),
    # curl's NO_PROXY: a plain name matches its subdomains too
    ({"HTTPS_PROXY": P, "NO_PROXY": "example.com"}, "sub.example.com", "direct",
     "example.com", P),
    ({"HTTPS_PROXY": P, "NO_PROXY": "example.com"}, "notexample.com", "proxy", None, P),
    ({"HTTPS_PROXY": P, "no_proxy": "corp.example,example.com"}, "a.b.example.com",
     "direct", "example.com", P),
    ({"HTTPS_PROXY": P, "NO_PROXY": "*"}, "example.com", "direct", "*", P),
    ({"HTTPS_PROXY": P, "NO_PROXY": "10.0.0.0/8"}, "10.2.3.4", "direct", "10.0.0.0/8", P),
], ids=["HTTPS_PROXY", "https_proxy", "NO_PROXY-itself", "NO_PROXY-subdomain",
        "NO_PROXY-not-suffix", "no_proxy-list", "NO_PROXY-star", "NO_PROXY-cidr"])
def test_env(connector, env, dest, route, rule, proxy):
    run = connector(["route", dest, "--json"], env=env)
    check_json(run, dest, route, rule, proxy)


def test_env_no_proxy_alone(connector):
    """NO_PROXY without HTTPS_PROXY: no proxy, so direct. Whether "rule" then
    names the NO_PROXY entry that matched or is null is not specified."""
    run = connector(["route", "example.com", "--json"], env={"NO_PROXY": "example.com"})
    assert run.rc == 0, str(run)
    assert run.json["route"] == "direct" and run.json["proxy"] is None, str(run)
    assert run.json["rule"] in (None, "example.com"), str(run)


def test_env_ignored_with_config(connector, tmpfile):
    conf = tmpfile("uplink.conf", config_text(P2, None))
    run = connector(["route", "example.com", "--config", conf, "--json"],
                    env={"HTTPS_PROXY": P, "NO_PROXY": "example.com"})
    check_json(run, "example.com", "proxy", None, P2)


def test_env_ignored_with_empty_config(connector, tmpfile):
    conf = tmpfile("uplink.conf", "# nothing configured\n")
    run = connector(["route", "example.com", "--config", conf, "--json"],
                    env={"HTTPS_PROXY": P})
    check_json(run, "example.com", "direct", None, None)


def test_flag_overrides_env(connector):
    run = connector(["route", "example.com", "--proxy", P3, "--json"],
                    env={"HTTPS_PROXY": P})
    check_json(run, "example.com", "proxy", None, P3)


def test_proxy_flag_replaces_env_proxy_only(connector):
    """--proxy replaces HTTPS_PROXY; NO_PROXY still applies (each flag
    overrides its own setting, as `route --help` says)."""
    env = {"HTTPS_PROXY": P, "NO_PROXY": "example.com"}
    run = connector(["route", "other.example", "--proxy", P3, "--json"], env=env)
    check_json(run, "other.example", "proxy", None, P3)
    run = connector(["route", "sub.example.com", "--proxy", P3, "--json"], env=env)
    check_json(run, "sub.example.com", "direct", "example.com", P3)


def test_bypass_flag_replaces_env_no_proxy(connector):
    """--bypass replaces NO_PROXY (with the bypass list's own semantics: a
    plain name is that host only); HTTPS_PROXY still applies."""
    env = {"HTTPS_PROXY": P, "NO_PROXY": "example.com"}
    run = connector(["route", "example.com", "--bypass", "x.example", "--json"], env=env)
    check_json(run, "example.com", "proxy", None, P)
    run = connector(["route", "x.example", "--bypass", "x.example", "--json"], env=env)
    check_json(run, "x.example", "direct", "x.example", P)
    run = connector(["route", "sub.x.example", "--bypass", "x.example", "--json"], env=env)
    check_json(run, "sub.x.example", "proxy", None, P)


def test_flags_override_config(connector, tmpfile):
    conf = tmpfile("uplink.conf", config_text(P2, "a.example"))
    run = connector(["route", "x.example", "--config", conf, "--proxy", P3, "--json"])
    check_json(run, "x.example", "proxy", None, P3)
    # --bypass replaces the file's list
    run = connector(["route", "a.example", "--config", conf, "--bypass", "b.example",
                     "--json"])
    check_json(run, "a.example", "proxy", None, P2)
    run = connector(["route", "b.example", "--config", conf, "--bypass", "b.example",
                     "--json"])
    check_json(run, "b.example", "direct", "b.example", P2)


def test_json_is_one_object(connector):
    run = connector(["route", "example.com", "--proxy", P, "--json"])
    assert run.rc == 0, str(run)
    assert isinstance(json.loads(run.stdout), dict), str(run)
