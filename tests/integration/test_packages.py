"""The Debian packages under a real systemd (issue 15, section 1).

`make deb` builds uplink-connector and uplink-cloud with dpkg-buildpackage;
lintian must find no error and no warning that debian/ does not explain;
`systemd-analyze verify` checks the units. Then the packages go into a
throwaway Debian made with mmdebstrap and booted with `systemd-nspawn -b`
(its own network namespace, so the cloud listens on 443 and 80 there), and
the tests walk an administrator's path: install (the connector's unit is
not started: no configuration yet), `uplink-cloud init`, start (Type=notify:
`systemctl start` returns once READY, StatusText), a connector enrolled and
started (tunnels in its StatusText), reload (SIGHUP, still active, a log
line), stop, remove (services stopped, state kept), purge (state gone).

The root's tarball is cached in /var/cache/uplink-test/, named after the
suite and the package list, so only the first run downloads (about 1.5
minutes); later runs take well under two minutes, most of it `make deb`.

Skipped in the sanitizer run: the packages are built from the source tree
by dpkg-buildpackage, not taken from UPLINK_BUILD, so a second run would
test the same thing again.
"""

import glob
import hashlib
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

pytestmark = [pytest.mark.needs_root]

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CACHE = "/var/cache/uplink-test"
# What the booted root needs besides the packages' own dependencies.
BASE_PACKAGES = ["systemd", "systemd-sysv", "dbus", "procps"]
TOOLS = ["dpkg-buildpackage", "dh", "lintian", "mmdebstrap", "systemd-nspawn",
         "systemd-analyze", "nsenter", "unshare"]


def _skip_reasons():
    if os.environ.get("UPLINK_BUILD", "").rstrip("/").endswith("build-san"):
        return "packages are built from source, not from UPLINK_BUILD: run once"
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return "missing " + ", ".join(missing) + " (scripts/install-deps)"
    return None


def sh(cmd, timeout=600, check=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"{cmd} exited {r.returncode}:\n{r.stdout[-3000:]}"
                             f"\n{r.stderr[-3000:]}")
    return r


@pytest.fixture(scope="module")
def debs(tmp_path_factory):
    why = _skip_reasons()
    if why:
        pytest.skip(why)
    out = str(tmp_path_factory.mktemp("deb"))
    t0 = time.monotonic()
    sh(["make", "-s", "deb", f"DEBDIR={out}"], cwd=REPO, timeout=1200)
    print(f"make deb: {time.monotonic() - t0:.0f} s")
    found = {}
    for name in ("uplink-connector", "uplink-cloud"):
        paths = glob.glob(os.path.join(out, f"{name}_*.deb"))
        assert len(paths) == 1, f"{name}: {paths}"
        found[name] = paths[0]
    found["changes"] = glob.glob(os.path.join(out, "*.changes"))[0]
    return found


def test_lintian_clean(debs):
    r = sh(["lintian", "--pedantic", "-I", "--fail-on", "error,warning",
            debs["changes"]], check=False)
    tags = [line for line in r.stdout.splitlines() if re.match(r"^[EW]: ", line)]
    assert tags == [] and r.returncode == 0, r.stdout + r.stderr


def test_contents(debs):
    """Programs, manual pages, units, the system users, the docs."""
    want = {
        "uplink-connector": ["./usr/bin/uplink-connector",
                             "./usr/share/man/man8/uplink-connector.8.gz",
                             "./usr/share/man/man5/connector.conf.5.gz",
                             "./lib/systemd/system/uplink-connector.service",
                             "./usr/lib/sysusers.d/uplink-connector.conf",
                             "./usr/share/doc/uplink-connector/install.md.gz"],
        "uplink-cloud": ["./usr/bin/uplink-cloud",
                         "./usr/share/man/man8/uplink-cloud.8.gz",
                         "./usr/share/man/man5/cloud.conf.5.gz",
                         "./lib/systemd/system/uplink-cloud.service",
                         "./lib/systemd/system/uplink-cloud@.service",
                         "./usr/lib/sysusers.d/uplink-cloud.conf",
                         "./usr/share/doc/uplink-cloud/install.md.gz"],
    }
    for name, files in want.items():
        listing = sh(["dpkg-deb", "-c", debs[name]]).stdout
        # dh_compress leaves files under 4 KiB as they are.
        have = {re.sub(r"\.gz$", "", line.split()[-1]) for line in listing.splitlines()}
        files = [re.sub(r"\.gz$", "", f) for f in files]
        assert set(files) <= have, (name, set(files) - have)


