"""The connector packages the cloud serves (issue 15, section 1, last
bullet; docs/install.md "The packages on the cloud", docs/api.md):
GET /api/v1/packages for administrators and GET /packages/NAME for anyone
on the TLS listener.

One uplink-cloud with `[cloud] packages` pointing at a directory of fake
packages (the cloud reads only their names and bytes, so they need not be
real Debian archives) and of things that must never be served: a file of
another name, a symbolic link out of the directory, a subdirectory and a
FIFO with package names, a file over the size cap. Asserts what a client
sees: status codes, headers, the bytes and their SHA-256, that a 404 names
no path, and the cloud's anonymous memory while it sends a large file.
"""

import hashlib
import os
import socket
import ssl
import time
import urllib.parse

import pytest

import cloudpeers as cp
from apiclient import Client

SMALL = "uplink-connector_1.2.4~rc1_arm64.deb"
BIG = "uplink-connector_1.2.3-1_amd64.deb"
BIG_SIZE = 96 << 20
LINK = "uplink-connector_9.9.9_amd64.deb"
DIRNAME = "uplink-connector_1.0_amd64.deb"
FIFO = "uplink-connector_2.0_amd64.deb"
HUGE = "uplink-connector_3.0_amd64.deb"       # over the 256 MiB cap (sparse)
TYPE = "application/vnd.debian.binary-package"
# Regular files whose names are not packages': never listed nor served.
OTHER_NAMES = [
    "notes.txt",
    "uplink-connector_1.0_AMD64.deb",         # architecture in capitals
    "uplink-connector__amd64.deb",            # no version
    "uplink-connector_1.0_.deb",              # no architecture
    "uplink-connector_v1.0_amd64.deb",        # version not starting with a digit
    "uplink-connector_1.0_amd64.deb.part",
    "uplink-connector_1.0_amd64_x.deb",       # a third part
    "uplink-cloud_1.0_amd64.deb",
    "uplink-connector_1 0_amd64.deb",
    "uplink-connector_1.0_amd64.DEB",
    "uplink-connector_" + "1" * 120 + "_amd64.deb",   # over 128 bytes
]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@pytest.fixture(scope="module")
def net(workdir):
    base = os.path.join(workdir, "packages-served")
    pkgs = os.path.join(base, "pkgs")
    os.makedirs(pkgs)
    with open(os.path.join(pkgs, SMALL), "wb") as f:
        f.write(b"!<arch>\n" + os.urandom(5000))
    with open(os.path.join(pkgs, BIG), "wb") as f:
        block = os.urandom(1 << 20)
        for i in range(BIG_SIZE >> 20):
            f.write(bytes([i & 0xff]) + block[1:])
    with open(os.path.join(base, "secret.txt"), "w") as f:
        f.write("not for download\n")
    for name in OTHER_NAMES:
        with open(os.path.join(pkgs, name), "w") as f:
            f.write("a file of another name\n")
    os.symlink(os.path.join(base, "secret.txt"), os.path.join(pkgs, LINK))
    os.mkdir(os.path.join(pkgs, DIRNAME))
    os.mkfifo(os.path.join(pkgs, FIFO))
    with open(os.path.join(pkgs, HUGE), "wb") as f:
        f.truncate((256 << 20) + 1)
    c = cp.Cloud(os.path.join(base, "cloud"), options={"cloud": {"packages": pkgs}})
    try:
        c.init().start()
        c.pkgs = pkgs
        c.apikey = c.key("packages")
        yield c
    finally:
        c.stop(check=False)


def anon(cloud):
    return Client(cloud.port, ca=os.path.join(cloud.data, "ca.pem"))


def keyed(cloud):
    return Client(cloud.port, ca=os.path.join(cloud.data, "ca.pem"), key=cloud.apikey)


def asan(binary):
    with open(binary, "rb") as f:
        return b"__asan_init" in f.read()


def rss_anon_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise AssertionError("no RssAnon in /proc/PID/status")


