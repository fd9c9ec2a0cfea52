"""Signed releases (issue 15, section 3; docs/updates.md) with the real
binaries: uplink-release keygen, certify and sign; Debian's minisign
verifying the certificate and the manifest by hand; uplink-connector update
staging the release under STATE/versions/VERSION, and refusing each kind of
bad release with its message and exit status while the state directory
(staged versions, the replay record) stays exactly as it was.
"""

import hashlib
import json
import os
import shutil
import subprocess
import time

import pytest

import peers

RUN_TIMEOUT = float(os.environ.get("UPLINK_TEST_TIMEOUT", "60"))
RUNNING = "0.1.0"          # lib/core/version.h: what the connector runs
ARCH = subprocess.run(["dpkg", "--print-architecture"], capture_output=True,
                      text=True, check=True).stdout.strip()
OTHER_ARCH = "arm64" if ARCH != "arm64" else "amd64"

# uplink-connector update's exit statuses (lib/pki/release.h).
EXIT = {"io": 10, "malformed": 11, "sig_missing": 12, "sig_bad": 13,
        "key_unknown": 14, "cert_bad": 15, "expired": 16, "revoked": 17,
        "channel": 18, "arch": 19, "old": 20, "replay": 21, "future": 22,
        "truncated": 23, "size": 24, "hash": 25, "no_root": 26}


def release_tool():
    return os.path.join(peers.build_dir(), "uplink-release")


def run(args, cwd=None):
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd,
                          timeout=RUN_TIMEOUT)


