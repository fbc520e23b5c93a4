#!/usr/bin/python3
"""A Prometheus-like client, and hostile ones, of harepd's metrics
listener (tests/integration/63-sup-metrics-http.t).

    http_scrape.py get URL [METHOD]
        one request with urllib; prints "STATUS|CONTENT-TYPE|BYTES|MS"
        (the status also for 4xx/5xx answers), the body to stderr
    http_scrape.py metric URL NAME [LABELS-AS-PYTHON-DICT]
        one sample's value as parsed by prometheus_client's OpenMetrics
        parser (which rejects anything not OpenMetrics 1.0), or "absent"
    http_scrape.py families URL
        the sorted metric family names, one a line
    http_scrape.py raw HOST PORT BYTES-AS-PYTHON-EXPRESSION
        sends the bytes, prints the status line of the answer ("closed"
        when the server closed without one) and the seconds it took
    http_scrape.py stall HOST PORT N SECONDS
        N connections, each sending the start of a request and then one
        byte of a header every 0.5 s, never its end; a connection the
        server closes is opened again. Prints "connections N, closed by
        harepd M" at the end.
"""
import ast
import select
import socket
import sys
import time
import urllib.error
import urllib.request

from prometheus_client.openmetrics.parser import text_string_to_metric_families

TIMEOUT = 5


def fetch(url, method="GET"):
    req = urllib.request.Request(url, method=method)
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            return r.status, r.headers.get("Content-Type"), r.read(), t0
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read(), t0


def cmd_get(url, method="GET"):
    status, ctype, body, t0 = fetch(url, method)
    ms = (time.monotonic() - t0) * 1000
    print("%d|%s|%d|%d" % (status, ctype, len(body), ms))
    sys.stderr.write(body.decode("utf-8", "replace"))


def families(url):
    status, _, body, _ = fetch(url)
    if status != 200:
        sys.exit("HTTP %d" % status)
    return list(text_string_to_metric_families(body.decode("utf-8")))


def cmd_metric(url, name, labels="{}"):
    want = ast.literal_eval(labels)
    for fam in families(url):
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v
                                      for k, v in want.items()):
                print("%g" % s.value)
                return
    print("absent")


def cmd_families(url):
    for name in sorted(f.name for f in families(url)):
        print(name)


def cmd_raw(host, port, data):
    t0 = time.monotonic()
    s = socket.create_connection((host, int(port)), timeout=10)
    got = b""
    try:
        # the test's own expression, e.g. b"X: " + b"a" * 9000
        s.sendall(eval(data, {"__builtins__": {}}))
        while b"\r\n" not in got:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    except OSError:
        pass
    line = got.split(b"\r\n")[0].decode("latin-1") if got else "closed"
    print("%s %.1f" % (line, time.monotonic() - t0))


def opener(host, port):
    s = socket.create_connection((host, int(port)), timeout=2)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    s.setblocking(False)
    return s


def gone(s):
    try:
        r, _, _ = select.select([s], [], [], 0)
        return bool(r) and s.recv(4096) == b""
    except OSError:
        return True


def cmd_stall(host, port, n, seconds):
    end = time.monotonic() + float(seconds)
    conns, opened, closed = [], 0, 0
    while time.monotonic() < end:
        while len(conns) < int(n):
            try:
                conns.append(opener(host, port))
                opened += 1
            except OSError:
                break
        for s in list(conns):
            if gone(s):
                closed += 1
                conns.remove(s)
                s.close()
                continue
            try:
                s.send(b"a")
            except OSError:
                closed += 1
                conns.remove(s)
                s.close()
        time.sleep(0.5)
    print("connections %d, closed by harepd %d" % (opened, closed))


if __name__ == "__main__":
    cmds = {"get": cmd_get, "metric": cmd_metric, "families": cmd_families,
            "raw": cmd_raw, "stall": cmd_stall}
    cmds[sys.argv[1]](*sys.argv[2:])