def test_listing_needs_authentication(net):
    r = anon(net).get("/api/v1/packages")
    assert r.status == 401, r


def test_listing_names_only_servable_packages(net):
    r = keyed(net).get("/api/v1/packages")
    assert r.status == 200, r
    got = {p["name"]: p for p in r.body["packages"]}
    assert sorted(got) == sorted([BIG, SMALL]), r.body
    assert r.body["directory"] == net.pkgs
    assert r.body.get("problem") is None, r.body
    small = got[SMALL]
    assert small["version"] == "1.2.4~rc1" and small["architecture"] == "arm64", small
    assert small["size"] == 5008
    assert small["sha256"] == sha256_file(os.path.join(net.pkgs, SMALL))
    assert small["url"] == "/packages/" + SMALL
    assert isinstance(small["modified_at"], int) and small["modified_at"] > 0
    big = got[BIG]
    assert big["version"] == "1.2.3-1" and big["architecture"] == "amd64", big
    assert big["size"] == BIG_SIZE


def test_download_without_authentication(net):
    path = os.path.join(net.pkgs, SMALL)
    r = anon(net).get("/packages/" + SMALL)
    assert r.status == 200, r
    with open(path, "rb") as f:
        assert r.raw == f.read()
    assert r.headers["Content-Type"] == TYPE
    assert r.headers["Content-Length"] == str(os.path.getsize(path))
    assert r.headers["ETag"] == '"' + hashlib.sha256(r.raw).hexdigest() + '"'
    assert r.headers["Last-Modified"].endswith(" GMT")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert SMALL in r.headers["Content-Disposition"]

    # The same ETag again: 304 without the bytes.
    r2 = anon(net).get("/packages/" + SMALL, headers={"If-None-Match": r.headers["ETag"]})
    assert r2.status == 304 and r2.raw == b"", r2
    # HEAD: the length, no body.
    r3 = anon(net).request("HEAD", "/packages/" + SMALL)
    assert r3.status == 200 and r3.raw == b""
    assert r3.headers["Content-Length"] == str(os.path.getsize(path))


def test_large_download_is_streamed(net):
    """96 MiB sent while the cloud's anonymous memory grows by far less
    (the file is mapped, not copied into the heap); bytes by SHA-256."""
    before = rss_anon_kb(net.pid)
    r = anon(net).get("/packages/" + BIG)
    after = rss_anon_kb(net.pid)
    assert r.status == 200, r
    assert len(r.raw) == BIG_SIZE
    assert r.headers["Content-Length"] == str(BIG_SIZE)
    want = sha256_file(os.path.join(net.pkgs, BIG))
    assert hashlib.sha256(r.raw).hexdigest() == want
    assert r.headers["ETag"] == f'"{want}"'
    # AddressSanitizer keeps freed memory in quarantine (256 MiB): the
    # relay's freed buffers count there, so the bound holds in build/ only.
    if not asan(net.binary):
        assert after - before < 32 * 1024, (before, after)


@pytest.mark.parametrize("path", [
    "/packages/..%2Fsecret.txt",
    "/packages/..%2F..%2Fcloud.conf",
    "/packages/%2e%2e/secret.txt",
    "/packages/../secret.txt",
    *["/packages/" + urllib.parse.quote(n) for n in OTHER_NAMES],
    "/packages/" + LINK,
    "/packages/" + DIRNAME,
    "/packages/" + FIFO,
    "/packages/" + HUGE,
    "/packages/" + SMALL + "%00.deb",
    "/packages/uplink-connector_1.2.4_amd64.deb",
    "/packages/",
    "/packages/" + "x" * 300 + ".deb",
])
def test_not_a_package_is_404_naming_no_path(net, path):
    r = anon(net).get(path)
    assert r.status == 404, (path, r)
    assert r.body["error"] == "not-found"
    text = r.raw.decode()
    assert net.pkgs not in text and "secret" not in text and "not for download" not in text
    # The cloud is still there (a FIFO did not block it).
    assert anon(net).get("/packages/" + SMALL).status == 200