def snapshot(root):
    """Every path under root with its mode, size, inode and SHA-256."""
    out = {}
    for d, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(d, name)
            st = os.lstat(p)
            digest = None
            if os.path.isfile(p):
                with open(p, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            out[os.path.relpath(p, root)] = (st.st_mode, st.st_size,
                                             st.st_ino, digest)
    return out


class Rel:
    """A root key, a certified signing key, a payload and a state dir."""

    def __init__(self, d):
        self.d = str(d)
        self.state = os.path.join(self.d, "state")
        os.mkdir(self.state)
        self.payload = os.path.join(self.d, "files")
        os.mkdir(self.payload)
        self.binary = os.path.join(self.payload, "uplink-connector")
        with open(self.binary, "wb") as f:
            f.write(os.urandom(200_000) + b"\x7fELF-ish payload\n")
        self.keygen("root", "--root")
        self.keygen("s1", "--signing")
        self.certify("s1", "180d")
        self.conf = os.path.join(self.d, "connector.conf")
        self.config()

    def p(self, name):
        return os.path.join(self.d, name)

    def keygen(self, name, kind):
        r = run([release_tool(), "keygen", kind, self.p(name)])
        assert r.returncode == 0, r.stderr
        return r.stdout.split()[2]      # "root key ID: ..."

    def certify(self, name, expires, root="root"):
        r = run([release_tool(), "certify", "--root", self.p(root + ".key"),
                 "--key", self.p(name + ".pub"), "--expires", expires])
        assert r.returncode == 0, r.stderr
        assert os.path.exists(self.p(name + ".cert"))

    def key_id(self, name):
        with open(self.p(name + ".pub")) as f:
            return f.readline().split()[-1]

    def config(self, *lines, root="root"):
        with open(self.conf, "w") as f:
            f.write("[update]\n")
            if root is not None:
                f.write("root_key = ./%s.pub\n" % root)
            for line in lines:
                f.write(line + "\n")

    def sign(self, version="0.2.0", channel="stable", arch=ARCH, key="s1",
             out="manifest.json", signed_at=None):
        args = [release_tool(), "sign", "--key", self.p(key + ".key"),
                "--cert", self.p(key + ".cert"), "--version", version,
                "--channel", channel, "--arch", arch, self.binary,
                "-o", self.p(out)]
        if signed_at is not None:
            args += ["--signed-at", str(signed_at)]
        r = run(args)
        assert r.returncode == 0, r.stderr
        return self.p(out)

    def update(self, manifest, state=None, dir=None):
        return run([peers.connector_path(), "update", "--manifest", manifest,
                    "--dir", dir or self.payload, "--state-dir",
                    state or self.state, "--config", self.conf])


@pytest.fixture
def rel(tmp_path):
    if shutil.which("minisign") is None:
        pytest.skip("Debian's minisign is not installed (scripts/install-deps)")
    return Rel(tmp_path)


def test_sign_verify_by_hand_and_stage(rel):
    m = rel.sign(version="0.2.0")
    sid = rel.key_id("s1")
    # The certificate and the manifest, verified by hand with minisign.
    r = run(["minisign", "-V", "-p", rel.p("root.pub"), "-m", rel.p("s1.pub"),
             "-x", rel.p("s1.cert")])
    assert r.returncode == 0, r.stderr
    assert ("Trusted comment: uplink-cert key_id=%s purpose=release-signing "
            "expires=" % sid) in r.stdout
    r = run(["minisign", "-V", "-p", rel.p("s1.pub"), "-m", m])
    assert r.returncode == 0, r.stderr
    assert ("Trusted comment: uplink-release version=0.2.0 channel=stable "
            "arch=%s signed_at=" % ARCH) in r.stdout
    # The root's key does not verify the manifest: only the signing key.
    r = run(["minisign", "-V", "-p", rel.p("root.pub"), "-m", m])
    assert r.returncode != 0
    doc = json.load(open(m))
    # As docs/updates.md says: the key and certificate taken out of the
    # manifest (byte for byte, as jq -j does) verify by hand too.
    with open(rel.p("carried.pub"), "w") as f:
        f.write(doc["signing_key"]["public_key"])
    with open(rel.p("carried.cert"), "w") as f:
        f.write(doc["signing_key"]["certificate"])
    r = run(["minisign", "-V", "-p", rel.p("root.pub"), "-m",
             rel.p("carried.pub"), "-x", rel.p("carried.cert")])
    assert r.returncode == 0, r.stderr
    assert doc["files"][0]["sha256"] == hashlib.sha256(
        open(rel.binary, "rb").read()).hexdigest()
    assert doc["signing_key"]["public_key"] == open(rel.p("s1.pub")).read()
    assert oct(os.stat(rel.p("s1.key")).st_mode & 0o777) == "0o600"

    r = rel.update(m)
    assert r.returncode == 0, r.stderr
    staged = os.path.join(rel.state, "versions", "0.2.0", "uplink-connector")
    assert open(staged, "rb").read() == open(rel.binary, "rb").read()
    assert os.stat(staged).st_mode & 0o777 == 0o755
    assert "staged %s (" % staged in r.stdout
    assert "signing key %s" % sid in r.stdout
    assert "not switched: %s keeps running" % RUNNING in r.stdout
    # No temporary file left; the manifest kept beside for the launcher.
    assert sorted(os.listdir(os.path.dirname(staged))) == [
        "manifest.json", "manifest.json.minisig", "uplink-connector"]
    assert int(open(os.path.join(rel.state, "release-seen")).read()) == \
        doc["signed_at"]
    # The same release again: accepted (same signing time is no replay).
    r = rel.update(m)
    assert r.returncode == 0, r.stderr


def test_keygen_never_overwrites_and_root_cannot_sign(rel):
    r = run([release_tool(), "keygen", "--signing", rel.p("s1")])
    assert r.returncode == 1
    assert "never overwrites a key" in r.stderr
    r = run([release_tool(), "sign", "--key", rel.p("root.key"), "--cert",
             rel.p("s1.cert"), "--version", "0.2.0", "--channel", "stable",
             "--arch", ARCH, rel.binary, "-o", rel.p("x.json")])
    assert r.returncode == 1
    assert "is a root key; give the signing key" in r.stderr
    os.chmod(rel.p("s1.key"), 0o644)
    r = run([release_tool(), "sign", "--key", rel.p("s1.key"), "--cert",
             rel.p("s1.cert"), "--version", "0.2.0", "--channel", "stable",
             "--arch", ARCH, rel.binary, "-o", rel.p("x.json")])
    assert r.returncode == 1 and "chmod 600" in r.stderr


def _tamper_byte(rel, m):
    data = bytearray(open(rel.binary, "rb").read())
    data[1000] ^= 1
    open(rel.binary, "wb").write(data)


def _truncate(rel, m):
    data = open(rel.binary, "rb").read()
    open(rel.binary, "wb").write(data[:len(data) // 2])


def _grow(rel, m):
    with open(rel.binary, "ab") as f:
        f.write(b"appended")


def _edit_manifest(rel, m):
    doc = open(m).read().replace('"size": ', '"size": 1')
    open(m, "w").write(doc)


def _drop_signature(rel, m):
    os.unlink(m + ".minisig")


def _unknown_root(rel, m):
    rel.keygen("other-root", "--root")
    rel.config(root="other-root")


def _revoked(rel, m):
    rel.config("revoked_keys = 0123456789ABCDEF, %s" % rel.key_id("s1"))


def _sig_of_other_key(rel, m):
    rel.keygen("s2", "--signing")
    rel.certify("s2", "30d")
    other = rel.sign(key="s2", out="other.json")
    shutil.copy(other + ".minisig", m + ".minisig")


REFUSALS = [
    # (name, change after signing, sign kwargs, exit, message part)
    ("tampered-byte", _tamper_byte, {}, "hash",
     "uplink-connector: SHA-256 "),
    ("truncated", _truncate, {}, "truncated",
     "the download is truncated"),
    ("longer-than-stated", _grow, {}, "size",
     "more than the 200017 bytes the manifest states"),
    ("manifest-edited", _edit_manifest, {}, "sig_bad",
     "the signature does not match the signed bytes"),
    ("signature-missing", _drop_signature, {}, "sig_missing",
     "no signature beside the manifest"),
    ("signature-of-other-key", _sig_of_other_key, {}, "key_unknown",
     "the manifest's signature: signed by key"),
    ("unknown-root", _unknown_root, {}, "cert_bad",
     "is not certified by this connector's root key"),
    ("revoked", _revoked, {}, "revoked", "is revoked ([update] revoked_keys)"),
    ("older-version", None, {"version": "0.0.9"}, "old",
     "release 0.0.9 is not newer than the running 0.1.0; to go back on "
     "purpose set [update] allow_version = 0.0.9"),
    ("same-version", None, {"version": RUNNING}, "old", "is not newer"),
    ("wrong-arch", None, {"arch": OTHER_ARCH}, "arch",
     "is built for %s; this connector runs on %s" % (OTHER_ARCH, ARCH)),
    ("wrong-channel", None, {"channel": "beta"}, "channel",
     "is for channel \"beta\"; this connector follows \"stable\""),
    ("signed-in-the-future", None, {"signed_at": int(time.time()) + 3 * 86400},
     "future", "more than a day after this machine's clock"),
]


def _staged_before(rel):
    """An earlier release already staged: what a refusal must not touch."""
    m = rel.sign(version="0.1.5", out="earlier.json",
                 signed_at=int(time.time()) - 3600)
    r = rel.update(m)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("name,change,kw,code,msg", REFUSALS,
                         ids=[r[0] for r in REFUSALS])
def test_refusal(rel, name, change, kw, code, msg):
    _staged_before(rel)
    m = rel.sign(**kw)
    if change is not None:
        change(rel, m)
    before = snapshot(rel.state)
    r = rel.update(m)
    assert r.returncode == EXIT[code], (r.returncode, r.stdout, r.stderr)
    assert msg in r.stderr, r.stderr
    assert "update refused (" in r.stderr
    assert "nothing was staged and the running version is unchanged" in \
        r.stderr
    assert r.stdout == ""
    assert snapshot(rel.state) == before


def test_expired_signing_key(rel):
    _staged_before(rel)
    rel.keygen("short", "--signing")
    rel.certify("short", "1s")
    m = rel.sign(key="short", signed_at=int(time.time()) - 60)
    time.sleep(2.2)
    before = snapshot(rel.state)
    r = rel.update(m)
    assert r.returncode == EXIT["expired"], r.stderr
    assert "signing key %s expired at" % rel.key_id("short") in r.stderr
    assert snapshot(rel.state) == before
    # Certified again by the root: the same key signs again.
    rel.certify("short", "30d")
    m = rel.sign(key="short", out="again.json")
    assert rel.update(m).returncode == 0


def test_replayed_older_manifest(rel):
    now = int(time.time())
    old = rel.sign(version="0.2.0", out="old.json", signed_at=now - 600)
    new = rel.sign(version="0.3.0", out="new.json", signed_at=now - 60)
    r = rel.update(new)
    assert r.returncode == 0, r.stderr
    before = snapshot(rel.state)
    r = rel.update(old)
    assert r.returncode == EXIT["replay"], r.stderr
    assert ("was signed at %d, before a manifest this connector has already "
            "accepted (signed at %d)" % (now - 600, now - 60)) in r.stderr
    assert snapshot(rel.state) == before
    assert not os.path.exists(os.path.join(rel.state, "versions", "0.2.0"))


def test_pinned_rollback(rel):
    m = rel.sign(version="0.0.9")
    assert rel.update(m).returncode == EXIT["old"]
    rel.config("allow_version = 0.0.9")
    r = rel.update(m)
    assert r.returncode == 0, r.stderr
    assert os.path.exists(os.path.join(rel.state, "versions", "0.0.9",
                                       "uplink-connector"))


def test_missing_file_fifo_and_no_root(rel):
    m = rel.sign()
    empty = os.path.join(rel.d, "empty")
    os.mkdir(empty)
    r = rel.update(m, dir=empty)
    assert r.returncode == EXIT["io"], r.stderr
    assert "the release's files are looked for in --dir" in r.stderr
    assert not os.path.exists(os.path.join(rel.state, "versions", "0.2.0"))
    # A FIFO in place of the file: refused at once, not read forever.
    os.mkfifo(os.path.join(empty, "uplink-connector"))
    r = rel.update(m, dir=empty)
    assert r.returncode == EXIT["io"], r.stderr
    assert "not a regular file" in r.stderr
    assert not os.path.exists(os.path.join(rel.state, "versions", "0.2.0"))
    with open(rel.conf, "w") as f:
        f.write("[update]\nchannel = stable\n")
    r = rel.update(m)
    assert r.returncode == EXIT["no_root"], r.stderr
    assert "built without a release root key" in r.stderr


@pytest.mark.parametrize("line,msg", [
    ("revoked_keys = 12345", "[update] revoked_keys: \"12345\" is not a key id"),
    ("allow_version = 1.x", "[update] allow_version \"1.x\": give a version"),
    ("channel = Stable!", "[update] channel \"Stable!\": give 1 to 32"),
    ("root_key = notbase64", "[update] root_key: not a minisign public key"),
    ("colour = blue", "unknown key \"colour\" in [update]"),
    ("health_gate = 2s", "[update] health_gate \"2s\": give 5s to 1h"),
    ("health_gate = soon", "[update] health_gate"),
])
def test_config_errors(rel, line, msg):
    m = rel.sign()
    rel.config(line, root=None)
    r = rel.update(m)
    assert r.returncode == 2, r.stderr
    assert "connector.conf:2: " + msg in r.stderr
    assert not os.path.exists(os.path.join(rel.state, "versions"))
