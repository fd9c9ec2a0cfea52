"""The web console in a real browser (docs/console.md).

Starts an uplink-cloud publishing the internal web site of site "hq", enrolls
two connectors of hq and runs them, adds a full administrator, and then runs
tests/browser/console.mjs: playwright-core driving Debian's Chromium through
sign-in, the overview, an enrollment token, a connectivity check, the
inactivity timeout setting, revoking a connector, the warning before a
session ends and the sign-in page after it ended (the server's session
answers rewritten in the browser, since real timeouts last 10 minutes or
more), the defects of issue 16 reproduced (the live refresh keeping a text
selection and focus, signing out in another tab, the services page's site
suggestions, search/filter on the lists, a role change confirmed, one's own
password changed, the UTC switch), every page at 1440x900 and 390x844 with
a screenshot and axe-core (no serious or critical violation), dark mode,
and signing out (each step
asserts what the page shows and saves a screenshot in
tests/browser/artifacts/). This test asserts that it exits 0 and prints its
output when it does not.

Skipped only when node or /usr/bin/chromium is missing (scripts/install-deps
installs both, and playwright-core with npm ci). UPLINK_UPDATE_DOCS_IMAGES=1
also copies the overview screenshot to docs/images/console-overview.png;
it is written too when that file does not exist yet.
"""

import base64
import hashlib
import os
import re
import shutil
import subprocess

import pytest

import cloudpeers as cp

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BROWSER_DIR = os.path.join(ROOT, "tests", "browser")
SCRIPT = os.path.join(BROWSER_DIR, "console.mjs")
CHROMIUM = "/usr/bin/chromium"
DOCS_IMAGE = os.path.join(ROOT, "docs", "images", "console-overview.png")
NODE = shutil.which("node")
SITE = "hq"
EMAIL = "ana@example.net"
PASSWORD = "console test password 1"
PACKAGE = "uplink-connector_0.1.0-1_amd64.deb"
RUN_TIMEOUT = 420                    # seconds for the whole browser scenario

pytestmark = pytest.mark.skipif(
    NODE is None or not os.access(CHROMIUM, os.X_OK),
    reason="the browser test needs node and Debian's chromium at /usr/bin/chromium "
           "(scripts/install-deps installs both)")


