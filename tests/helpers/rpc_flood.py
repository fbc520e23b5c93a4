#!/usr/bin/python3
"""Connections that are not peers, for the rpc worker's limits test.

    rpc_flood.py idle HOST PORT N [--tls] [--hold S]
        N connections that connect (and with --tls finish the TLS
        handshake, ALPN h2) and then say nothing. Prints "ready N open_ms=T" (T: how long opening them took) once
        all are open, then waits up to S seconds for the server to close
        them and prints
            idle opened=N closed=K min_ms=.. median_ms=.. max_ms=..
        (ms from when each connection went idle to its close)
    rpc_flood.py h2idle HOST PORT N [--tls] [--hold S]
        the same, but each connection also completes the HTTP/2 preface
        and SETTINGS exchange: an idle gRPC client. Adds goaway=CODE,...
        (the server's GOAWAYs: CODE:DEBUG-DATA, 0 is NO_ERROR)
    rpc_flood.py churn HOST PORT SECONDS [--tls]
        connect and close, in a loop (with --tls every other connection
        is closed in the middle of its handshake); prints churn n=N
    rpc_flood.py settings HOST PORT [--tls]
        the server's HTTP/2 SETTINGS: settings NAME=VALUE ...

TLS here never checks the server's certificate: these clients are the
ones the server must cope with, not ones that trust it.
"""
import argparse
import selectors
import socket
import ssl
import statistics
import struct
import sys
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS_NAMES = {1: "HEADER_TABLE_SIZE", 2: "ENABLE_PUSH",
                  3: "MAX_CONCURRENT_STREAMS", 4: "INITIAL_WINDOW_SIZE",
                  5: "MAX_FRAME_SIZE", 6: "MAX_HEADER_LIST_SIZE"}


def tls_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    return ctx


def connect(a, ctx, handshake=True):
    """The socket, and when it went idle (after the TLS handshake)."""
    s = socket.create_connection((a.host, a.port), timeout=30)
    if ctx is not None:
        s = ctx.wrap_socket(s, do_handshake_on_connect=handshake)
    return s, time.monotonic()


def frame(ftype, flags, payload=b"", stream=0):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream) + payload


class Conn:
    def __init__(self, sock, t0):
        self.sock = sock
        self.t0 = t0
        self.closed_ms = None
        self.buf = b""
        self.goaway = []


def frames(conn):
    """Complete HTTP/2 frames in conn.buf: (type, flags, payload)."""
    while len(conn.buf) >= 9:
        n = int.from_bytes(conn.buf[0:3], "big")
        if len(conn.buf) < 9 + n:
            return
        ftype, flags = conn.buf[3], conn.buf[4]
        payload = conn.buf[9:9 + n]
        conn.buf = conn.buf[9 + n:]
        yield ftype, flags, payload


def read_some(conn, h2):
    """False once the server closed the connection."""
    try:
        data = conn.sock.recv(65536)
    except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
        return True
    except (OSError, ssl.SSLError):
        return False
    if not data:
        return False
    if h2:
        conn.buf += data
        for ftype, flags, payload in frames(conn):
            if ftype == 7 and len(payload) >= 8:		# GOAWAY
                conn.goaway.append("%d:%s" % (
                    int.from_bytes(payload[4:8], "big"),
                    payload[8:].decode("ascii", "replace")))
            elif ftype == 4 and not flags & 1:			# SETTINGS
                try:
                    conn.sock.sendall(frame(4, 1))		# ACK
                except OSError:
                    return False
    return True


def watch(conns, hold, h2):
    sel = selectors.DefaultSelector()
    for c in conns:
        c.sock.setblocking(False)
        sel.register(c.sock, selectors.EVENT_READ, c)
    end = time.monotonic() + hold
    left = len(conns)
    while left and time.monotonic() < end:
        for key, _ in sel.select(timeout=0.2):
            c = key.data
            # an SSL socket may hold decrypted bytes the selector cannot see
            while True:
                alive = read_some(c, h2)
                if not alive or not isinstance(c.sock, ssl.SSLSocket) or \
                        not c.sock.pending():
                    break
            if not alive:
                c.closed_ms = (time.monotonic() - c.t0) * 1000
                sel.unregister(c.sock)
                c.sock.close()
                left -= 1
    for c in conns:
        if c.closed_ms is None:
            c.sock.close()


def cmd_idle(a, h2):
    ctx = tls_context() if a.tls else None
    conns = []
    start = time.monotonic()
    for _ in range(a.n):
        s, t0 = connect(a, ctx)
        if h2:
            s.sendall(PREFACE + frame(4, 0))
        conns.append(Conn(s, t0))
    print("ready %d open_ms=%d" % (len(conns), (time.monotonic() - start) * 1000),
          flush=True)
    watch(conns, a.hold, h2)
    closed = sorted(c.closed_ms for c in conns if c.closed_ms is not None)
    line = "%s opened=%d closed=%d" % (a.cmd, len(conns), len(closed))
    if closed:
        line += " min_ms=%d median_ms=%d max_ms=%d" % (
            closed[0], statistics.median(closed), closed[-1])
    if h2:
        # what the server said: error code:debug data, each distinct once
        said = sorted({g for c in conns for g in c.goaway})
        line += " goaway=%s" % (",".join(said).replace(" ", "_") or "none")
    print(line, flush=True)


def cmd_churn(a):
    ctx = tls_context() if a.tls else None
    end = time.monotonic() + a.seconds
    n = 0
    while time.monotonic() < end:
        try:
            # every other TLS connection goes away mid-handshake
            s, _ = connect(a, ctx, handshake=(n % 2 == 0))
            if ctx is not None and n % 2 == 1:
                s.setblocking(False)
                try:
                    s.do_handshake()
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    pass
            s.close()
        except (OSError, ssl.SSLError) as e:
            print("churn error %s" % e, file=sys.stderr)
        n += 1
    print("churn n=%d" % n, flush=True)


def cmd_settings(a):
    ctx = tls_context() if a.tls else None
    s, _ = connect(a, ctx)
    s.sendall(PREFACE + frame(4, 0))
    c = Conn(s, 0)
    end = time.monotonic() + 5
    while time.monotonic() < end:
        c.buf += s.recv(65536)
        for ftype, flags, payload in frames(c):
            if ftype == 4 and not flags & 1:
                out = []
                for i in range(0, len(payload) - 5, 6):
                    k, v = struct.unpack(">HI", payload[i:i + 6])
                    out.append("%s=%d" % (SETTINGS_NAMES.get(k, str(k)), v))
                print("settings " + " ".join(out), flush=True)
                s.close()
                return
    print("settings none", flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=["idle", "h2idle", "churn", "settings"])
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("n", type=float, nargs="?", default=1)
    p.add_argument("--tls", action="store_true")
    p.add_argument("--hold", type=float, default=10)
    a = p.parse_args()
    a.seconds = a.n
    a.n = int(a.n)
    if a.cmd in ("idle", "h2idle"):
        cmd_idle(a, a.cmd == "h2idle")
    elif a.cmd == "churn":
        cmd_churn(a)
    else:
        cmd_settings(a)


if __name__ == "__main__":
    main()
