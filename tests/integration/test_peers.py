"""Smoke tests of the test environment itself (no uplink-connector needed):
the PKI, the TLS/CRL servers, squid and mitmproxy behave as test_check.py
assumes. When these fail, test_check.py's failures say nothing about the
program."""

import datetime
import shutil
import socket
import ssl
import subprocess

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

import peers
import pki as pkimod

CURL = shutil.which("curl")


def curl(*args, timeout=30):
    r = subprocess.run([CURL, "-sS", "--max-time", "20", *args], capture_output=True,
                       text=True, timeout=timeout, env=peers.connector_env(),
                       stdin=subprocess.DEVNULL)
    return r


def peer_cert(port, sni):
    """The leaf certificate the server on 127.0.0.1:port presents for sni."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((peers.LOOPBACK, port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname=sni) as t:
            return x509.load_der_x509_certificate(t.getpeercert(binary_form=True))


def proxy_request(proxy_port, request, timeout=20):
    """Sends a raw request to a server on 127.0.0.1; returns (status, headers
    lower-cased, the bytes read past the head, the socket still open)."""
    s = socket.create_connection((peers.LOOPBACK, proxy_port), timeout=timeout)
    s.sendall(request.encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    head = head.decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    headers = {}
    for line in head[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, rest, s


def cn(name):
    return name.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


# ---------------------------------------------------------------- servers/PKI

@pytest.mark.parametrize("name,sni,dns", [
    ("valid", "valid.test", ["valid.test"]),
    ("expired", "expired.test", ["expired.test"]),
    ("wronghost", "wronghost.test", ["other.test"]),
    ("revoked", "revoked.test", ["revoked.test"]),
    ("soon", "soon.test", ["soon.test"]),
    ("wild", "a.wild.test", ["*.wild.test"]),
    ("crlgone", "crlgone.test", ["crlgone.test"]),
    ("untrusted", "untrusted.test", ["untrusted.test"]),
], ids=["valid", "expired", "wronghost", "revoked", "soon", "wild", "crlgone", "untrusted"])
def test_server_presents_cert(servers, name, sni, dns):
    cert = peer_cert(servers.tls[name], sni)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == dns
    now = datetime.datetime.utcnow()
    if name == "untrusted":
        assert cert.issuer == cert.subject
        assert cn(cert.issuer) == pkimod.UNTRUSTED_NAME
        return
    assert cn(cert.issuer) == pkimod.CA_NAME
    dp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    url = dp[0].full_name[0].value
    if name == "crlgone":
        assert url == f"http://crl.test:{servers.dead_crl.port}/ca.crl"
    else:
        assert url == f"http://crl.test:{servers.crl_port}/ca.crl"
    if name == "expired":
        assert cert.not_valid_after < now
    elif name == "soon":
        assert now + datetime.timedelta(days=9) < cert.not_valid_after \
            < now + datetime.timedelta(days=11)
    else:
        assert cert.not_valid_after > now + datetime.timedelta(days=30)


def test_chain_verifies_with_openssl(servers):
    p = servers.pki
    ok = ["valid", "wronghost", "revoked", "soon", "wild", "crlgone"]
    r = subprocess.run(["openssl", "verify", "-CAfile", p.ca_cert]
                       + [p.leaves[n].cert for n in ok], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run(["openssl", "verify", "-CAfile", p.ca_cert, p.leaves["expired"].cert],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "expired" in (r.stdout + r.stderr)
    # crl_check: revoked.test is revoked, valid.test is not.
    for name, good in (("valid", True), ("revoked", False)):
        r = subprocess.run(["openssl", "verify", "-crl_check", "-CAfile", p.ca_cert,
                            "-CRLfile", p.crl_pem, p.leaves[name].cert],
                           capture_output=True, text=True, timeout=30)
        assert (r.returncode == 0) == good, r.stdout + r.stderr


def test_crl_server(servers):
    status, headers, body, s = proxy_request(
        servers.crl_port, "GET /ca.crl HTTP/1.1\r\nHost: crl.test\r\n\r\n")
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
    finally:
        s.close()
    assert status == 200
    assert headers["content-type"] == "application/pkix-crl"
    assert int(headers["content-length"]) == len(body)
    crl = x509.load_der_x509_crl(body)
    with open(servers.pki.ca_cert, "rb") as f:
        ca = x509.load_pem_x509_certificate(f.read())
    assert crl.is_signature_valid(ca.public_key())
    assert crl.get_revoked_certificate_by_serial_number(
        servers.pki.leaves["revoked"].serial) is not None
    assert crl.get_revoked_certificate_by_serial_number(
        servers.pki.leaves["valid"].serial) is None


def test_dead_ports_refuse(servers):
    for port in (servers.dead.port, servers.dead_crl.port, servers.dead_proxy.port):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((peers.LOOPBACK, port), timeout=5).close()


def test_silent_listener_never_answers(servers):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((peers.LOOPBACK, servers.silent["slow"]), timeout=1) as s:
        with pytest.raises((socket.timeout, TimeoutError)):
            ctx.wrap_socket(s, server_hostname="slow.test")


@pytest.mark.skipif(not CURL, reason="curl not installed")
def test_curl_direct(servers):
    port = servers.tls["valid"]
    r = curl("--cacert", servers.pki.ca_cert, "--resolve", f"valid.test:{port}:127.0.0.1",
             f"https://valid.test:{port}/")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ok valid\n"


# ---------------------------------------------------------------------- squid

@pytest.mark.skipif(not CURL, reason="curl not installed")
def test_curl_through_squid(servers, squid):
    port = servers.tls["valid"]
    r = curl("--proxy", squid.url, "--cacert", servers.pki.ca_cert,
             f"https://valid.test:{port}/")
    assert r.returncode == 0, r.stderr + squid.log_tail()
    assert r.stdout == "ok valid\n"


def test_squid_denies_denied_test(servers, squid):
    port = servers.tls["valid"]
    status, headers, _, s = proxy_request(
        squid.port, f"CONNECT denied.test:{port} HTTP/1.1\r\nHost: denied.test:{port}\r\n\r\n")
    s.close()
    assert status == 403
    assert headers.get("x-squid-error", "").startswith("ERR_ACCESS_DENIED")


def test_squid_connect_to_dead_port_fails(servers, squid):
    port = servers.dead.port
    status, headers, _, s = proxy_request(
        squid.port, f"CONNECT closed.test:{port} HTTP/1.1\r\nHost: closed.test:{port}\r\n\r\n")
    s.close()
    assert status == 503
    assert headers.get("x-squid-error", "").startswith("ERR_CONNECT_FAIL")


def test_squid_serves_crl_absolute_form(servers, squid):
    url = f"http://crl.test:{servers.crl_port}/ca.crl"
    status, headers, _, s = proxy_request(
        squid.port, f"GET {url} HTTP/1.1\r\nHost: crl.test:{servers.crl_port}\r\n\r\n")
    s.close()
    assert status == 200
    assert headers["content-type"] == "application/pkix-crl"


# ------------------------------------------------------------------ mitmproxy

@pytest.mark.skipif(not CURL, reason="curl not installed")
def test_curl_through_mitmproxy_is_intercepted(servers, mitm):
    port = servers.tls["valid"]
    # Only mitmproxy's CA is trusted: success means mitmproxy made the cert.
    r = curl("--proxy", mitm.url, "--cacert", mitm.ca_cert, f"https://valid.test:{port}/")
    assert r.returncode == 0, r.stderr + peers._tail(mitm.log)
    assert r.stdout == "ok valid\n"
    r = curl("--proxy", mitm.url, "--cacert", servers.pki.ca_cert,
             f"https://valid.test:{port}/")
    assert r.returncode != 0


def test_mitmproxy_issuer(servers, mitm):
    port = servers.tls["valid"]
    status, _, _, s = proxy_request(
        mitm.port, f"CONNECT valid.test:{port} HTTP/1.1\r\nHost: valid.test:{port}\r\n\r\n")
    try:
        assert status == 200
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with ctx.wrap_socket(s, server_hostname="valid.test") as t:
            cert = x509.load_der_x509_certificate(t.getpeercert(binary_form=True))
    finally:
        s.close()
    assert cn(cert.issuer) == "mitmproxy"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "valid.test" in san.get_values_for_type(x509.DNSName)


# ------------------------------------------------------------- DNS isolation

@pytest.mark.needs_root
def test_dns_isolation(workdir):
    prefix = peers.dns_isolation(workdir)
    if not prefix:
        pytest.skip("unshare -m not available here")
    r = subprocess.run(prefix + ["/bin/cat", "/etc/resolv.conf"], capture_output=True,
                       text=True, timeout=10)
    assert r.stdout.split() == ["nameserver", "127.0.0.1", "options", "timeout:1",
                                "attempts:1"]
    with open("/etc/resolv.conf") as f:
        assert "timeout:1 attempts:1" not in f.read()   # ours is untouched
