#!/usr/bin/python3
"""Test peers for uplink's integration suite, run as one subprocess.

    tlsserver.py CONFIG.json

CONFIG is a JSON object:

    {"tls":    {"NAME": {"cert": "a.pem", "key": "a.key"}, ...},
     "http_fd": 5,            # optional: an already-listening socket to serve
                              # plain HTTP on (inherited via pass_fds); when
                              # absent a new one is bound on 127.0.0.1:0
     "crl": "ca.crl",         # DER file served at /ca.crl
     "silent": ["NAME", ...]} # listeners that accept TCP and never answer

Every listener is bound on 127.0.0.1 only, port 0 (the kernel's choice). When
all are listening the script prints one JSON line to stdout:

    {"tls": {"NAME": port, ...}, "http": port, "silent": {"NAME": port}}

A TLS listener completes the handshake with its certificate, reads one request
head and answers "HTTP/1.1 200 OK" with Content-Length, then closes. Clients
that reject the certificate just make the handshake fail; that is logged to
stderr and ignored. The HTTP listener answers GET /ca.crl with the CRL
(application/pkix-crl), GET / with 200 "ok", anything else with 404; it accepts
origin-form and absolute-form request targets. Silent listeners hold each
connection open (reading and discarding) until the peer closes or 120 s pass.

SIGTERM or SIGINT (or stdin closing, when --watch-stdin is given) ends the
process. Every socket operation has a timeout so no thread blocks forever.
"""

import json
import os
import signal
import socket
import ssl
import sys
import threading
import urllib.parse

CONN_TIMEOUT = 30.0     # per-connection socket timeout (seconds)
SILENT_HOLD = 120.0
MAX_HEAD = 64 * 1024

stop = threading.Event()


def log(msg):
    try:
        sys.stderr.write(f"tlsserver: {msg}\n")
        sys.stderr.flush()
    except Exception:
        pass


def listen_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    return s


def read_head(conn):
    data = b""
    while b"\r\n\r\n" not in data and b"\n\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_HEAD:
            break
    return data


def respond(conn, status, body, ctype="text/plain", head_only=False):
    reason = {200: "OK", 404: "Not Found", 400: "Bad Request"}.get(status, "OK")
    hdr = (f"HTTP/1.1 {status} {reason}\r\n"
           f"Content-Type: {ctype}\r\n"
           f"Content-Length: {len(body)}\r\n"
           "Connection: close\r\n\r\n").encode()
    conn.sendall(hdr if head_only else hdr + body)


def serve_tls(ctx, name, conn, addr):
    try:
        conn.settimeout(CONN_TIMEOUT)
        tls = ctx.wrap_socket(conn, server_side=True)
    except (ssl.SSLError, OSError) as e:
        log(f"{name}: handshake with {addr[1]} failed: {e}")
        conn.close()
        return
    try:
        head = read_head(tls)
        if head:
            body = f"ok {name}\n".encode()
            respond(tls, 200, body, head_only=head.startswith(b"HEAD "))
        try:
            tls.unwrap()
        except (ssl.SSLError, OSError, ValueError):
            pass
    except (ssl.SSLError, OSError) as e:
        log(f"{name}: connection from {addr[1]}: {e}")
    finally:
        tls.close()


def serve_http(crl, conn, addr):
    try:
        conn.settimeout(CONN_TIMEOUT)
        head = read_head(conn)
        if not head:
            return
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split()
        if len(parts) < 2:
            respond(conn, 400, b"bad request\n")
            return
        method, target = parts[0], parts[1]
        path = urllib.parse.urlsplit(target).path if "://" in target else target
        path = path.split("?", 1)[0]
        head_only = method == "HEAD"
        if path == "/ca.crl":
            respond(conn, 200, crl, "application/pkix-crl", head_only)
        elif path == "/":
            respond(conn, 200, b"ok", "text/plain", head_only)
        else:
            respond(conn, 404, b"not found\n", "text/plain", head_only)
    except OSError as e:
        log(f"http: connection from {addr[1]}: {e}")
    finally:
        conn.close()


def serve_silent(name, conn, addr):
    conn.settimeout(1.0)
    waited = 0.0
    try:
        while not stop.is_set() and waited < SILENT_HOLD:
            try:
                if not conn.recv(4096):
                    break
            except socket.timeout:
                waited += 1.0
    except OSError:
        pass
    finally:
        conn.close()


def accept_loop(lsock, handler, *args):
    lsock.settimeout(0.5)
    while not stop.is_set():
        try:
            conn, addr = lsock.accept()
        except socket.timeout:
            continue
        except OSError:
            if stop.is_set():
                break
            continue
        threading.Thread(target=handler, args=(*args, conn, addr), daemon=True).start()


def tls_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        sys.stderr.write(__doc__)
        return 2
    with open(args[0]) as f:
        cfg = json.load(f)

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    with open(cfg["crl"], "rb") as f:
        crl = f.read()

    threads = []
    ports = {"tls": {}, "http": None, "silent": {}}
    socks = []
    for name, spec in cfg.get("tls", {}).items():
        ctx = tls_context(spec["cert"], spec["key"])
        s = listen_socket()
        socks.append(s)
        ports["tls"][name] = s.getsockname()[1]
        threads.append(threading.Thread(target=accept_loop,
                                        args=(s, serve_tls, ctx, name), daemon=True))
    if cfg.get("http_fd") is not None:
        hs = socket.socket(fileno=int(cfg["http_fd"]))
        hs.listen(64)
    else:
        hs = listen_socket()
    if hs.getsockname()[0] != "127.0.0.1":
        log("refusing: HTTP socket is not bound to 127.0.0.1")
        return 2
    socks.append(hs)
    ports["http"] = hs.getsockname()[1]
    threads.append(threading.Thread(target=accept_loop, args=(hs, serve_http, crl),
                                    daemon=True))
    for name in cfg.get("silent", []):
        s = listen_socket()
        socks.append(s)
        ports["silent"][name] = s.getsockname()[1]
        threads.append(threading.Thread(target=accept_loop, args=(s, serve_silent, name),
                                        daemon=True))
    for t in threads:
        t.start()

    if "--watch-stdin" in sys.argv:
        def watch():
            try:
                sys.stdin.read()
            except Exception:
                pass
            stop.set()
        threading.Thread(target=watch, daemon=True).start()

    sys.stdout.write(json.dumps(ports) + "\n")
    sys.stdout.flush()

    while not stop.wait(0.5):
        pass
    for s in socks:
        try:
            s.close()
        except OSError:
            pass
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
