"""The tunnel's integration peers: uplink-cloud, connectors, internal services.

Everything listens on 127.0.0.1 (or inside network namespaces a test makes),
every process runs in its own process group, is stopped by its stop() method
(SIGTERM, then SIGKILL) and also dies with the test run (PR_SET_PDEATHSIG or
a pipe it watches), and every wait has a deadline.

  Services            this file run as a script ("services"): the internal
                      network's TCP services, one asyncio process
  Cloud               uplink-cloud init + cloud.conf + run, its admin commands
  Connector           uplink-connector enroll + a written config + run
  host_isolation()    a command prefix: private /etc/hosts and resolv.conf
  Prober              a client opening new echo connections continuously
                      (a thread), recording each outcome with its time
  log_events()        the lines of a daemon's log matching a regex, with
                      their timestamps; iso() formats a time the same way
  squid_kill(), squid_restart()   a peers.Squid killed and started again
                      on the same port
  rss_kb(), listening_sockets(), cert_serial(), forge_token(), ...

The services (python3 cloudpeers.py services --bind ADDR) print their ports
as one JSON line and stop when their stdin closes:

  http    HTTP/1.1 "internal web site": 200 and INDEX_MARK, the path and
          the Host header in the body; Connection: close
  echo    sends back what it reads; on the client's EOF it shuts down its
          own write side (half-close propagates both ways)
  sink    reads to EOF, answers "COUNT SHA256HEX\\n", closes
  source  reads "N\\n", sends N bytes of random data, then the 64 hex digits
          of their SHA-256, then shuts down its write side; whatever the
          client sends after that is recorded (stats "source")
  mute    shuts down its write side at once, reads to EOF, records
          count + sha256 (stats "mute"): the reverse half-close
  slow    like sink, but reads at most --slow-rate bytes/s (small reads
          with sleeps): a target slower than the sender
  stats   reads "NAME\\n", answers {"accepted": N, "results": [...]} for
          that service as one JSON line
"""

import asyncio
import base64
import calendar
import contextlib
import ctypes
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import peers  # noqa: E402

LOOPBACK = peers.LOOPBACK
INDEX_MARK = "uplink intranet: it works"
INTRANET = "intranet.test"          # the internal site's name (private hosts)
STOP_TIMEOUT = 15.0
START_TIMEOUT = float(os.environ.get("UPLINK_TEST_START_TIMEOUT", "30"))
SAN = "san" in os.path.basename(peers.build_dir().rstrip("/"))


class PeerError(peers.PeerError):
    pass


# --------------------------------------------------------------------------
# processes

_libc = None


def _die_with_parent():
    """preexec_fn: SIGKILL this child when the test process goes away."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    _libc.prctl(1, signal.SIGKILL, 0, 0, 0)   # PR_SET_PDEATHSIG


def spawn(cmd, log, env=None, cwd=None, stdin=subprocess.DEVNULL):
    """Starts cmd in its own process group with stdout+stderr appended to
    log; it is SIGKILLed if the test process dies first."""
    out = open(log, "ab")
    try:
        return subprocess.Popen([str(c) for c in cmd], stdin=stdin, stdout=out,
                                stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                start_new_session=True,
                                preexec_fn=_die_with_parent)
    finally:
        out.close()


def tail(path, n=40):
    return peers._tail(path, n)


def read_text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def wait_for(pred, timeout, what, interval=0.05, on_fail=None):
    """Polls pred() until it returns something true (returned), or raises
    PeerError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise PeerError(f"{what}: not within {timeout:.1f} s"
                            + (on_fail() if on_fail else ""))
        time.sleep(interval)


def poll(fn, timeout, what, interval=0.2):
    """Calls fn() until it returns something true (returned), bounded; an
    AssertionError from fn counts as not yet, and the last one is shown if
    the time runs out."""
    last = {}

    def once():
        try:
            return fn()
        except AssertionError as e:
            last["e"] = e
            return None
    return wait_for(once, timeout, what, interval=interval,
                    on_fail=lambda: f"\nlast: {last.get('e')}")