def spki_sha256(pem_path):
    """base64 SHA-256 of a certificate's SubjectPublicKeyInfo: what Chromium's
    --ignore-certificate-errors-spki-list takes."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    with open(pem_path, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    der = cert.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def ensure_playwright():
    """npm ci in tests/browser when playwright-core is not installed yet
    (scripts/install-deps normally did it)."""
    if all(os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", m))
           for m in ("playwright-core", "axe-core")):
        return
    npm = shutil.which("npm")
    assert npm, "playwright-core is not installed and there is no npm: run scripts/install-deps"
    r = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=BROWSER_DIR,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"npm ci in {BROWSER_DIR} failed:\n{r.stdout}\n{r.stderr}"


def add_admin(cloud, email, password, role="full"):
    if hasattr(cloud, "add_admin"):
        return cloud.add_admin(email, password, role)
    r = cp.run_prog(cloud.binary, ["admin", "add", "--email", email, "--role", role,
                                   "--data-dir", cloud.data], stdin_text=password + "\n")
    assert r.rc == 0, r
    return r


@pytest.fixture(scope="module")
def site(workdir):
    """A cloud publishing the internal web site of hq, and two connectors of
    hq with two tunnels each, running."""
    base = os.path.join(workdir, "console")
    prefix = cp.host_isolation(os.path.join(base, "iso"))
    svc = cp.Services(os.path.join(base, "services")).start()
    target = f"{cp.INTRANET}:{svc.ports['http']}"
    # A (fake) connector package for the "Add a connector" page to offer.
    pkgs = os.path.join(base, "packages")
    os.makedirs(pkgs, exist_ok=True)
    with open(os.path.join(pkgs, PACKAGE), "wb") as f:
        f.write(b"!<arch>\n" + bytes(range(256)) * 40)
    cloud = cp.Cloud(os.path.join(base, "cloud"), publish={"intranet": (SITE, target)},
                     options={"cloud": {"packages": pkgs},
                              "limits": {"ping_interval": "1s"}})
    cloud.packages = pkgs
    conns = []
    # History rows every second, not every minute: the charts have data
    # when the browser looks (test_history.py does the same).
    with cp.env_set("UPLINK_TEST_SEEN_SECS", "1"):
        try:
            cloud.init().start()
            for name in ("hq-gw1", "hq-gw2"):
                c = cp.Connector(os.path.join(base, name), name=name, prefix=prefix)
                conns.append(c)
                r = c.enroll(cloud.token(SITE))
                assert r.rc == 0, r
                c.id = re.search(r"connector (c-[0-9a-f]{12})", r.stdout + r.stderr).group(1)
                c.configure(allow=[target], tunnels=2)
                c.start(wait_tunnels=2)
            add_admin(cloud, EMAIL, PASSWORD, "full")
            # Some traffic through the published site, so that the overview's
            # figures are not all zero (when the connectors can resolve the
            # internal name: with host isolation).
            if prefix:
                for _ in range(8):
                    status, _body = cp.http_get(cloud.publish_ports["intranet"])
                    assert status == 200, f"GET through the published service: {status}"
            yield cloud, conns
        finally:
            for c in conns:
                c.stop()
            cloud.stop(check=False)
            svc.stop()


def test_console_in_browser(site):
    cloud, conns = site
    ensure_playwright()
    data = cloud.data
    spki = [spki_sha256(os.path.join(data, f)) for f in ("ca.pem", "server.pem")
            if os.path.exists(os.path.join(data, f))]
    env = dict(os.environ,
               UPLINK_CONSOLE_URL=cloud.url + "/",
               UPLINK_CONSOLE_SPKI=",".join(spki),
               UPLINK_ADMIN_EMAIL=EMAIL,
               UPLINK_ADMIN_PASSWORD=PASSWORD,
               UPLINK_SITE=SITE,
               UPLINK_CONNECTORS=",".join(c.id for c in conns),
               UPLINK_ARTIFACTS=os.path.join(BROWSER_DIR, "artifacts"),
               UPLINK_CHROMIUM=CHROMIUM,
               UPLINK_PACKAGE=PACKAGE,
               UPLINK_PACKAGE_SHA256=hashlib.sha256(
                   open(os.path.join(cloud.packages, PACKAGE), "rb").read()).hexdigest())
    if os.environ.get("UPLINK_UPDATE_DOCS_IMAGES") == "1" or not os.path.exists(DOCS_IMAGE):
        env["UPLINK_DOCS_IMAGE"] = DOCS_IMAGE
    try:
        # UPLINK_BROWSER_STEPS=REGEX runs only the steps whose names match
        # (e.g. "signin|live-refresh" to see one defect's step alone).
        steps = os.environ.get("UPLINK_BROWSER_STEPS")
        args = [f"--test-name-pattern={steps}"] if steps else []
        r = subprocess.run([NODE, "--test", "--test-reporter=spec", *args, SCRIPT], cwd=BROWSER_DIR, env=env,
                           capture_output=True, text=True, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the browser test did not finish within {RUN_TIMEOUT} s:\n"
                    f"{e.stdout or ''}\n{e.stderr or ''}" + cp.tail(cloud.log, 60))
    if r.returncode != 0:
        pytest.fail(f"node --test {SCRIPT} exited {r.returncode}:\n--- stdout ---\n{r.stdout}\n"
                    f"--- stderr ---\n{r.stderr}\n--- uplink-cloud log ---" + cp.tail(cloud.log, 60))
    print(r.stdout)
