#!/usr/bin/env python3
"""The nemesis's clients, run inside HAProxy's namespace (ip netns exec).

  nsclient.py writer HAP_IP PORT PASSWORD LOG STOPFILE [RATE]
      INSERTs unique ids through HAProxy's write port at RATE per second
      (default 50), one connection reused until it fails. Each line of LOG:
        ack ID T_MS SERVER_IP     the commit was acknowledged
        err ID T_MS MESSAGE       not acknowledged (unknown outcome)
  nsclient.py pgcheck LOG STOPFILE IP...
      Every 100 ms, HAProxy's `option pgsql-check user harw` against each
      IP:5432: a startup packet for harw; an authentication request ('R')
      passes, anything else fails. Each line of LOG:
        T_MS IP[,IP...]          (the addresses that passed; '-' for none)

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


def pgcheck(log, stop, ips):
    from concurrent.futures import ThreadPoolExecutor

    pkt = startup_packet("harw")
    pool = ThreadPoolExecutor(len(ips))	# one sample checks all at once
    out = open(log, "a", buffering=1)
    nxt = time.monotonic()
    while not os.path.exists(stop):
        nxt += 0.1
        t = now_ms()
        res = list(pool.map(lambda ip: check_one(ip, pkt), ips))
        up = [ip for ip, ok in zip(ips, res) if ok]
        out.write("%d %s\n" % (t, ",".join(up) or "-"))
        delay = nxt - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            nxt = time.monotonic()


def main(argv):
    if len(argv) >= 7 and argv[1] == "writer":
        rate = float(argv[7]) if len(argv) > 7 else 50.0
        writer(argv[2], int(argv[3]), argv[4], argv[5], argv[6], rate)
    elif len(argv) >= 5 and argv[1] == "pgcheck":
        pgcheck(argv[2], argv[3], argv[4:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