@contextlib.contextmanager
def env_set(name, value):
    """os.environ[name] = value for the with block, then as it was."""
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def wait_exit(proc, timeout):
    """The exit status, or None if still running after timeout."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def sanitizer_reports(paths):
    """The tails of the logs among paths that hold an ASan/LSan/UBSan report."""
    found = []
    for p in paths:
        text = read_text(p)
        if any(m in text for m in SANITIZER_MARKS):
            found.append(f"sanitizer report in {p}:" + tail(p, 60))
    return found


def stop_network(connectors, cloud, others=()):
    """Stops a test network: the connectors (each must exit 0 on SIGTERM
    if it was running), then the cloud (likewise), then others (anything
    with stop() or close()). Raises AssertionError naming every daemon that
    did not exit cleanly and every sanitizer report in their logs."""
    errors = []
    for c in connectors:
        running = c.proc is not None and c.proc.poll() is None
        rc = c.stop(timeout=10)
        if running and rc != 0:
            errors.append(f"connector {c.name}: exit {rc} on SIGTERM" + tail(c.log))
    if cloud is not None:
        try:
            cloud.stop(check=True)
        except PeerError as e:
            errors.append(str(e))
    for o in others:
        if o is not None:
            (o.stop if hasattr(o, "stop") else o.close)()
    logs = [c.log for c in connectors]
    if cloud is not None and hasattr(cloud, "log"):
        logs.append(cloud.log)
    errors += sanitizer_reports([p for p in logs if os.path.exists(p)])
    if errors:
        raise AssertionError("\n".join(errors))


def rss_kb(pid):
    """VmRSS of pid in KiB (None if it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _socket_inodes(pid):
    inodes = set()
    d = f"/proc/{pid}/fd"
    for fd in os.listdir(d):
        try:
            t = os.readlink(os.path.join(d, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", t)
        if m:
            inodes.add(m.group(1))
    return inodes


def listening_sockets(pid):
    """Listening TCP/UDP-bound/UNIX-listening sockets owned by pid, read from
    /proc/PID/fd and /proc/PID/net/* (the process's own network namespace):
    a list of "proto local-address" strings."""
    mine = _socket_inodes(pid)
    found = []
    for proto in ("tcp", "tcp6"):
        with open(f"/proc/{pid}/net/{proto}") as f:
            next(f)
            for line in f:
                cols = line.split()
                if cols[3] == "0A" and cols[9] in mine:    # TCP_LISTEN
                    found.append(f"{proto} {cols[1]}")
    for proto in ("udp", "udp6"):
        with open(f"/proc/{pid}/net/{proto}") as f:
            next(f)
            for line in f:
                cols = line.split()
                if cols[9] in mine and cols[2].endswith(":0000") and \
                        not cols[1].endswith(":0000"):
                    # bound, unconnected: a UDP "listener"
                    found.append(f"{proto} {cols[1]}")
    with open(f"/proc/{pid}/net/unix") as f:
        next(f)
        for line in f:
            cols = line.split()
            # Flags 00010000 = __SO_ACCEPTCON: a listening UNIX socket
            if len(cols) >= 7 and cols[6] in mine and cols[3] == "00010000":
                found.append(f"unix {cols[7] if len(cols) > 7 else '?'}")
    return found


def cert_serial(path):
    from cryptography import x509
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read()).serial_number


def cert_validity(path):
    """(not_before, not_after) of a PEM certificate, as Unix times."""
    from cryptography import x509
    with open(path, "rb") as f:
        c = x509.load_pem_x509_certificate(f.read())
    # not_valid_*_utc needs cryptography 42; Debian 12 has 38 (naive UTC)
    return (calendar.timegm(c.not_valid_before.utctimetuple()),
            calendar.timegm(c.not_valid_after.utctimetuple()))


# --------------------------------------------------------------------------
# private /etc/hosts and /etc/resolv.conf

_isolation = {}


def isolation_or_skip(workdir):
    """host_isolation(workdir), or the test skipped, saying why."""
    prefix = host_isolation(workdir)
    if not prefix:
        import pytest
        pytest.skip("needs root and unshare: connectors resolve intranet.test from a "
                    "private /etc/hosts in their own mount namespace")
    return prefix


def host_isolation(workdir, hosts=(INTRANET,), addr=LOOPBACK):
    """A command prefix running the program in a private mount namespace
    whose /etc/hosts maps hosts to addr (127.0.0.1; another loopback
    address such as 127.0.0.2 makes a host where nothing listens) and
    localhost to 127.0.0.1, and whose /etc/resolv.conf names only 127.0.0.1,
    where nothing answers: so the connector resolves our internal names and
    no query leaves the machine. [] when that cannot be done (not root, no
    unshare)."""
    key = (workdir, tuple(hosts), addr)
    if key in _isolation:
        return _isolation[key]
    prefix = []
    unshare = shutil.which("unshare")
    if os.geteuid() == 0 and unshare and not os.environ.get("UPLINK_NO_DNS_ISOLATION"):
        d = os.path.join(workdir, "etc")
        os.makedirs(d, exist_ok=True)
        resolv = os.path.join(d, "resolv.conf")
        hostsf = os.path.join(d, "hosts")
        with open(resolv, "w") as f:
            f.write("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        with open(hostsf, "w") as f:
            if addr == LOOPBACK:
                f.write(f"127.0.0.1 localhost {' '.join(hosts)}\n")
            else:
                f.write(f"127.0.0.1 localhost\n{addr} {' '.join(hosts)}\n")
        cand = [unshare, "-m", "--", "/bin/sh", "-c",
                'mount --bind "$0" /etc/resolv.conf && mount --bind "$1" /etc/hosts'
                ' && shift && exec "$@"', resolv, hostsf]
        try:
            r = subprocess.run(cand + ["/bin/cat", "/etc/hosts"], capture_output=True,
                               text=True, timeout=10)
            if r.returncode == 0 and hosts[0] in r.stdout:
                prefix = cand
        except (OSError, subprocess.SubprocessError):
            pass
    _isolation[key] = prefix
    return prefix


# --------------------------------------------------------------------------
# running the programs once

def cloud_path():
    return os.path.join(peers.build_dir(), "uplink-cloud")


@dataclass(repr=False)
class Run:
    prog: str
    args: list
    rc: int
    stdout: str
    stderr: str
    json: object = None

    def __str__(self):
        return (f"$ {self.prog} {' '.join(self.args)}\nexit {self.rc}\n--- stdout ---\n"
                f"{self.stdout}\n--- stderr ---\n{self.stderr}")

    __repr__ = __str__


RUN_TIMEOUT = float(os.environ.get("UPLINK_TEST_TIMEOUT", "60"))


def run_prog(binary, args, env=None, timeout=RUN_TIMEOUT, prefix=(), stdin_text=None):
    """Runs a program once (bounded), returns a Run; --json output parsed."""
    if not os.access(binary, os.X_OK):
        raise PeerError(f"{binary} not found: build it first (make, or make SAN=1 "
                        "with UPLINK_BUILD=build-san)")
    args = [str(a) for a in args]
    proc = subprocess.Popen(list(prefix) + [binary] + args,
                            stdin=subprocess.PIPE if stdin_text is not None
                            else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=peers.connector_env(env), start_new_session=True,
                            preexec_fn=_die_with_parent)
    try:
        out, err = proc.communicate(input=stdin_text.encode() if stdin_text else None,
                                    timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=10)
        raise PeerError(f"{os.path.basename(binary)} {' '.join(args)} ran longer than "
                        f"{timeout:.0f} s and was killed\n--- stdout ---\n"
                        f"{out.decode(errors='replace')}\n--- stderr ---\n"
                        f"{err.decode(errors='replace')}")
    r = Run(os.path.basename(binary), args, proc.returncode,
            out.decode(errors="replace"), err.decode(errors="replace"))
    if "--json" in args and r.stdout.strip():
        try:
            r.json = json.loads(r.stdout)
        except ValueError:
            r.json = None
    return r


# --------------------------------------------------------------------------
# tokens

def token_payload(token):
    body = token[len("uplink1-"):]
    return bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def token_encode(payload):
    p = bytes(payload[:-4])
    p += hashlib.sha256(p).digest()[:4]
    return "uplink1-" + base64.urlsafe_b64encode(p).decode().rstrip("=")


def forge_token(token):
    """The same token (URL, pin) with a random secret and a valid checksum:
    well-formed, so only the cloud can refuse it."""
    p = token_payload(token)
    p[1:33] = secrets.token_bytes(32)
    return token_encode(p)


def damage_token(token):
    """token with one character flipped in the middle (checksum no longer
    matches)."""
    i = len(token) // 2
    c = token[i]
    return token[:i] + ("A" if c != "A" else "B") + token[i + 1:]


# --------------------------------------------------------------------------
# internal services

class Services:
    """This file run as "services" in a subprocess (optionally with a
    command prefix, e.g. ip netns exec NS). .ports = {"echo": N, ...}."""

    def __init__(self, workdir, bind=LOOPBACK, prefix=(), slow_rate=80 << 20):
        self.dir = workdir
        self.bind = bind
        self.prefix = list(prefix)
        self.slow_rate = slow_rate
        self.proc = None

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        self.log = os.path.join(self.dir, "services.log")
        err = open(self.log, "ab")
        try:
            self.proc = subprocess.Popen(
                self.prefix + [sys.executable, os.path.abspath(__file__), "services",
                               "--bind", self.bind, "--slow-rate", str(self.slow_rate)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                start_new_session=True, preexec_fn=_die_with_parent)
        finally:
            err.close()
        try:
            self.ports = json.loads(peers.read_line(self.proc, START_TIMEOUT, "services"))
        except Exception as e:
            self.stop()
            raise PeerError(f"the internal services did not start: {e}" + tail(self.log))
        return self

    def stop(self):
        peers.stop_process(self.proc, timeout=5)
        self.proc = None

    def stats(self, name, host=None):
        with socket.create_connection((host or self.bind, self.ports["stats"]),
                                      timeout=10) as s:
            s.sendall(name.encode() + b"\n")
            return json.loads(recv_all(s, 10).decode())


# ---- client helpers (used by the tests through published ports)

def recv_all(sock, timeout, limit=1 << 34):
    """Reads until EOF (bounded in time); returns the bytes."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    chunks = []
    n = 0
    while n < limit:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no EOF within {timeout} s ({n} bytes read)")
        b = sock.recv(1 << 16)
        if not b:
            break
        chunks.append(b)
        n += len(b)
    return b"".join(chunks)


def connect(port, host=LOOPBACK, timeout=10):
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def echo_once(port, payload, timeout=20, host=LOOPBACK):
    """payload to an echo target, half-close, everything back."""
    with connect(port, host, timeout) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        return recv_all(s, timeout)


def random_block(n=1 << 20):
    return os.urandom(n)


def send_to_sink(port, total, timeout, host=LOOPBACK, block=None, chunk=1 << 20):
    """Sends total bytes (a random block repeated), half-closes and reads the
    sink's "COUNT SHA" answer. Returns (sent_sha, answer_count, answer_sha)."""
    block = block or random_block(chunk)
    h = hashlib.sha256()
    deadline = time.monotonic() + timeout
    with connect(port, host, timeout) as s:
        s.settimeout(timeout)
        sent = 0
        mv = memoryview(block)
        while sent < total:
            if time.monotonic() > deadline:
                raise TimeoutError(f"sending took longer than {timeout} s "
                                   f"({sent} of {total} bytes)")
            part = mv[:min(len(block), total - sent)]
            s.sendall(part)
            h.update(part)
            sent += len(part)
        s.shutdown(socket.SHUT_WR)
        ans = recv_all(s, max(5.0, deadline - time.monotonic())).decode().split()
    if len(ans) != 2:
        return h.hexdigest(), None, " ".join(ans)
    return h.hexdigest(), int(ans[0]), ans[1]


def fetch_from_source(port, total, timeout, host=LOOPBACK, after=b""):
    """Asks the source for total bytes; returns (count, sha_of_data,
    sha_the_source_sent). after is sent once the source's EOF arrived."""
    h = hashlib.sha256()
    deadline = time.monotonic() + timeout
    with connect(port, host, timeout) as s:
        s.settimeout(timeout)
        s.sendall(f"{total}\n".encode())
        got = 0
        tailbuf = b""
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError(f"receiving took longer than {timeout} s ({got} bytes)")
            b = s.recv(1 << 20)
            if not b:
                break
            tailbuf += b
            if len(tailbuf) > 64:
                h.update(tailbuf[:-64])
                got += len(tailbuf) - 64
                tailbuf = tailbuf[-64:]
        if after:
            s.sendall(after)
        s.shutdown(socket.SHUT_WR)
    return got, h.hexdigest(), tailbuf.decode(errors="replace")


def http_get(port, path="/", host_header=INTRANET, timeout=10, host=LOOPBACK):
    """A raw HTTP/1.1 GET through a published port; returns (status, body)."""
    with connect(port, host, timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host_header}\r\n"
                  "Connection: close\r\n\r\n".encode())
        data = recv_all(s, timeout)
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    return (int(m.group(1)) if m else None), body.decode(errors="replace")


@dataclass
class Attempt:
    """One connection of a Prober: wall-clock start and end (time.time(),
    comparable with the daemons' log timestamps), outcome, and why not."""
    start: float
    end: float
    ok: bool
    why: str = ""


class Prober:
    """A client that keeps opening new connections through a published echo
    port, one at a time, in a thread: each sends size random bytes,
    half-closes and must get exactly them back within timeout. Records an
    Attempt per connection. Bounded: it stops after max_seconds or
    max_attempts even if stop() is never called.

      p = Prober(port).start(); ...; p.stop()
      p.failures(after=t) -> [Attempt]; p.summary()
    """

    def __init__(self, port, every=0.02, timeout=5.0, size=512, max_seconds=150.0,
                 max_attempts=20000, host=LOOPBACK):
        import threading
        self.port, self.every, self.timeout, self.size = port, every, timeout, size
        self.max_seconds, self.max_attempts, self.host = max_seconds, max_attempts, host
        self.attempts = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"prober:{port}")

    def start(self):
        self._thread.start()
        return self

    def _one(self):
        payload = os.urandom(self.size)
        t0 = time.time()
        try:
            got = echo_once(self.port, payload, timeout=self.timeout, host=self.host)
        except (OSError, TimeoutError) as e:
            return Attempt(t0, time.time(), False, f"{type(e).__name__}: {e}")
        if got != payload:
            return Attempt(t0, time.time(), False,
                           f"got {len(got)} bytes back, not the {len(payload)} sent"
                           + (" (closed without data)" if not got else ""))
        return Attempt(t0, time.time(), True)

    def _run(self):
        deadline = time.monotonic() + self.max_seconds
        while (not self._stop.is_set() and time.monotonic() < deadline
               and len(self.attempts) < self.max_attempts):
            self.attempts.append(self._one())
            self._stop.wait(self.every)

    def stop(self):
        """Stops and joins the thread (bounded); returns the attempts."""
        self._stop.set()
        self._thread.join(2 * self.timeout + 5)
        if self._thread.is_alive():
            raise PeerError(f"the prober of port {self.port} did not stop")
        return self.attempts

    def running(self):
        return self._thread.is_alive()

    def count(self, after=None, before=None):
        return len(self.select(after, before))

    def select(self, after=None, before=None):
        """Attempts started at or after `after` and before `before`."""
        return [a for a in list(self.attempts)
                if (after is None or a.start >= after) and (before is None or a.start < before)]

    def failures(self, after=None, before=None):
        return [a for a in self.select(after, before) if not a.ok]

    def wait_ok(self, n, after, timeout):
        """Waits until n successful attempts started after `after`."""
        return wait_for(lambda: sum(a.ok for a in self.select(after)) >= n, timeout,
                        f"{n} successful connections through port {self.port}",
                        on_fail=self.summary)

    def summary(self, after=None):
        sel = self.select(after)
        bad = [a for a in sel if not a.ok]
        text = f"\n{len(sel)} connections, {len(bad)} failed"
        for a in bad[:10]:
            text += f"\n  {iso(a.start)} +{a.end - a.start:.3f} s: {a.why}"
        return text


# ---- log timestamps (every line starts with 2026-11-22T13:52:19.877Z)

_STAMP = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z ", re.M)


def log_time(line):
    """The Unix time (float) at the start of a log line, or None."""
    m = _STAMP.match(line)
    if not m:
        return None
    y, mo, d, h, mi, sec, ms = (int(x) for x in m.groups())
    return calendar.timegm((y, mo, d, h, mi, sec, 0, 0, 0)) + ms / 1000.0


def log_events(text, regex):
    """[(unix_time, match)] for each line of text that matches regex."""
    pat = re.compile(regex)
    out = []
    for line in text.splitlines():
        m = pat.search(line)
        if m:
            out.append((log_time(line), m))
    return out


def iso(t):
    """Unix time as the daemons log it (UTC, milliseconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


# ---- squid killed and started again on the same port

def squid_kill(sq):
    """SIGKILLs a peers.Squid (its whole process group) and keeps its
    directory and port, for squid_restart()."""
    if sq.proc is None:
        return
    try:
        os.killpg(sq.proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    wait_exit(sq.proc, 10)
    peers._close_pipes(sq.proc)
    sq.proc = None
    # squid -N leaves its pid file behind; a new one refuses to start if
    # that pid happens to be alive, so it goes.
    try:
        os.unlink(os.path.join(sq.dir, "squid.pid"))
    except OSError:
        pass


def squid_restart(sq, timeout=30.0):
    """Starts a killed peers.Squid again with the same config and port;
    sq.stop() stops it as before."""
    conf = os.path.join(sq.dir, "squid.conf")
    out = open(os.path.join(sq.dir, "stderr.log"), "ab")
    try:
        sq.proc = subprocess.Popen(peers.watched([peers.SQUID, "-N", "-f", conf]),
                                   stdin=subprocess.PIPE, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True,
                                   cwd=sq.dir)
    finally:
        out.close()
    peers.wait_port(sq.port, sq.proc, timeout=timeout, what="squid (restarted)",
                    logfile=sq.cache_log)
    return sq


# ---- the services themselves (python3 cloudpeers.py services)

async def _serve(args):
    stats = {}
    slow_rate = args.slow_rate

    def entry(name):
        return stats.setdefault(name, {"accepted": 0, "results": []})

    async def drain_to_eof(reader, h, rate=None):
        n = 0
        t0 = time.monotonic()
        while True:
            b = await reader.read(65536 if rate is None else 16384)
            if not b:
                return n
            h.update(b)
            n += len(b)
            if rate:
                ahead = n / rate - (time.monotonic() - t0)
                if ahead > 0:
                    await asyncio.sleep(ahead)

    def closing(fn):
        async def handler(reader, writer):
            entry(fn.__name__)["accepted"] += 1
            try:
                await fn(reader, writer)
            except (ConnectionError, OSError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()
        return handler

    @closing
    async def echo(reader, writer):
        while True:
            b = await reader.read(65536)
            if not b:
                break
            writer.write(b)
            await writer.drain()
        writer.write_eof()
        await writer.drain()
        await asyncio.sleep(0.05)

    @closing
    async def sink(reader, writer):
        h = hashlib.sha256()
        n = await drain_to_eof(reader, h)
        writer.write(f"{n} {h.hexdigest()}\n".encode())
        await writer.drain()

    @closing
    async def slow(reader, writer):
        h = hashlib.sha256()
        n = await drain_to_eof(reader, h, rate=slow_rate)
        writer.write(f"{n} {h.hexdigest()}\n".encode())
        await writer.drain()

    @closing
    async def source(reader, writer):
        line = await reader.readline()
        total = int(line.strip() or b"0")
        block = os.urandom(1 << 20)
        h = hashlib.sha256()
        sent = 0
        while sent < total:
            part = block[:min(len(block), total - sent)]
            writer.write(part)
            h.update(part)
            sent += len(part)
            await writer.drain()
        writer.write(h.hexdigest().encode())
        writer.write_eof()
        await writer.drain()
        h2 = hashlib.sha256()
        n = await drain_to_eof(reader, h2)
        entry("source")["results"].append({"count": n, "sha256": h2.hexdigest()})

    @closing
    async def mute(reader, writer):
        writer.write_eof()
        h = hashlib.sha256()
        n = await drain_to_eof(reader, h)
        entry("mute")["results"].append({"count": n, "sha256": h.hexdigest()})

    @closing
    async def http(reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode(errors="replace").split("\r\n")
        path = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "?"
        hosth = next((ln.split(":", 1)[1].strip() for ln in lines[1:]
                      if ln.lower().startswith("host:")), "")
        body = (f"<html><body><h1>{INDEX_MARK}</h1>\n<p>path {path}</p>\n"
                f"<p>host {hosth}</p></body></html>\n").encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                     b"Content-Length: " + str(len(body)).encode() +
                     b"\r\nConnection: close\r\n\r\n" + body)
        await writer.drain()

    async def stats_h(reader, writer):
        entry("stats")["accepted"] += 1
        try:
            name = (await reader.readline()).decode().strip()
            writer.write(json.dumps(entry(name)).encode() + b"\n")
            await writer.drain()
        finally:
            writer.close()

    handlers = {"http": http, "echo": echo, "sink": sink, "source": source,
                "mute": mute, "slow": slow, "stats": stats_h}
    ports = {}
    servers = []
    for name, h in handlers.items():
        srv = await asyncio.start_server(h, args.bind, 0, backlog=4096,
                                         limit=1 << 20)
        servers.append(srv)
        ports[name] = srv.sockets[0].getsockname()[1]
    sys.stdout.write(json.dumps(ports) + "\n")
    sys.stdout.flush()

    # Stop when our stdin (a pipe from the test) closes.
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    loop.add_reader(0, lambda: (os.read(0, 4096) or done.done()
                                or done.set_result(None)))
    loop.add_signal_handler(signal.SIGTERM, lambda: done.done() or done.set_result(None))
    await done


def _main(argv):
    import argparse
    p = argparse.ArgumentParser(prog="cloudpeers.py")
    p.add_argument("what", choices=["services"])
    p.add_argument("--bind", default=LOOPBACK)
    p.add_argument("--slow-rate", type=int, default=80 << 20)
    args = p.parse_args(argv)
    asyncio.run(_serve(args))
    return 0


# --------------------------------------------------------------------------
# uplink-cloud

class Cloud:
    """An uplink-cloud data directory and daemon on loopback.

      Cloud(dir, publish={name: (site, target)}, cert_lifetime="30s")
      .init() .start() .stop() .admin(args) .token(site) .key(name)
      .url .port .http_port .ingress_port .publish_ports {name: port}
      .log (the daemon's stderr), .log_text(), .wait_log(regex)
    """

    def __init__(self, workdir, names=LOOPBACK, publish=None, cert_lifetime=None,
                 listen=LOOPBACK, extra_conf="", log_level="info", prefix=(), options=None):
        self.dir = workdir
        # {section: {key: value}} added to cloud.conf, e.g.
        # {"limits": {"ping_interval": "1s"}, "cloud": {"drain_timeout": "5s"}}
        self.options = {k: dict(v) for k, v in (options or {}).items()}
        self.names = names
        self.publish = dict(publish or {})
        self.cert_lifetime = cert_lifetime
        self.listen = listen
        self.extra_conf = extra_conf
        self.log_level = log_level
        self.prefix = list(prefix)
        self.proc = None
        self.binary = cloud_path()

    # -- one-shot commands
    def run(self, args, timeout=RUN_TIMEOUT, env=None):
        try:
            return run_prog(self.binary, args, env=env, timeout=timeout)
        except peers.PeerError as e:
            raise PeerError(str(e))

    def admin(self, args, timeout=RUN_TIMEOUT):
        """uplink-cloud CMD... --data-dir DIR (args is the command part)."""
        return self.run(list(args) + ["--data-dir", self.data], timeout=timeout)

    def token(self, site, ttl=None):
        args = ["token", "create", "--site", site, "--json"]
        if ttl:
            args += ["--ttl", ttl]
        r = self.admin(args)
        if r.rc != 0 or not r.json:
            raise PeerError(f"token create failed:\n{r}")
        return r.json["token"]

    def key(self, name="tests"):
        r = self.admin(["key", "create", "--name", name, "--json"])
        if r.rc != 0 or not r.json:
            raise PeerError(f"key create failed:\n{r}")
        return r.json["key"]

    def status(self, json_out=True):
        """uplink-cloud status --data-dir DIR [--json]: a Run (.json parsed)."""
        return self.admin(["status"] + (["--json"] if json_out else []))

    def connectors(self):
        r = self.admin(["connector", "list", "--json"])
        if r.rc != 0 or r.json is None:
            raise PeerError(f"connector list failed:\n{r}")
        return r.json

    # -- set up
    def init(self, port=None, http_port=None):
        os.makedirs(self.dir, exist_ok=True)
        self.data = os.path.join(self.dir, "data")
        self.port = port or peers.free_port()
        self.http_port = http_port or peers.free_port()
        # PostgreSQL: [store] url in options, or UPLINK_TEST_STORE=pg
        store = self.options.get("store", {}).get("url") or pg_store_for_env()
        if store:
            self.options.setdefault("store", {})["url"] = store
        r = self.run(["init", "--data-dir", self.data, "--name", self.names,
                      "--port", self.port, "--http-port", self.http_port,
                      "--listen", self.listen] + (["--store", store] if store else []))
        if r.rc != 0:
            raise PeerError(f"uplink-cloud init failed:\n{r}")
        first = self.names.split(",")[0]
        self.url = f"https://{first}:{self.port}"
        self.init_run = r
        return self

    def write_conf(self):
        self.ingress_port = getattr(self, "ingress_port", None) or peers.free_port()
        if not hasattr(self, "publish_ports"):
            self.publish_ports = {n: peers.free_port() for n in self.publish}
        lines = ["[cloud]", f"data_dir = {self.data}",
                 f"listen = {self.listen}:{self.port}",
                 f"http_listen = {self.listen}:{self.http_port}"]
        if self.cert_lifetime:
            lines.append(f"cert_lifetime = {self.cert_lifetime}")
        lines += [f"{k} = {v}" for k, v in self.options.get("cloud", {}).items()]
        lines += ["", "[ingress]", f"listen = {LOOPBACK}:{self.ingress_port}",
                  "", "[log]", f"level = {self.log_level}", ""]
        for section, keys in self.options.items():
            if section != "cloud" and keys:
                lines += [f"[{section}]"] + [f"{k} = {v}" for k, v in keys.items()] + [""]
        for name, (site, target) in self.publish.items():
            lines += [f"[publish {name}]", f"listen = {self.listen}:{self.publish_ports[name]}",
                      f"site = {site}", f"target = {target}", ""]
        self.conf = os.path.join(self.dir, "cloud.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + self.extra_conf)
        return self.conf

    def start(self, timeout=START_TIMEOUT):
        if not hasattr(self, "data"):
            self.init()
        if not hasattr(self, "conf"):
            self.write_conf()
        self.log = os.path.join(self.dir, "cloud.log")
        self._log_start = os.path.getsize(self.log) if os.path.exists(self.log) else 0
        self.proc = spawn(self.prefix + [self.binary, "run", "--config", self.conf],
                          self.log, env=peers.connector_env())
        try:
            self.wait_log(r"running: ", timeout, since=self._log_start)
        except PeerError:
            self.stop(check=False)
            raise
        return self

    @property
    def pid(self):
        return self.proc.pid

    def log_text(self, since=0):
        return read_text(self.log)[since:]

    def log_offset(self):
        return len(read_text(self.log))

    def wait_log(self, regex, timeout=10, since=0):
        """Waits until the daemon's log (from offset since) matches regex;
        returns the match. Fails early if the daemon exits."""
        pat = re.compile(regex)

        def check():
            m = pat.search(self.log_text(since))
            if m:
                return m
            if self.proc is not None and self.proc.poll() is not None:
                raise PeerError(f"uplink-cloud exited ({self.proc.returncode}) while "
                                f"waiting for /{regex}/" + tail(self.log))
            return None
        return wait_for(check, timeout, f"uplink-cloud log /{regex}/",
                        on_fail=lambda: tail(self.log))

    def stop(self, check=True, timeout=STOP_TIMEOUT):
        """SIGTERM; returns the exit status. With check, raises PeerError
        unless it exited 0 within timeout (then it is killed)."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        rc = proc.poll()
        if rc is None:
            try:
                os.kill(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            rc = wait_exit(proc, timeout)
        peers.stop_process(proc, timeout=2)
        if check and rc != 0:
            raise PeerError(f"uplink-cloud did not exit 0 on SIGTERM within {timeout:.0f} s "
                            f"(status {rc})" + tail(self.log, 60))
        return rc


# --------------------------------------------------------------------------
# uplink-connector

class Connector:
    """One connector: its state directory, config and daemon.

      c = Connector(dir, prefix=host_isolation(...))
      c.enroll(token, proxy=URL)          -> Run
      c.configure(allow=[...], proxy=URL, bypass=[...], via_proxy=False)
      c.start(); c.pid; c.wait_tunnels(2); c.stop()
    """

    def __init__(self, workdir, name=None, prefix=()):
        self.dir = workdir
        self.state = os.path.join(workdir, "state")
        self.conf = os.path.join(self.state, "connector.conf")
        self.name = name or os.path.basename(workdir)
        self.prefix = list(prefix)
        self.proc = None
        self.binary = peers.connector_path()
        self.log = os.path.join(workdir, "connector.log")
        os.makedirs(workdir, exist_ok=True)

    def run(self, args, env=None, timeout=RUN_TIMEOUT, stdin_text=None):
        try:
            return run_prog(self.binary, args, env=env, timeout=timeout,
                            prefix=self.prefix, stdin_text=stdin_text)
        except peers.PeerError as e:
            raise PeerError(str(e))

    def enroll(self, token, proxy=None, bypass=None, env=None, extra=(), timeout=RUN_TIMEOUT):
        args = ["enroll", "--token", token, "--state-dir", self.state, "--name", self.name]
        if proxy:
            args += ["--proxy", proxy]
        if bypass is not None:
            args += ["--bypass", bypass]
        return self.run(args + list(extra), env=env, timeout=timeout)

    def cloud_section(self):
        """The [cloud] section enroll wrote, as lines."""
        out, inside = [], False
        for line in read_text(self.conf).splitlines():
            s = line.strip()
            if s.startswith("["):
                inside = s.lower() == "[cloud]"
            if inside:
                out.append(line)
        return out

    def configure(self, allow=(), proxy=None, bypass=(), via_proxy=False, tunnels=None,
                  drain_timeout=None, log_level="info", extra="", run=None):
        """Rewrites the config: enroll's [cloud] (plus tunnels) and the
        given [proxy], [access], [run] (drain_timeout and the keys of run,
        e.g. {"ping_interval": "1s"}) and [log] sections."""
        lines = [ln for ln in self.cloud_section() if not ln.strip().startswith("tunnels")]
        if not lines:
            raise PeerError(f"{self.conf} has no [cloud] section (not enrolled?)")
        if tunnels:
            lines.append(f"tunnels = {tunnels}")
        lines.append("")
        if proxy:
            lines += ["[proxy]", f"server = {proxy}"]
            if bypass:
                lines.append(f"bypass = {', '.join(bypass)}")
            lines.append("")
        lines.append("[access]")
        for a in allow:
            lines.append(f"allow = {a}")
        lines += [f"via_proxy = {'yes' if via_proxy else 'no'}", ""]
        runkeys = dict(run or {})
        if drain_timeout:
            runkeys["drain_timeout"] = drain_timeout
        if runkeys:
            lines += ["[run]"] + [f"{k} = {v}" for k, v in runkeys.items()] + [""]
        lines += ["[log]", f"level = {log_level}", ""]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + extra)
        return self.conf

    def start(self, wait_tunnels=None, timeout=START_TIMEOUT):
        self._log_start = os.path.getsize(self.log) if os.path.exists(self.log) else 0
        self.proc = spawn(self.prefix + [self.binary, "run", "--config", self.conf],
                          self.log, env=peers.connector_env())
        try:
            self.wait_log(r"running: ", timeout, since=self._log_start)
            if wait_tunnels:
                self.wait_tunnels(wait_tunnels, timeout)
        except PeerError:
            self.stop(check=False)
            raise
        return self

    @property
    def pid(self):
        return self.proc.pid

    def log_text(self, since=None):
        return read_text(self.log)[self._log_start if since is None else since:]

    def log_offset(self):
        return len(read_text(self.log))

    def wait_log(self, regex, timeout=10, since=None):
        pat = re.compile(regex)

        def check():
            m = pat.search(self.log_text(since))
            if m:
                return m
            if self.proc is not None and self.proc.poll() is not None:
                raise PeerError(f"uplink-connector exited ({self.proc.returncode}) "
                                f"while waiting for /{regex}/" + tail(self.log))
            return None
        return wait_for(check, timeout, f"uplink-connector log /{regex}/",
                        on_fail=lambda: tail(self.log))

    def wait_tunnels(self, n, timeout=START_TIMEOUT, since=None):
        """Waits until n distinct tunnels logged "up" since start (or since)."""
        def check():
            ups = set(re.findall(r"tunnel (\d+): up", self.log_text(since)))
            if self.proc is not None and self.proc.poll() is not None:
                raise PeerError(f"uplink-connector exited ({self.proc.returncode})"
                                + tail(self.log))
            return len(ups) >= n
        return wait_for(check, timeout, f"{n} tunnel(s) of {self.name} up",
                        on_fail=lambda: tail(self.log))

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def kill(self):
        """SIGKILL, reaped."""
        if self.proc is None:
            return None
        self.proc.kill()
        rc = wait_exit(self.proc, 10)
        peers.stop_process(self.proc, timeout=1)
        self.proc = None
        return rc

    def stop(self, check=False, timeout=STOP_TIMEOUT):
        """SIGTERM (drain) then SIGKILL after timeout; returns the status."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        rc = proc.poll()
        if rc is None:
            try:
                os.kill(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            rc = wait_exit(proc, timeout)
        peers.stop_process(proc, timeout=2)
        if check and rc != 0:
            raise PeerError(f"uplink-connector did not exit 0 on SIGTERM within "
                            f"{timeout:.0f} s (status {rc})" + tail(self.log, 60))
        return rc


# --------------------------------------------------------------------------
# administrators of the console and API (docs/api.md)

def _cloud_add_admin(self, email, password, role="full", timeout=RUN_TIMEOUT):
    """uplink-cloud admin add --email E --role R --data-dir DIR, the password
    on stdin (at least 12 characters). Returns the Run; raises PeerError
    unless it exited 0. The daemon may be running."""
    try:
        r = run_prog(self.binary, ["admin", "add", "--email", email, "--role", role,
                                   "--data-dir", self.data],
                     timeout=timeout, stdin_text=password + "\n")
    except peers.PeerError as e:
        raise PeerError(str(e))
    if r.rc != 0:
        raise PeerError(f"admin add failed:\n{r}")
    return r


Cloud.add_admin = _cloud_add_admin



# --------------------------------------------------------------------------
# PostgreSQL for the store (issue 14; scripts/pg-test-server)

PG_SERVER = os.path.join(os.path.dirname(os.path.dirname(HERE)), "scripts", "pg-test-server")


def pg_create_database(conninfo, prefix="t"):
    """Creates a fresh database on the server conninfo reaches; returns the
    conninfo of the new one."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    r = subprocess.run(["psql", conninfo, "-qAtc", f"CREATE DATABASE {name}"],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise PeerError(f"cannot create database {name}: {r.stderr}")
    return re.sub(r"dbname=\S+", f"dbname={name}", conninfo)


def pg_store_for_env():
    """With UPLINK_TEST_STORE=pg, a fresh database on UPLINK_TEST_PG's server
    (scripts/run-tests starts one) for a Cloud; None otherwise."""
    if os.environ.get("UPLINK_TEST_STORE") != "pg":
        return None
    base = os.environ.get("UPLINK_TEST_PG")
    if not base:
        raise PeerError("UPLINK_TEST_STORE=pg needs UPLINK_TEST_PG (a conninfo): "
                        "start one with scripts/pg-test-server start DIR")
    return pg_create_database(base)


class PgServer:
    """A PostgreSQL server of the test's own (unix socket in workdir, no TCP),
    which a test may freeze (SIGSTOP of every server process) and stop.

      pg = PgServer(dir).start(); pg.conninfo; pg.database(); pg.freeze();
      pg.thaw(); pg.stop()
    """

    def __init__(self, workdir):
        self.dir = workdir
        self.conninfo = None

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        r = subprocess.run([PG_SERVER, "start", self.dir], capture_output=True,
                           text=True, timeout=120)
        if r.returncode != 0:
            raise PeerError(f"PostgreSQL did not start: {r.stdout}{r.stderr}")
        self.conninfo = r.stdout.strip()
        return self

    def database(self, prefix="t"):
        return pg_create_database(self.conninfo, prefix)

    def pids(self):
        """The postmaster and every process it started."""
        real = self.dir
        if os.path.exists(os.path.join(self.dir, "realdir")):
            real = read_text(os.path.join(self.dir, "realdir")).strip()
        with open(os.path.join(real, "data", "postmaster.pid")) as f:
            main = int(f.readline())
        out = subprocess.run(["pgrep", "-P", str(main)], capture_output=True, text=True)
        return [main] + [int(x) for x in out.stdout.split()]

    def freeze(self):
        for pid in self.pids():
            os.kill(pid, signal.SIGSTOP)

    def thaw(self):
        for pid in self.pids():
            os.kill(pid, signal.SIGCONT)

    def stop(self):
        if self.conninfo is not None:
            try:
                self.thaw()
            except (OSError, ValueError):
                pass
        subprocess.run([PG_SERVER, "clean", self.dir], capture_output=True, timeout=60)
        self.conninfo = None



def _sql_literal(v):
    if v is None:
        return "NULL"
    if isinstance(v, (int, float)):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


def _cloud_db(self, sql, args=()):
    """Runs one statement on the cloud's database, SQLite or PostgreSQL
    (committed); returns the rows as tuples (numbers as int). Parameters
    are "?"; on PostgreSQL they are inlined as literals (test data only)."""
    url = self.options.get("store", {}).get("url")
    if not url:
        import sqlite3
        con = sqlite3.connect(os.path.join(self.data, "uplink.db"), timeout=10)
        try:
            rows = con.execute(sql, args).fetchall()
            con.commit()
            return rows
        finally:
            con.close()
    parts = sql.split("?")
    if len(parts) - 1 != len(args):
        raise PeerError(f"{len(args)} arguments for {len(parts) - 1} '?' in {sql}")
    text = parts[0] + "".join(_sql_literal(a) + p for a, p in zip(args, parts[1:]))
    r = subprocess.run(["psql", url, "-qAt", "-F", "\t", "-c", text],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise PeerError(f"psql: {r.stderr}")
    return [tuple(int(x) if re.fullmatch(r"-?\d+", x) else x for x in line.split("\t"))
            for line in r.stdout.splitlines() if line]


Cloud.db = _cloud_db


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))


# --------------------------------------------------------------------------
# A cluster of uplink-cloud instances on one PostgreSQL (issue 14, section 3;
# docs/cluster.md). Appended: forward and edge build on it too.

def schema_version():
    """STORE_SCHEMA_VERSION of lib/store/store.h, as text (never hard-code
    it: several branches add schema steps)."""
    root = os.path.dirname(os.path.dirname(HERE))
    text = read_text(os.path.join(root, "lib", "store", "store.h"))
    return re.search(r"#define STORE_SCHEMA_VERSION\s+(\d+)", text).group(1)


def point_connector(conn, cloud):
    """Makes conn's [cloud] url name cloud's own port (its instance), so its
    tunnels go to that instance. Call after configure()."""
    text = read_text(conn.conf)
    text = re.sub(r"(?m)^(url\s*=\s*https://[^\s/]*?):\d+", rf"\g<1>:{cloud.port}", text)
    with open(conn.conf, "w") as f:
        f.write(text)


class ClusterFixture:
    """PostgreSQL of the test's own (PgServer) and n uplink-cloud instances
    on loopback sharing it, each with its own ports and a copy of the first
    one's data directory (the same CA and server key); `init --store` once.

      cl = ClusterFixture(workdir, n=3, lease="2s", options={...},
                          cluster={"tunnel_name": ...}, publish={...})
      cl.start()            PostgreSQL, init, then every instance
      cl.clouds[i]          the Cloud of instance i (cl.ids[i]: "i1", "i2" ...)
      cl.key                an API key with scope full (valid everywhere)
      cl.api(i)             an apiclient.Client for instance i
      cl.token(site)        an enrollment token (the url names instance 0)
      cl.point(conn, i)     conn's tunnels go to instance i
      cl.stop()             every instance (SIGTERM, then kill), PostgreSQL

    Each instance's cloud.conf has [store] url and [cluster] instance,
    peer_listen (a free port), tunnel_address (127.0.0.1:its port) and
    lease; options and cluster add keys (cluster: to every instance, or a
    callable taking the index and returning a dict).
    """

    def __init__(self, workdir, n=3, lease="10s", options=None, cluster=None,
                 publish=None, log_level="info"):
        self.dir = workdir
        self.n = n
        self.lease = lease
        self.options = {k: dict(v) for k, v in (options or {}).items()}
        self.cluster = cluster
        self.publish = dict(publish or {})
        self.log_level = log_level
        self.pg = None
        self.db = None
        self.clouds = []
        self.ids = [f"i{i + 1}" for i in range(n)]
        self.peer_ports = []
        self.key = None

    def _cluster_keys(self, i):
        extra = self.cluster(i) if callable(self.cluster) else dict(self.cluster or {})
        keys = {"instance": self.ids[i],
                "peer_listen": f"{LOOPBACK}:{self.peer_ports[i]}",
                "lease": self.lease}
        keys.update(extra)
        return keys

    def _make(self, i):
        opts = {k: dict(v) for k, v in self.options.items()}
        opts["store"] = dict(opts.get("store", {}), url=self.db)
        d = os.path.join(self.dir, self.ids[i])
        cloud = Cloud(d, options=opts, publish=self.publish, log_level=self.log_level)
        if i == 0:
            cloud.init()
        else:
            first = self.clouds[0]
            os.makedirs(d, exist_ok=True)
            cloud.data = os.path.join(d, "data")
            shutil.copytree(first.data, cloud.data)
            p = os.path.join(cloud.data, "status.json")
            if os.path.exists(p):
                os.unlink(p)
            cloud.port = peers.free_port()
            cloud.http_port = peers.free_port()
            cloud.url = f"https://{LOOPBACK}:{cloud.port}"
        self.peer_ports.append(peers.free_port())
        keys = self._cluster_keys(i)
        keys.setdefault("tunnel_address", f"{LOOPBACK}:{cloud.port}")
        cloud.options["cluster"] = keys
        return cloud

    def start(self, timeout=START_TIMEOUT):
        self.pg = PgServer(os.path.join(self.dir, "pg")).start()
        self.db = self.pg.database()
        try:
            for i in range(self.n):
                self.clouds.append(self._make(i))
            self.key = self.clouds[0].key("cluster-tests")
            for cloud in self.clouds:
                cloud.start(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def api(self, i, key=None, timeout=10):
        import apiclient
        cloud = self.clouds[i]
        return apiclient.Client(cloud.port, os.path.join(cloud.data, "ca.pem"),
                                key=key or self.key, timeout=timeout * (3.0 if SAN else 1.0))

    def token(self, site):
        return self.clouds[0].token(site)

    def point(self, conn, i):
        point_connector(conn, self.clouds[i])

    def instances(self, i):
        """GET /api/v1/instances on instance i: {id: instance}."""
        r = self.api(i).get("/api/v1/instances")
        if r.status != 200:
            raise PeerError(f"GET /api/v1/instances on {self.ids[i]}: {r}")
        return {x["id"]: x for x in r.body["instances"]}

    def stop(self):
        """Stops every instance and PostgreSQL; returns the sanitizer
        reports found in the instances' logs (assert it is empty)."""
        for cloud in self.clouds:
            try:
                cloud.stop(check=False)
            except Exception:       # noqa: BLE001 - stop every one
                pass
        if self.pg is not None:
            self.pg.stop()
            self.pg = None
        return sanitizer_reports([c.log for c in self.clouds if hasattr(c, "log")])


# --------------------------------------------------------------------------
# The cluster's edge (test_cluster_edge.py, scripts/demo --cluster)

# ---- rendezvous hashing, as lib/core/rendezvous.c computes it

M64 = (1 << 64) - 1


def _fnv(h, s):
    for b in s.encode():
        h ^= b
        h = (h * 0x100000001b3) & M64
    return h


def rendezvous_weight(key, node):
    h = _fnv(0xcbf29ce484222325, key)
    h = (h * 0x100000001b3) & M64           # the 0 byte between them
    h = _fnv(h, node)
    h ^= h >> 30
    h = (h * 0xbf58476d1ce4e5b9) & M64
    h ^= h >> 27
    h = (h * 0x94d049bb133111eb) & M64
    h ^= h >> 31
    return h


def rendezvous_rank(key, nodes):
    return sorted(nodes, key=lambda n: (-rendezvous_weight(key, n), nodes.index(n)))


def cert_cn(path):
    from cryptography import x509
    from cryptography.x509.oid import NameOID
    with open(path, "rb") as f:
        c = x509.load_pem_x509_certificate(f.read())
    return c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


# ---- HAProxy in front of a ClusterFixture (test_cluster_edge.py, scripts/demo --cluster)

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def haproxy_config(fx, tls_port, publish, balancer):
    """packaging/haproxy/uplink.cfg for a ClusterFixture, on loopback
    ports: SNI routing of iN.cloud.test to instance iN, the bare address
    balanced, the published services {name: port} (and "ingress"), PROXY
    v2 from balancer (an address of 127/8), health checks on GET /ready."""
    ids = fx.ids
    lines = [
        "global", "\tmaxconn 4000", "",
        "defaults", "\tmode tcp", "\ttimeout connect 2s", "\ttimeout client 1h",
        "\ttimeout server 1h", "\ttimeout client-fin 10s", "\ttimeout server-fin 10s",
        "\tretries 3", "\toption redispatch 1", "\toption httpchk GET /ready",
        f"\tdefault-server inter 300ms fall 1 rise 1 check check-send-proxy "
        f"send-proxy-v2 source {balancer}", "",
        "frontend uplink_tls", f"\tbind {LOOPBACK}:{tls_port}",
        "\ttcp-request inspect-delay 5s",
        "\ttcp-request content accept if { req.ssl_hello_type 1 }",
    ]
    for i, c in enumerate(fx.clouds):
        lines.append(f"\tuse_backend uplink_{ids[i]} if {{ req.ssl_sni -i {ids[i]}.cloud.test }}")
    lines += ["\tdefault_backend uplink_any", "", "backend uplink_any", "\tbalance roundrobin"]
    for i, c in enumerate(fx.clouds):
        lines.append(f"\tserver {ids[i]} {LOOPBACK}:{c.port} port {c.http_port}")
    for i, c in enumerate(fx.clouds):
        lines += ["", f"backend uplink_{ids[i]}",
                  f"\tserver {ids[i]} {LOOPBACK}:{c.port} port {c.http_port}"]
    for name, port in publish.items():
        lines += ["", f"frontend uplink_publish_{name}", f"\tbind {LOOPBACK}:{port}",
                  f"\tdefault_backend uplink_publish_{name}", "",
                  f"backend uplink_publish_{name}", "\tbalance roundrobin"]
        for i, c in enumerate(fx.clouds):
            there = c.ingress_port if name == "ingress" else c.publish_ports[name]
            lines.append(f"\tserver {ids[i]} {LOOPBACK}:{there} port {c.http_port}")
    return "\n".join(lines) + "\n"


class Haproxy:
    def __init__(self, workdir, text, ports):
        self.dir = workdir
        self.text = text
        self.ports = ports
        self.proc = None

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        self.cfg = os.path.join(self.dir, "haproxy.cfg")
        with open(self.cfg, "w") as f:
            f.write(self.text)
        self.log = os.path.join(self.dir, "haproxy.log")
        self.proc = spawn([HAPROXY, "-f", self.cfg, "-db"], self.log)

        def up():
            if self.proc.poll() is not None:
                raise PeerError("haproxy exited" + tail(self.log))
            for p in self.ports:
                try:
                    socket.create_connection((LOOPBACK, p), timeout=1).close()
                except OSError:
                    return False
            return True
        wait_for(up, 10, "haproxy listening")
        return self

    def stop(self):
        peers.stop_process(self.proc, timeout=5)
        self.proc = None


# ---- a whole edge: HAProxy in front of three instances, two connectors
# (test_cluster_edge.py, bench/cluster)

EDGE_IDS = ["i1", "i2", "i3"]
EDGE_BALANCER = "127.0.0.2"     # HAProxy's source address: proxy_from


def tunnels_now(conn, since=0):
    """{tunnel number: instance} of conn's tunnels up now, from its log."""
    state = {}
    for line in conn.log_text(since).splitlines():
        m = re.search(r"tunnel (\d+): up to instance (\S+)", line)
        if m:
            state[m.group(1)] = m.group(2)
            continue
        m = re.search(r"tunnel (\d+): (closed|moving away)", line)
        if m:
            state.pop(m.group(1), None)
    return state


def http_ready(cloud):
    """Whether cloud's GET /ready answers 200 (what HAProxy checks)."""
    try:
        with socket.create_connection((LOOPBACK, cloud.http_port), timeout=2) as s:
            s.sendall(b"GET /ready HTTP/1.0\r\n\r\n")
            return re.match(rb"HTTP/1\.[01] 200 ", recv_all(s, 3)) is not None
    except OSError:
        return False


def echo_via(port, source=None, payload=b"hello through the edge\n", timeout=10):
    """payload sent to port (from source, an address of 127/8), half-closed:
    what came back."""
    s = socket.socket()
    s.settimeout(timeout)
    if source:
        s.bind((source, 0))
    s.connect((LOOPBACK, port))
    with s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        return recv_all(s, timeout)


class ClusterEdge:
    """PostgreSQL, three instances i1..i3 (lease 2 s), a real HAProxy in
    front of them as packaging/haproxy/uplink.cfg has it, an echo service
    published as "echo" for site s1 and two connectors of s1 ("north",
    "south") that reach the instances through HAProxy: [cloud] url is
    HAProxy's TLS port, each instance's tunnel_address is that port too and
    its tunnel_name (i1.cloud.test ...) routes by SNI; HAProxy connects from
    EDGE_BALANCER, the instances' proxy_from.

      e = ClusterEdge(workdir).start(); ...; reports = e.stop()
      e.fx (the ClusterFixture), e.hap, e.conns, e.tls_port, e.pub_port
    """

    def __init__(self, workdir, slow=1.0, log_level="debug"):
        self.dir = workdir
        self.slow = slow
        self.log_level = log_level
        self.svc = self.fx = self.hap = None
        self.conns = []

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        self.svc = Services(os.path.join(self.dir, "services")).start()
        self.tls_port, self.pub_port = peers.free_port(), peers.free_port()
        self.fx = ClusterFixture(
            os.path.join(self.dir, "cluster"), n=3, lease="2s", log_level=self.log_level,
            publish={"echo": ("s1", f"{LOOPBACK}:{self.svc.ports['echo']}")},
            options={"cloud": {"drain_timeout": "20s"}},
            cluster=lambda i: {"tunnel_name": f"{EDGE_IDS[i]}.cloud.test",
                               "tunnel_address": f"{LOOPBACK}:{self.tls_port}",
                               "proxy_from": EDGE_BALANCER})
        self.fx.start()
        for c in self.fx.clouds:
            wait_for(lambda c=c: http_ready(c), 20 * self.slow, f"{c.dir} ready")
        self.hap = Haproxy(os.path.join(self.dir, "haproxy"),
                           haproxy_config(self.fx, self.tls_port,
                                          {"echo": self.pub_port}, EDGE_BALANCER),
                           [self.tls_port, self.pub_port]).start()
        for name in ("north", "south"):
            self.conns.append(self.connector(name))
        for c in self.conns:
            self.wait_two(c, 30 * self.slow)
        for c in self.fx.clouds:
            self.wait_serving(c, 20 * self.slow)
        return self

    def wait_serving(self, cloud, timeout):
        """Until cloud's own published port carries a stream to the site
        (its tunnels, or another instance's: the fleet has been read)."""
        def ok():
            try:
                return echo_via(cloud.publish_ports["echo"], timeout=5 * self.slow) == \
                    b"hello through the edge\n"
            except OSError:
                return False
        wait_for(ok, timeout, f"a stream through {cloud.dir}", interval=0.3)

    def connector(self, name, site="s1", allow=None):
        """A connector of site, enrolled, reaching the cloud through HAProxy,
        started (two tunnels, pings every 2 s); c.key is its id."""
        c = Connector(os.path.join(self.dir, name), name=name)
        r = c.enroll(self.fx.token(site))
        if r.rc != 0:
            raise PeerError(f"enrolling {name} failed: {r}")
        c.configure(allow=allow or [f"{LOOPBACK}:{self.svc.ports['echo']}"], tunnels=2,
                    run={"ping_interval": "2s"})
        text = read_text(c.conf)
        text = re.sub(r"(?m)^(url\s*=\s*https://[^\s/]*?):\d+", rf"\g<1>:{self.tls_port}",
                      text)
        with open(c.conf, "w") as f:
            f.write(text)
        c.key = cert_cn(os.path.join(c.state, "connector.pem"))
        c.start(timeout=30 * self.slow)
        return c

    def wait_two(self, conn, timeout, avoid=()):
        """Until conn has 2 tunnels up on 2 different instances (none in
        avoid); returns {tunnel: instance}."""
        def two():
            st = tunnels_now(conn)
            inst = set(st.values())
            return st if len(st) >= 2 and len(inst) >= 2 and not inst & set(avoid) else None
        return wait_for(two, timeout, f"{conn.name} on two instances",
                        interval=0.1, on_fail=lambda: tail(conn.log))

    def wait_rank(self, conn, timeout):
        """Until conn's two tunnels are on the first two instances of its
        ranking (which tunnel is where may have changed: a tunnel on a
        chosen instance stays there)."""
        rank = rendezvous_rank(conn.key, EDGE_IDS)
        wait_for(lambda: sorted(tunnels_now(conn).values()) == sorted(rank[:2]), timeout,
                 f"{conn.name} back on {rank[0]} and {rank[1]}", interval=0.1,
                 on_fail=lambda: tail(conn.log))

    def stop(self):
        """Stops everything it started; returns the sanitizer reports."""
        for c in self.conns:
            c.stop(check=False)
        if self.hap is not None:
            self.hap.stop()
        reports = (self.fx.stop() if self.fx is not None else None) or []
        reports += sanitizer_reports([c.log for c in self.conns])
        if self.svc is not None:
            self.svc.stop()
        return reports