# ---- the throwaway root ----

def _depends(deb):
    """The first alternative of every dependency, without versions."""
    names = []
    field = sh(["dpkg-deb", "-f", deb, "Depends"]).stdout
    for dep in field.split(","):
        first = dep.split("|")[0].strip()
        names.append(re.sub(r"\s*\(.*\)", "", first).split(":")[0])
    return names


def _suite():
    with open("/etc/os-release") as f:
        m = re.search(r"^VERSION_CODENAME=(\S+)", f.read(), re.M)
    return m.group(1) if m else "bookworm"


def root_tarball(debs):
    """mmdebstrap's root with every package the debs need, cached by list."""
    pkgs = sorted(set(BASE_PACKAGES + _depends(debs["uplink-connector"])
                      + _depends(debs["uplink-cloud"])))
    suite = _suite()
    key = hashlib.sha256(" ".join([suite] + pkgs).encode()).hexdigest()[:16]
    path = os.path.join(CACHE, f"root-{suite}-{key}.tar")
    if os.path.exists(path):
        return path
    os.makedirs(CACHE, exist_ok=True)
    tmp = path[:-len(".tar")] + f".{os.getpid()}.tmp.tar"
    t0 = time.monotonic()
    sh(["mmdebstrap", "--quiet", "--variant=apt", "--format=tar",
        "--include=" + ",".join(pkgs),
        suite, tmp], timeout=1800)
    os.rename(tmp, path)
    print(f"mmdebstrap ({len(pkgs)} packages): {time.monotonic() - t0:.0f} s")
    return path


