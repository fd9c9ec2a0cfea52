"""Starting and stopping the integration suite's peers, and running the program.

Everything here listens on 127.0.0.1 only. Every wait is bounded, every
process is started in its own process group and stopped (SIGTERM to the
group, then SIGKILL) by its stop() method, which the conftest fixtures call
from finalizers, so peers go away even when a test fails or times out.

  free_port()             a port that was free on 127.0.0.1 a moment ago
  DeadPort                a port held bound but never listening: connect()
                          to it is refused (ECONNREFUSED) for the whole run
  TlsServers              tlsserver.py in a subprocess: the test PKI's TLS
                          servers, the CRL/HTTP server and a silent listener
  Squid                   squid -N with a generated config (no cache, a
                          hosts_file for the .test names, denied.test denied)
  Mitmproxy               mitmdump in regular proxy mode with its own confdir
                          and an addon sending *.test upstream to 127.0.0.1
  run_connector()         runs uplink-connector with a timeout and parses --json
"""

import json
import os
import pwd
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import pki as pkimod

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
LOOPBACK = "127.0.0.1"

# Names the TLS servers stand for; squid's hosts_file maps them all to
# 127.0.0.1, the direct runs pass --resolve for them.
TEST_NAMES = [
    "valid.test", "expired.test", "wronghost.test", "other.test", "revoked.test",
    "soon.test", "a.wild.test", "crlgone.test", "untrusted.test", "crl.test",
    "closed.test", "slow.test", "denied.test",
]

STARTUP_TIMEOUT = 30.0     # seconds any peer gets to start accepting
STOP_TIMEOUT = 10.0        # seconds between SIGTERM and SIGKILL

PROXY_ENV = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy",
             "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy")


class PeerError(RuntimeError):
    pass


# --------------------------------------------------------------------------
# ports and processes

# Ports for the daemons a test starts come from 20000-31999, below the
# kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768-60999 by
# default), so no outgoing connection of anybody's holds one meanwhile, and
# each in turn, so this process never hands one out twice (asking the
# kernel for port 0 could: two services of one test were given the same
# port). Each pytest-xdist worker has a slice of its own; other processes
# (bench/*, scripts/demo*) start at a place of their own in the whole range.
PORT_LOW, PORT_HIGH = 20000, 32000
_port_next = [None]


def _port_slice():
    w = os.environ.get("PYTEST_XDIST_WORKER", "")
    n = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if w.startswith("gw") and w[2:].isdigit() and n > 1:
        size = (PORT_HIGH - PORT_LOW) // n
        lo = PORT_LOW + int(w[2:]) % n * size
        return lo, lo + size, lo
    return PORT_LOW, PORT_HIGH, PORT_LOW + os.getpid() * 7919 % (PORT_HIGH - PORT_LOW)


def free_port():
    """A TCP port free on 127.0.0.1 right now that this process has not
    handed out before (until its slice of PORT_LOW..PORT_HIGH wraps)."""
    lo, hi, start = _port_slice()
    if _port_next[0] is None or not lo <= _port_next[0] < hi:
        _port_next[0] = start
    for _ in range(hi - lo):
        port = _port_next[0]
        _port_next[0] = port + 1 if port + 1 < hi else lo
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((LOOPBACK, port))
            except OSError:
                continue
            return port
    raise OSError(f"no free TCP port on {LOOPBACK} in {lo}-{hi - 1}")


class DeadPort:
    """A port bound on 127.0.0.1 but never listened on: connections to it are
    refused, and nothing else can take it while this object lives."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((LOOPBACK, 0))
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


def port_open(port, host=LOOPBACK, timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(port, proc, timeout=STARTUP_TIMEOUT, what="peer", logfile=None):
    """Waits until 127.0.0.1:port accepts, the process dies, or timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise PeerError(f"{what} exited with {proc.returncode} before listening"
                            + _tail(logfile))
        if port_open(port):
            return
        time.sleep(0.1)
    raise PeerError(f"{what} did not listen on {LOOPBACK}:{port} within {timeout:.0f} s"
                    + _tail(logfile))