def test_only_get_and_head(net):
    r = anon(net).post("/packages/" + SMALL, {})
    assert r.status == 405, r


def raw_get(cloud, path):
    """A TLS socket that sent GET path and read the answer's head: (sock,
    Content-Length, the body bytes already read)."""
    ctx = ssl.create_default_context(cafile=os.path.join(cloud.data, "ca.pem"))
    ctx.set_alpn_protocols(["http/1.1"])
    sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", cloud.port), timeout=20),
                           server_hostname="127.0.0.1")
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "connection closed before the answer's head"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    length = [int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:")]
    return sock, length[0], body


def read_some(sock, have, want):
    while len(have) < want:
        chunk = sock.recv(65536)
        if not chunk:
            break
        have += chunk
    return have


def test_client_leaving_mid_download(net):
    """A client that closes after 1 MiB of 96: the cloud notices, logs it
    once and goes on serving."""
    since = net.log_offset()
    sock, length, body = raw_get(net, "/packages/" + BIG)
    assert length == BIG_SIZE
    body = read_some(sock, body, 1 << 20)
    assert len(body) >= 1 << 20
    sock.close()
    net.wait_log(r"packages: " + BIG.replace(".", r"\.") + r": the client left after \d+ of "
                 + str(BIG_SIZE) + " bytes", timeout=30, since=since)
    assert anon(net).get("/packages/" + SMALL).status == 200


def test_package_rewritten_during_download(net):
    """An operator rewrites a package in place (cp over it) while it is
    being sent: the download ends short (the connection closes before
    Content-Length), the cloud says why in its log and goes on."""
    name = "uplink-connector_5.0_amd64.deb"
    path = os.path.join(net.pkgs, name)
    with open(path, "wb") as f:
        block = os.urandom(1 << 20)
        for _ in range(64):
            f.write(block)
    since = net.log_offset()
    sock, length, body = raw_get(net, "/packages/" + name)
    assert length == 64 << 20
    body = read_some(sock, body, 1 << 20)
    with open(path, "r+b") as f:
        f.truncate(0)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        body += chunk
    sock.close()
    assert len(body) < length, "the whole length arrived from an emptied file"
    net.wait_log(r"packages: " + name.replace(".", r"\.") + r": the file became shorter while it was sent",
                 timeout=30, since=since)
    assert net.proc.poll() is None
    assert anon(net).get("/packages/" + SMALL).status == 200
    os.unlink(path)


def test_cloud_exits_cleanly(net):
    """After every refusal above the daemon is still the same process, and
    it exits 0 on SIGTERM with no sanitizer report (leaks included, in the
    sanitizer build)."""
    assert net.proc.poll() is None
    assert net.stop(check=False) == 0, cp.tail(net.log, 40)
    assert cp.sanitizer_reports([net.log]) == []


def test_config_errors_and_missing_directory(workdir):
    base = os.path.join(workdir, "packages-conf")
    c = cp.Cloud(os.path.join(base, "cloud"), options={"cloud": {"packages": ""}})
    c.init()
    conf = c.write_conf()
    r = c.run(["run", "--config", conf, "--check-config"])
    assert r.rc != 0, r
    line = [i for i, t in enumerate(open(conf).read().splitlines(), 1) if t.startswith("packages")][0]
    assert f"{conf}:{line}:" in r.stderr and "packages is empty" in r.stderr, r

    missing = os.path.join(base, "nowhere")
    c.options["cloud"]["packages"] = missing
    c.write_conf()
    try:
        c.start()
        r = Client(c.port, ca=os.path.join(c.data, "ca.pem"), key=c.key("k")).get("/api/v1/packages")
        assert r.status == 200, r
        assert r.body["packages"] == [] and r.body["directory"] == missing
        assert missing in r.body["problem"] and "[cloud] packages" in r.body["problem"], r.body
        r = anon(c).get("/packages/" + SMALL)
        assert r.status == 404 and missing not in r.raw.decode()
    finally:
        c.stop(check=False)
