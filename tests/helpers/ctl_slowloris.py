#!/usr/bin/python3
"""Hostile local clients of harepd's control socket (tests/integration
60-sup-ctl-slowloris.t). Runs until killed or for SECONDS.

    ctl_slowloris.py dribble SOCKET N SECONDS
        N connections, each sending one byte every 0.9 s and never a
        newline; a connection the server closes is opened again.
    ctl_slowloris.py noread SOCKET N SECONDS
        every 0.2 s, N new connections that send "status json\\n" and
        never read the reply (the newest 400 are kept open).

Prints "connections N, closed by harepd M" at the end.
"""
import os
import select
import socket
import sys
import time


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    s.connect(path)
    s.setblocking(False)
    return s


def closed_by_server(s):
    """EOF or an error from the server: it gave up on us."""
    r, _, _ = select.select([s], [], [], 0)
    if not r:
        return False
    try:
        # peek: a reply in the buffer is not a close yet for noread
        data = s.recv(65536, socket.MSG_PEEK)
    except BlockingIOError:
        return False
    except OSError:
        return True
    if data == b"":
        return True
    # the reply is there: drain it to see whether EOF follows
    try:
        while s.recv(65536):
            pass
    except BlockingIOError:
        return False
    except OSError:
        return True
    return True


def dribble(path, n, end):
    conns, opened, closed = [], 0, 0
    while time.monotonic() < end:
        while len(conns) < n:
            conns.append(connect(path))
            opened += 1
        for s in list(conns):
            try:
                s.send(b"x")
                gone = closed_by_server(s)
            except OSError:
                gone = True
            if gone:
                closed += 1
                conns.remove(s)
                s.close()
        time.sleep(0.9)
    return opened, closed


def noread(path, n, end):
    conns, opened = [], 0
    while time.monotonic() < end:
        for _ in range(n):
            s = connect(path)
            s.sendall(b"status json\n")
            conns.append(s)
            opened += 1
        while len(conns) > 400:
            conns.pop(0).close()
        time.sleep(0.2)
    return opened, 0


def main():
    mode, path, n, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
        float(sys.argv[4])
    run = dribble if mode == "dribble" else noread
    opened, closed = run(path, n, time.monotonic() + seconds)
    print("connections %d, closed by harepd %d" % (opened, closed))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