def _tail(path, n=30):
    if not path or not os.path.exists(path):
        return ""
    with open(path, errors="replace") as f:
        lines = f.readlines()[-n:]
    return f"\n--- {path} (last {len(lines)} lines) ---\n" + "".join(lines)


def stop_process(proc, timeout=STOP_TIMEOUT):
    """SIGTERM to the process group, bounded wait, then SIGKILL. Idempotent."""
    if proc is None:
        return
    if proc.poll() is None:
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
    # Whatever the leader did, leave nothing of its group behind.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=5.0)
    except subprocess.TimeoutExpired:
        pass
    _close_pipes(proc)


def _close_pipes(proc):
    if proc is None:
        return
    for f in (proc.stdin, proc.stdout, proc.stderr):
        if f:
            try:
                f.close()
            except OSError:
                pass


# Runs "$@" with stdin from /dev/null and stops it (SIGTERM) as soon as the
# wrapper's own stdin, a pipe from this process, reaches EOF: so a peer dies
# with the test run even when the run is killed before its finalizers ran.
# (PR_SET_PDEATHSIG would not do: squid changes credentials, which clears it.)
# A SIGTERM to the wrapper is passed on, and the wrapper reaps everything it
# started before it exits, so no zombie is left to init.
WATCHDOG = r"""
exec 3<&0 0</dev/null
"$@" 3<&- &
p=$!
{ while read -r _ <&3; do :; done; kill -TERM "$p" 2>/dev/null; } &
w=$!
exec 3<&-
trap 'kill -TERM "$p" 2>/dev/null' TERM INT HUP
wait "$p"; rc=$?
while kill -0 "$p" 2>/dev/null; do wait "$p"; rc=$?; done
kill -TERM "$w" 2>/dev/null; wait "$w" 2>/dev/null
exit "$rc"
"""


def watched(cmd):
    """cmd wrapped by WATCHDOG; start it with stdin=subprocess.PIPE."""
    return ["/bin/sh", "-c", WATCHDOG, "sh"] + list(cmd)


