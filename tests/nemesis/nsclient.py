#!/usr/bin/env python3
"""The nemesis's clients, run inside HAProxy's namespace (ip netns exec).

  nsclient.py writer HAP_IP PORT PASSWORD LOG STOPFILE [RATE]
      INSERTs unique ids through HAProxy's write port at RATE per second
      (default 50), one connection reused until it fails. Each line of LOG:
        ack ID T_MS SERVER_IP     the commit was acknowledged
        err ID T_MS MESSAGE       not acknowledged (unknown outcome)
  nsclient.py pgcheck LOG STOPFILE STATS_SOCKET IP...
      Every 100 ms, HAProxy's `option pgsql-check user harw` against each
      IP:5432, all at once: a startup packet for harw; an authentication
      request ('R') passes, anything else fails. Each line of LOG:
        T_MS p IP[,IP...]        (the addresses that passed; '-' for none)
      and, from a second thread, every 100 ms HAProxy's own view (show stat
      on its stats socket, no process forked, unlike the e2e monitor):
        T_MS h SERVER[,SERVER...] (servers UP in pg_rw; '-' for none)

Times are CLOCK_REALTIME milliseconds, as the driver's own.
"""
import os
import socket
import struct
import sys
import time


def now_ms():
    return int(time.time() * 1000)


def writer(hap, port, password, log, stop, rate=50.0):
    import psycopg2

    period = 1.0 / rate
    out = open(log, "a", buffering=1)
    conn = None
    i = 0
    nxt = time.monotonic()
    while not os.path.exists(stop):
        nxt += period
        if conn is None:
            try:
                conn = psycopg2.connect(
                    host=hap, port=port, user="app", password=password,
                    dbname="app", connect_timeout=1,
                    options="-c statement_timeout=3000",
                    keepalives=1, keepalives_idle=1, keepalives_interval=1,
                    keepalives_count=2)
                conn.autocommit = True
            except Exception:
                conn = None
        if conn is not None:
            i += 1
            try:
                cur = conn.cursor()
                cur.execute("INSERT INTO nem (id) VALUES (%s) "
                            "RETURNING host(inet_server_addr())", (i,))
                ip = cur.fetchone()[0]
                out.write("ack %d %d %s\n" % (i, now_ms(), ip))
            except Exception as e:
                msg = str(e).strip().replace("\n", " ")[:120]
                out.write("err %d %d %s\n" % (i, now_ms(), msg))
                try:
                    conn.close()
                except Exception:
                    pass
                conn = None
        delay = nxt - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            nxt = time.monotonic()


def startup_packet(user):
    body = struct.pack("!I", 196608) + b"user\0" + user.encode() + b"\0\0"
    return struct.pack("!I", len(body) + 4) + body


def check_one(ip, pkt):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(0.3)
    try:
        s.connect((ip, 5432))
        s.sendall(pkt)
        return s.recv(1) == b"R"
    except OSError:
        return False
    finally:
        s.close()


def hap_up(sock_path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(sock_path)
        s.sendall(b"show stat\n")
        buf = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            buf += b
    finally:
        s.close()
    up = []
    for line in buf.decode(errors="replace").split("\n"):
        f = line.split(",")
        if len(f) > 17 and f[0] == "pg_rw" and f[1] not in ("FRONTEND", "BACKEND") \
                and f[17].startswith("UP"):
            up.append(f[1])
    return up


def every_100ms(stop, fn):
    nxt = time.monotonic()
    while not os.path.exists(stop):
        nxt += 0.1
        fn()
        delay = nxt - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            nxt = time.monotonic()


def pgcheck(log, stop, sock_path, ips):
    import threading

    out = open(log, "a", buffering=1)
    lock = threading.Lock()

    def hap_sample():
        t = now_ms()
        try:
            up = ",".join(sorted(hap_up(sock_path))) or "-"
        except OSError:
            return
        with lock:
            out.write("%d h %s\n" % (t, up))
    th = threading.Thread(target=every_100ms, args=(stop, hap_sample), daemon=True)
    th.start()
    pgcheck_loop(out, lock, stop, ips)


def pgcheck_loop(out, lock, stop, ips):
    from concurrent.futures import ThreadPoolExecutor

    pkt = startup_packet("harw")
    pool = ThreadPoolExecutor(len(ips))	# one sample checks all at once

    def sample():
        t = now_ms()
        res = list(pool.map(lambda ip: check_one(ip, pkt), ips))
        up = [ip for ip, ok in zip(ips, res) if ok]
        with lock:
            out.write("%d p %s\n" % (t, ",".join(up) or "-"))
    every_100ms(stop, sample)


def main(argv):
    if len(argv) >= 7 and argv[1] == "writer":
        rate = float(argv[7]) if len(argv) > 7 else 50.0
        writer(argv[2], int(argv[3]), argv[4], argv[5], argv[6], rate)
    elif len(argv) >= 6 and argv[1] == "pgcheck":
        pgcheck(argv[2], argv[3], argv[4], argv[5:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
