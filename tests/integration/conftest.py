"""Fixtures of uplink's integration suite (see README.md in this directory).

Peers are session-scoped and started lazily, the first time a test asks for
them: test_route.py needs none, test_check.py all of them. Each fixture stops
what it started in a finalizer, so nothing outlives the run even when a test
fails, errors or times out.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import peers  # noqa: E402

# Seconds one run of the program may take before it is killed. The ASan build
# is about 3x slower; UPLINK_TEST_TIMEOUT overrides.
RUN_TIMEOUT = float(os.environ.get("UPLINK_TEST_TIMEOUT", "60"))


def pytest_configure(config):
    config.addinivalue_line("markers", "needs_root: needs root (skipped otherwise)")


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root")
    for item in items:
        if "needs_root" in item.keywords:
            item.add_marker(skip)


def pytest_report_header(config):
    cloud = os.path.join(peers.build_dir(), "uplink-cloud")
    return [f"uplink-connector: {peers.connector_path()}"
            + ("" if os.access(peers.connector_path(), os.X_OK) else " (MISSING)"),
            f"uplink-cloud: {cloud}" + ("" if os.access(cloud, os.X_OK) else " (MISSING)")]


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("uplink"))


@pytest.fixture(scope="session")
def servers(workdir):
    """The test PKI, its TLS servers, the CRL server and the dead ports."""
    s = peers.TlsServers(os.path.join(workdir, "servers"))
    try:
        s.start()
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="session")
def squid():
    sq = peers.Squid()
    try:
        sq.start()
        yield sq
    finally:
        sq.stop()


@pytest.fixture(scope="session")
def mitm(workdir):
    m = peers.Mitmproxy(os.path.join(workdir, "mitmproxy"))
    try:
        m.start()
        yield m
    finally:
        m.stop()


@pytest.fixture(scope="session")
def connector(workdir):
    """run(args, env=None, timeout=RUN_TIMEOUT) -> peers.Run

    The program runs with no proxy variables from our environment (env adds
    some), and, where possible (root + unshare), with a private
    /etc/resolv.conf naming only 127.0.0.1, so none of its DNS queries can
    leave the machine."""
    if not os.access(peers.connector_path(), os.X_OK):
        pytest.fail(f"{peers.connector_path()} not found: build it first "
                    "(make; make SAN=1 with UPLINK_BUILD=build-san)", pytrace=False)
    prefix = peers.dns_isolation(workdir)

    def run(args, env=None, timeout=RUN_TIMEOUT):
        try:
            return peers.run_connector(args, env=env, timeout=timeout, prefix=prefix)
        except peers.PeerError as e:
            pytest.fail(str(e), pytrace=False)

    return run


@pytest.fixture
def tmpfile(tmp_path):
    """write(name, text) -> absolute path of a new file in the test's tmp dir."""
    def write(name, text):
        p = tmp_path / name
        p.write_text(text)
        return str(p)
    return write