class Machine:
    """A root booted with systemd-nspawn -b; commands run with nsenter.

    The host here may run no systemd: nspawn is told not to register with
    machined (--register=no, --keep-unit) and gets a private tmpfs for its
    /run/systemd/nspawn in a mount namespace of its own (it refuses to
    clean up a propagation directory on a disk file system)."""

    def __init__(self, root, log):
        self.root = root
        self.logf = open(log, "w")
        self.proc = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c",
             "mkdir -p /run/systemd/nspawn && "
             "mount -t tmpfs tmpfs /run/systemd/nspawn && exec systemd-nspawn "
             "-q --register=no --keep-unit --private-network "
             "--console=passive -M uplink-pkgtest -b -D \"$0\"", root],
            stdout=self.logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            self.leader = self._find_leader()
        except BaseException:
            self.stop()
            raise

    def _find_leader(self):
        """The container's init: PID 1 of its namespace, below nspawn."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"nspawn exited {self.proc.returncode}"
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    with open(f"/proc/{pid}/status") as f:
                        status = f.read()
                except OSError:
                    continue
                nspid = re.search(r"^NSpid:\s+(.*)$", status, re.M).group(1).split()
                ppid = int(re.search(r"^PPid:\s+(\d+)", status, re.M).group(1))
                if len(nspid) > 1 and nspid[-1] == "1" and ppid == self.proc.pid:
                    return int(pid)
            time.sleep(0.2)
        raise AssertionError("the container's init never started")

    def run(self, cmd, check=True, timeout=120):
        return sh(["nsenter", "-a", "-r", "-w", "-t", str(self.leader), "--",
                   "/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                   "LANG=C.UTF-8", "/bin/sh", "-c", cmd],
                  check=check, timeout=timeout)

    def wait_booted(self):
        deadline = time.monotonic() + 120
        state = ""
        while time.monotonic() < deadline:
            state = self.run("systemctl is-system-running", check=False).stdout.strip()
            if state in ("running", "degraded"):
                return state
            time.sleep(0.5)
        raise AssertionError(f"the container did not finish booting: {state}")

    def show(self, unit, prop):
        return self.run(f"systemctl show -p {prop} --value {unit}").stdout.strip()

    def journal(self, unit):
        return self.run(f"journalctl -q --no-pager -o cat -u {unit}").stdout

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # an orderly poweroff
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                # Killing the container's init ends its PID namespace.
                for pid in (getattr(self, "leader", None), self.proc.pid):
                    if pid:
                        try:
                            os.kill(pid, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
                self.proc.wait(timeout=30)
        self.logf.close()


@pytest.fixture(scope="module")
def machine(debs, tmp_path_factory):
    tarball = root_tarball(debs)
    base = str(tmp_path_factory.mktemp("nspawn"))
    root = os.path.join(base, "root")
    os.mkdir(root)
    t0 = time.monotonic()
    sh(["tar", "--numeric-owner", "-xpf", tarball, "-C", root])
    os.makedirs(os.path.join(root, "root/debs"), exist_ok=True)
    for name in ("uplink-connector", "uplink-cloud"):
        shutil.copy(debs[name], os.path.join(root, "root/debs", name + ".deb"))
    with open(os.path.join(root, "etc/hosts"), "a") as f:
        f.write("127.0.0.1 cloud.test\n")
    m = Machine(root, os.path.join(base, "console.log"))
    try:
        state = m.wait_booted()
        print(f"nspawn boot ({state}): {time.monotonic() - t0:.0f} s with extraction")
        yield m
    finally:
        m.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_units_verify(machine):
    """systemd-analyze verify on the installed units, in the booted root."""
    machine.run("dpkg -i /root/debs/uplink-connector.deb /root/debs/uplink-cloud.deb")
    r = machine.run("SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "
                    "uplink-connector.service uplink-cloud.service "
                    "uplink-cloud@1.service", check=False)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stdout + r.stderr


def test_lifecycle(machine):
    m = machine
    m.run("dpkg -i /root/debs/uplink-connector.deb /root/debs/uplink-cloud.deb")
    # The system users, no login shell; /etc/uplink made by the packages.
    for user in ("uplink-connector", "uplink-cloud"):
        pw = m.run(f"getent passwd {user}").stdout.strip().split(":")
        assert int(pw[2]) < 1000 and pw[6] in ("/usr/sbin/nologin", "/sbin/nologin"), pw
    assert m.run("stat -c %U:%a /etc/uplink").stdout.strip() == "root:755"

    # Installed and enabled, but not started: no configuration yet. A
    # condition that fails is not a failure (dpkg -i above exited 0).
    for unit in ("uplink-connector", "uplink-cloud"):
        assert m.run(f"systemctl is-enabled {unit}").stdout.strip() == "enabled"
        m.run(f"systemctl start {unit}")
        assert m.show(unit, "ConditionResult") == "no"
        assert m.show(unit, "ActiveState") == "inactive"
        assert m.run(f"systemctl is-failed {unit}", check=False).stdout.strip() != "failed"

    # The cloud: init as root (its files get the service user at start),
    # on the default ports 443 and 80, which the unit's one capability opens.
    m.run("uplink-cloud init --data-dir /var/lib/uplink-cloud --name cloud.test")
    m.run("install -m 0640 -g uplink-cloud /var/lib/uplink-cloud/cloud.conf "
          "/etc/uplink/cloud.conf")
    m.run("systemctl start uplink-cloud")   # returns at READY=1 (Type=notify)
    assert m.show("uplink-cloud", "ActiveState") == "active"
    assert m.show("uplink-cloud", "StatusText") == "0 connector tunnels up"
    pid = m.show("uplink-cloud", "MainPID")
    assert m.run(f"ps -o user= -p {pid}").stdout.strip() == "uplink-cloud"
    assert m.run("stat -c %U:%a /var/lib/uplink-cloud/ca.key").stdout.strip() == \
        "uplink-cloud:600"
    log = m.journal("uplink-cloud")
    assert "uplink-cloud 0.1.0 running" in log, log
    # The journal stamps lines itself: none of ours carries a timestamp,
    # and the "<N>" prefix became the priority (6 info, 4 warning).
    assert not re.search(r"^\d{4}-\d\d-\d\dT", log, re.M), log
    assert not re.search(r"^<\d>", log, re.M), log
    export = m.run("journalctl -q --no-pager -o export -u uplink-cloud").stdout
    prio = [re.search(r"^PRIORITY=(\d)", e, re.M).group(1)
            for e in export.split("\n\n")
            if "\nMESSAGE=uplink-cloud 0.1.0 running" in e]
    assert prio == ["6"], prio
    # Capabilities: CAP_NET_BIND_SERVICE (bit 10) and nothing else.
    caps = m.run(f"grep -E '^Cap(Eff|Bnd)' /proc/{pid}/status").stdout.split()
    assert caps == ["CapEff:", "0000000000000400", "CapBnd:", "0000000000000400"], caps

    # A connector enrolled the packaged way: /etc/uplink/connector.conf,
    # readable by the service's group; the unit's condition now holds.
    token = m.run("uplink-cloud token create --config /etc/uplink/cloud.conf "
                  "--site hq").stdout
    tok = re.search(r"uplink1-\S+", token).group(0)
    out = m.run(f"echo {tok} | uplink-connector enroll --token -").stdout
    assert "systemctl enable --now uplink-connector" in out, out
    assert m.run("stat -c %U:%G:%a /etc/uplink/connector.conf").stdout.strip() == \
        "root:uplink-connector:640"
    m.run("systemctl start uplink-connector")   # READY after the first attempt
    assert m.show("uplink-connector", "ActiveState") == "active"
    assert re.match(r"\d of 2 tunnels up to https://cloud.test",
                    m.show("uplink-connector", "StatusText"))
    deadline = time.monotonic() + 60
    while m.show("uplink-connector", "StatusText").split()[0] != "2":
        assert time.monotonic() < deadline, m.journal("uplink-connector")
        time.sleep(0.5)
    while m.show("uplink-cloud", "StatusText") != "2 connector tunnels up":
        assert time.monotonic() < deadline, m.journal("uplink-cloud")
        time.sleep(0.5)
    assert m.run("stat -c %U:%a /var/lib/uplink-connector/connector.key"
                 ).stdout.strip() == "uplink-connector:600"
    cpid = m.show("uplink-connector", "MainPID")
    assert m.run(f"ps -o user= -p {cpid}").stdout.strip() == "uplink-connector"
    caps = m.run(f"grep -E '^Cap(Eff|Bnd)' /proc/{cpid}/status").stdout.split()
    assert caps == ["CapEff:", "0000000000000000", "CapBnd:", "0000000000000000"], caps

    # Reload: SIGHUP, RELOADING/READY around it; still active, same process.
    for unit in ("uplink-cloud", "uplink-connector"):
        pid = m.show(unit, "MainPID")
        m.run(f"systemctl reload {unit}")
        assert m.show(unit, "ActiveState") == "active"
        assert m.show(unit, "MainPID") == pid
        assert "SIGHUP: reloaded /etc/uplink/" in m.journal(unit)

    # Stop: the drain, then inactive (not failed).
    m.run("systemctl stop uplink-connector")
    assert m.show("uplink-connector", "ActiveState") == "inactive"
    assert "drained: every tunnel is closed" in m.journal("uplink-connector")
    m.run("systemctl stop uplink-cloud")
    assert m.show("uplink-cloud", "ActiveState") == "inactive"
    assert m.show("uplink-cloud", "Result") == "success"
    m.run("systemctl start uplink-cloud uplink-connector")

    # Nothing was written outside /etc/uplink and the state directories
    # (the journal and systemd's own bookkeeping aside).
    written = m.run(
        "find /etc /usr /var /opt /srv /home /root -xdev -newer "
        "/etc/uplink/cloud.conf -type f ! -path '/var/lib/uplink-*' "
        "! -path '/var/log/journal/*' ! -path '/var/lib/systemd/*' "
        "! -path '/etc/uplink/*' ! -path '/var/cache/*' -print").stdout
    assert written.strip() == "", written

    # Remove: the services stop, the state stays.
    m.run("dpkg -r uplink-connector uplink-cloud")
    for unit in ("uplink-connector", "uplink-cloud"):
        assert m.run(f"systemctl is-active {unit}", check=False).stdout.strip() in \
            ("inactive", "unknown")
    assert m.run("pgrep -u uplink-cloud,uplink-connector", check=False).returncode == 1
    m.run("test -f /var/lib/uplink-cloud/uplink.db && "
          "test -f /var/lib/uplink-connector/connector.key && "
          "test -f /etc/uplink/connector.conf")

    # Purge: the state goes; the administrator's cloud.conf stays.
    m.run("dpkg -P uplink-connector uplink-cloud")
    m.run("test ! -e /var/lib/uplink-cloud && test ! -e /var/lib/uplink-connector "
          "&& test ! -e /etc/uplink/connector.conf && test -f /etc/uplink/cloud.conf")


def test_installer(machine):
    """uplink-connector install (issue 15, section 2) against the cloud in
    the container: the administrator's proxy from /etc/environment (as
    after sudo) is dead, so the check fails and nothing is installed; the
    same token with --bypass for the cloud then installs and starts."""
    m = machine
    m.run("rm -f /etc/uplink/cloud.conf; dpkg -i /root/debs/uplink-connector.deb "
          "/root/debs/uplink-cloud.deb")
    m.run("uplink-cloud init --data-dir /var/lib/uplink-cloud --name cloud.test")
    m.run("install -m 0640 -g uplink-cloud /var/lib/uplink-cloud/cloud.conf "
          "/etc/uplink/cloud.conf && systemctl start uplink-cloud")
    tok = re.search(r"uplink1-\S+", m.run(
        "uplink-cloud token create --config /etc/uplink/cloud.conf --site hq"
    ).stdout).group(0)
    m.run("echo https_proxy=http://127.0.0.1:9 >> /etc/environment")

    r = m.run(f"uplink-connector install --token {tok} --yes </dev/null", check=False)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Proxy: http://127.0.0.1:9 (from /etc/environment)" in r.stdout, r.stdout
    assert "cannot be reached" in r.stderr and "Nothing was installed" in r.stderr, r.stderr
    m.run("test ! -e /etc/uplink/connector.conf && test ! -e /var/lib/uplink-connector")
    assert m.show("uplink-connector", "ActiveState") == "inactive"

    r = m.run(f"uplink-connector install --token {tok} --yes --bypass cloud.test "
              "</dev/null", check=False, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r'Enrolled connector c-[0-9a-f]+ in site "hq"', r.stdout), r.stdout
    assert "State: active, 2 of 2 tunnels up to https://cloud.test" in r.stdout, r.stdout
    conf = m.run("cat /etc/uplink/connector.conf").stdout
    assert "server = http://127.0.0.1:9" in conf and "cloud.test" in conf, conf
    assert m.run("systemctl is-enabled uplink-connector").stdout.strip() == "enabled"

    r = m.run("uplink-connector uninstall </dev/null", check=False)
    assert r.returncode == 1 and "nothing removed" in r.stderr, r.stderr
    m.run("test -f /var/lib/uplink-connector/connector.key")
    m.run("uplink-connector uninstall --yes")
    assert m.show("uplink-connector", "ActiveState") == "inactive"
    assert m.run("systemctl is-enabled uplink-connector",
                 check=False).stdout.strip() == "disabled"
    m.run("test ! -e /etc/uplink/connector.conf && test ! -e /var/lib/uplink-connector")
    m.run("dpkg -P uplink-connector uplink-cloud")


# ---- sd_notify and the journal format on the host (also run under ASan) ----

def _notify_socket(tmp_path):
    import socket
    path = str(tmp_path / "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(1.0)
    return s, path


def _wait_notify(sock, want, seen, timeout=60):
    """Collects datagrams into seen until one contains the text want."""
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            seen.append(sock.recv(4096).decode())
        except socket.timeout:
            continue
        if want in seen[-1]:
            return seen[-1]
    raise AssertionError(f"no {want!r} in {seen}")


def test_notify_and_journal_lines(tmp_path, monkeypatch):
    """What systemd would see, without systemd: the daemons started with
    NOTIFY_SOCKET (a datagram socket of the test) and JOURNAL_STREAM naming
    their log file. READY=1 with STATUS, STATUS on changes, RELOADING=1
    then READY=1 around SIGHUP, STOPPING=1; log lines "<N>message" with
    no timestamp."""
    import cloudpeers
    sock, path = _notify_socket(tmp_path)
    cloud = cloudpeers.Cloud(str(tmp_path / "cloud"))
    cloud.init()
    cloud.write_conf()
    conn = cloudpeers.Connector(str(tmp_path / "conn"))
    try:
        for log in (os.path.join(cloud.dir, "cloud.log"), conn.log):
            open(log, "a").close()
        st = os.stat(os.path.join(cloud.dir, "cloud.log"))
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
        cloud.start()
        assert "READY=1\nSTATUS=0 connector tunnels up" in \
            _wait_notify(sock, "READY=1", [])
        assert conn.enroll(cloud.token("hq")).rc == 0
        conn.configure(allow=["127.0.0.1:9"])
        st = os.stat(conn.log)
        monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
        conn.start()
        monkeypatch.delenv("NOTIFY_SOCKET")
        monkeypatch.delenv("JOURNAL_STREAM")
        # The connector is ready after its first attempt; the datagrams of
        # both daemons arrive on the one socket, told apart by their text.
        seen = []
        ready = _wait_notify(sock, "tunnels up to", seen)
        assert ready.startswith("READY=1\nSTATUS=") and \
            re.search(r"STATUS=[012] of 2 tunnels up to https://", ready), seen
        _wait_notify(sock, "STATUS=2 of 2 tunnels up", seen)
        _wait_notify(sock, "STATUS=2 connector tunnels up", seen)

        for proc, name in ((cloud.proc, "cloud"), (conn.proc, "connector")):
            seen = []
            proc.send_signal(signal.SIGHUP)
            _wait_notify(sock, "RELOADING=1", seen)
            assert re.search(r"MONOTONIC_USEC=\d+", seen[-1]), seen
            _wait_notify(sock, "READY=1", seen)
        cloud.wait_log(r"<6>SIGHUP: reloaded .*cloud.conf: log_level applied", 10)
        conn.wait_log(r"<6>SIGHUP: reloaded ", 10)
        conn.stop(check=True)   # exit 0: under ASan, no leak either
        _wait_notify(sock, "STOPPING=1", [])
        for text in (cloud.log_text(), open(conn.log).read()):
            lines = [ln for ln in text.splitlines() if ln.strip()]
            assert lines and all(re.match(r"<[2-7]>\S", ln) for ln in lines), lines[:5]
        cloud.stop(check=True)
    finally:
        conn.stop(check=False)
        cloud.stop(check=False)
        sock.close()