def read_line(proc, timeout, what):
    """Reads one line of proc.stdout within timeout (bounded)."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    buf = b""
    fd = proc.stdout.fileno()
    try:
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise PeerError(f"{what}: no ready line within {timeout:.0f} s")
            if not sel.select(left):
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                raise PeerError(f"{what} exited ({proc.poll()}) before it was ready")
            buf += chunk
    finally:
        sel.close()
    return buf.split(b"\n", 1)[0].decode()


# --------------------------------------------------------------------------
# TLS servers + CRL server

class TlsServers:
    """The test PKI and tlsserver.py serving it.

    After start():
      pki            pki.Pki (ca_cert, leaves, crl files)
      tls            {"valid": port, "expired": port, ...}
      crl_port       plain HTTP (CRL at /ca.crl, "ok" at /)
      silent         {"slow": port}: accepts and never answers
      dead_crl       DeadPort named by crlgone.test's CRL distribution point
      dead           DeadPort for "connection refused" cases (closed.test)
      dead_proxy     DeadPort used as a proxy nobody listens on
    """

    SILENT = ["slow"]

    def __init__(self, workdir):
        self.dir = workdir
        self.proc = None
        self._held = []

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        # The CRL port goes into every certificate, so bind it first and hand
        # the listening socket to the server process.
        http = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        http.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        http.bind((LOOPBACK, 0))
        http.listen(64)
        self.crl_port = http.getsockname()[1]
        self.dead_crl = DeadPort()
        self.dead = DeadPort()
        self.dead_proxy = DeadPort()
        self._held = [self.dead_crl, self.dead, self.dead_proxy]
        self.pki = pkimod.make_pki(os.path.join(self.dir, "pki"), self.crl_port,
                                   self.dead_crl.port)
        cfg = {
            "tls": {n: {"cert": l.cert, "key": l.key} for n, l in self.pki.leaves.items()},
            "http_fd": http.fileno(),
            "crl": self.pki.crl_der,
            "silent": self.SILENT,
        }
        cfgpath = os.path.join(self.dir, "tlsserver.json")
        with open(cfgpath, "w") as f:
            json.dump(cfg, f, indent=1)
        self.log = os.path.join(self.dir, "tlsserver.log")
        logf = open(self.log, "wb")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, os.path.join(HERE, "tlsserver.py"), cfgpath,
                 "--watch-stdin"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=logf,
                pass_fds=[http.fileno()], start_new_session=True, cwd=self.dir)
        finally:
            logf.close()
            http.close()   # the child has its own copy
        try:
            line = read_line(self.proc, STARTUP_TIMEOUT, "tlsserver.py")
            ports = json.loads(line)
        except Exception as e:
            self.stop()
            raise PeerError(f"tlsserver.py did not start: {e}" + _tail(self.log))
        self.tls = ports["tls"]
        self.silent = ports["silent"]
        if ports["http"] != self.crl_port:
            self.stop()
            raise PeerError("tlsserver.py serves HTTP on an unexpected port")
        for p in list(self.tls.values()) + list(self.silent.values()) + [self.crl_port]:
            wait_port(p, self.proc, what="tlsserver.py", logfile=self.log)
        return self

    def stop(self):
        stop_process(self.proc)
        for d in self._held:
            d.close()
        self._held = []

    def resolve_args(self, extra=()):
        """--resolve HOST:PORT:127.0.0.1 for every (name, port) the servers
        stand for, for direct runs (the program does its own DNS otherwise)."""
        pairs = set(extra)
        names = {"valid": "valid.test", "expired": "expired.test",
                 "wronghost": "wronghost.test", "revoked": "revoked.test",
                 "soon": "soon.test", "wild": "a.wild.test",
                 "crlgone": "crlgone.test", "untrusted": "untrusted.test"}
        for n, host in names.items():
            pairs.add((host, self.tls[n]))
        pairs.add(("slow.test", self.silent["slow"]))
        pairs.add(("crl.test", self.crl_port))
        pairs.add(("crl.test", self.dead_crl.port))
        pairs.add(("closed.test", self.dead.port))
        args = []
        for host, port in sorted(pairs):
            args += ["--resolve", f"{host}:{port}:{LOOPBACK}"]
        return args


# --------------------------------------------------------------------------
# squid

SQUID = "/usr/sbin/squid"

SQUID_CONF = """\
# generated by tests/integration/peers.py
http_port {listen}
pid_filename {dir}/squid.pid
cache_log {dir}/cache.log
access_log stdio:{dir}/access.log
cache_store_log none
coredump_dir {dir}
{user}
# no caching, no helpers, no other listeners
cache deny all
cache_mem 4 MB
memory_pools off
pinger_enable off
digest_generation off
icp_port 0
htcp_port 0
snmp_port 0
shutdown_lifetime 1 seconds
# names come from the hosts file only: never ask a real DNS server
hosts_file {dir}/hosts
dns_nameservers 127.0.0.1
dns_timeout 5 seconds
negative_dns_ttl 1 seconds
forwarded_for delete
via off
acl localsrc src 127.0.0.1/32 ::1
acl denied_dst dstdomain denied.test
http_access deny denied_dst
http_access allow localsrc
http_access deny all
"""


class Squid:
    """squid -N on 127.0.0.1:<free port>; .port, .url, .access_log."""

    def __init__(self, names=TEST_NAMES):
        self.names = list(names)
        self.proc = None
        self.dir = None

    def start(self, attempts=3):
        if not os.access(SQUID, os.X_OK):
            raise PeerError(f"{SQUID} not found (scripts/install-deps installs squid)")
        # squid drops root to cache_effective_user (proxy on Debian), which
        # must be able to write its pid and log files: pytest's own temp dirs
        # are 0700 root, so squid gets a world-traversable directory of its
        # own, removed again in stop().
        self.dir = tempfile.mkdtemp(prefix="uplink-squid-")
        os.chmod(self.dir, 0o755)
        user = ""
        if os.geteuid() == 0:
            pw = pwd.getpwnam("proxy")
            user = "cache_effective_user proxy\ncache_effective_group proxy"
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        with open(os.path.join(self.dir, "hosts"), "w") as f:
            f.write(f"{LOOPBACK} {' '.join(self.names)}\n")
        last = None
        for _ in range(attempts):
            self.port = free_port()
            self.url = f"http://{LOOPBACK}:{self.port}"
            conf = os.path.join(self.dir, "squid.conf")
            with open(conf, "w") as f:
                f.write(SQUID_CONF.format(listen=f"{LOOPBACK}:{self.port}",
                                          dir=self.dir, user=user))
            for p in ("cache.log", "access.log"):
                path = os.path.join(self.dir, p)
                open(path, "a").close()
                if os.geteuid() == 0:
                    os.chown(path, pw.pw_uid, pw.pw_gid)
            self.cache_log = os.path.join(self.dir, "cache.log")
            self.access_log = os.path.join(self.dir, "access.log")
            out = open(os.path.join(self.dir, "stderr.log"), "wb")
            try:
                self.proc = subprocess.Popen(watched([SQUID, "-N", "-f", conf]),
                                             stdin=subprocess.PIPE, stdout=out,
                                             stderr=subprocess.STDOUT,
                                             start_new_session=True, cwd=self.dir)
            finally:
                out.close()
            try:
                wait_port(self.port, self.proc, what="squid", logfile=self.cache_log)
                return self
            except PeerError as e:
                last = e
                stop_process(self.proc)
                self.proc = None
        self.stop()
        raise last

    def stop(self):
        stop_process(self.proc)
        self.proc = None
        if self.dir and os.environ.get("UPLINK_KEEP_PEER_DIRS") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self):
        return _tail(self.access_log) + _tail(self.cache_log)


# --------------------------------------------------------------------------
# mitmproxy

MITMDUMP = "/usr/bin/mitmdump"

# mitmproxy 8.1.1 addon: *.test names do not resolve, so send those upstream
# connections to 127.0.0.1 (same port, SNI unchanged); refuse anything that is
# not loopback so nothing can leave the machine.
MITM_ADDON = '''\
import ipaddress

LOOPBACK = "127.0.0.1"


def _loopback(host):
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def server_connect(data):
    host, port = data.server.address
    h = host.lower().rstrip(".")
    if h == "test" or h.endswith(".test"):
        if data.server.sni is None:
            data.server.sni = h
        data.server.address = (LOOPBACK, port)
    elif not _loopback(h):
        data.server.error = "uplink tests: only .test and loopback upstreams"
'''


class Mitmproxy:
    """mitmdump on 127.0.0.1:<free port>; .port, .url, .ca_cert (PEM)."""

    def __init__(self, workdir):
        self.dir = workdir
        self.proc = None

    def start(self, attempts=3):
        if not os.access(MITMDUMP, os.X_OK):
            raise PeerError(f"{MITMDUMP} not found (scripts/install-deps installs mitmproxy)")
        os.makedirs(self.dir, exist_ok=True)
        confdir = os.path.join(self.dir, "confdir")
        os.makedirs(confdir, exist_ok=True)
        addon = os.path.join(self.dir, "uplink_redirect.py")
        with open(addon, "w") as f:
            f.write(MITM_ADDON)
        self.log = os.path.join(self.dir, "mitmdump.log")
        last = None
        for _ in range(attempts):
            self.port = free_port()
            self.url = f"http://{LOOPBACK}:{self.port}"
            out = open(self.log, "ab")
            env = {k: v for k, v in os.environ.items() if k not in PROXY_ENV}
            env["HOME"] = self.dir
            try:
                self.proc = subprocess.Popen(watched(
                    [MITMDUMP, "--listen-host", LOOPBACK, "--listen-port", str(self.port),
                     "--set", f"confdir={confdir}", "--set", "ssl_insecure=true",
                     "--set", "termlog_verbosity=warn", "--set", "flow_detail=0",
                     "-s", addon]),
                    stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True, cwd=self.dir, env=env)
            finally:
                out.close()
            try:
                # mitmproxy is slow to import; give it the full startup budget.
                wait_port(self.port, self.proc, timeout=60.0, what="mitmdump",
                          logfile=self.log)
                self.ca_cert = os.path.join(confdir, "mitmproxy-ca-cert.pem")
                if not os.path.exists(self.ca_cert):
                    raise PeerError("mitmdump did not write its CA certificate")
                return self
            except PeerError as e:
                last = e
                stop_process(self.proc)
                self.proc = None
        raise last

    def stop(self):
        stop_process(self.proc)
        self.proc = None


# --------------------------------------------------------------------------
# the program under test

def build_dir():
    return os.environ.get("UPLINK_BUILD") or os.path.join(REPO, "build")


def connector_path():
    return os.path.join(build_dir(), "uplink-connector")


@dataclass(repr=False)
class Run:
    args: list
    rc: int
    stdout: str
    stderr: str
    json: object = None

    def __str__(self):
        return (f"$ uplink-connector {' '.join(self.args)}\n"
                f"exit {self.rc}\n--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}")

    __repr__ = __str__


_isolated_dns = None


def dns_isolation(workdir):
    """Returns a command prefix that runs the program in a private mount
    namespace whose /etc/resolv.conf names only 127.0.0.1 (where nothing
    answers), so no DNS query of the program can leave the machine; or []
    when that cannot be done (not root, no unshare)."""
    global _isolated_dns
    if _isolated_dns is not None:
        return _isolated_dns
    _isolated_dns = []
    unshare = shutil.which("unshare")
    if os.geteuid() != 0 or not unshare or os.environ.get("UPLINK_NO_DNS_ISOLATION"):
        return _isolated_dns
    resolv = os.path.join(workdir, "resolv.conf")
    with open(resolv, "w") as f:
        f.write("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    prefix = [unshare, "-m", "--", "/bin/sh", "-c",
              'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolv]
    try:
        r = subprocess.run(prefix + ["/bin/cat", "/etc/resolv.conf"],
                           capture_output=True, text=True, timeout=10)
        if r.returncode == 0 and "127.0.0.1" in r.stdout:
            _isolated_dns = prefix
    except (OSError, subprocess.SubprocessError):
        pass
    return _isolated_dns


def connector_env(env=None):
    """The environment for a run: ours without any proxy variables, plus env
    (entries whose value is None are removed)."""
    e = {k: v for k, v in os.environ.items() if k not in PROXY_ENV}
    for k, v in (env or {}).items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    return e


def run_connector(args, env=None, timeout=60.0, prefix=(), cwd=None):
    """Runs uplink-connector ARGS; kills its process group after timeout
    seconds. Parses stdout as JSON when --json is among the args."""
    binary = connector_path()
    if not os.access(binary, os.X_OK):
        raise PeerError(f"{binary} not found: build it first (make, or make SAN=1 "
                        "with UPLINK_BUILD=build-san)")
    args = [str(a) for a in args]
    proc = subprocess.Popen(list(prefix) + [binary] + args, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=connector_env(env), start_new_session=True, cwd=cwd)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            out, err = proc.communicate(timeout=10.0)
        except subprocess.TimeoutExpired:
            out, err = b"", b"(output lost: the killed process kept its pipes open)"
        raise PeerError(f"uplink-connector {' '.join(args)} ran longer than "
                        f"{timeout:.0f} s and was killed\n--- stdout ---\n"
                        f"{out.decode(errors='replace')}\n--- stderr ---\n"
                        f"{err.decode(errors='replace')}")
    run = Run(args, proc.returncode, out.decode(errors="replace"),
              err.decode(errors="replace"))
    if "--json" in args and run.stdout.strip():
        try:
            run.json = json.loads(run.stdout)
        except ValueError:
            run.json = None
    return run
