#!/usr/bin/python3
"""An independent ClusterInfo server (python3-grpcio) for testing C clients.

Serves /models.ClusterInfo/GetClusterInfo on 127.0.0.1 (port 0: any free
port) and prints "port=N" once it listens. What it answers:

    --answer JSON   the IKnow to send (fields as in messaging.proto;
                    "observation": null or absent sends none, as a Go
                    harepd does)
    --status CODE   fail every call with this grpc.StatusCode name
    --sleep S       wait S seconds before answering (deadline tests)
    --repmgr CMD    answer as the Go harepd does: the lists from
                    repmgr.nodes at each request, CMD being a command
                    that prints "type|active|host" per row (the identity
                    fields still come from --answer; never an
                    observation or a gate, which the Go version lacks)

TLS with --cert/--key; mutual TLS when --ca is given too. Each request
is printed as "request ip=.. nodeId=.. nodeName=.. peer=..". Runs until
killed or stdin closes.
"""
import argparse
import json
import subprocess
import sys
import threading
import time
from concurrent import futures

import grpc

METHOD = "GetClusterInfo"
SERVICE = "models.ClusterInfo"


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--pb", required=True, help="dir with messaging_pb2.py")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--answer", default="{}")
    p.add_argument("--status")
    p.add_argument("--sleep", type=float, default=0)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--ca")
    p.add_argument("--repmgr")
    return p.parse_args()


def read(path):
    with open(path, "rb") as f:
        return f.read()


def make_answer(pb, spec):
    d = json.loads(spec)
    obs = d.pop("observation", None)
    k = pb.IKnow(**d)
    if obs is not None:
        k.observation.CopyFrom(pb.Observation(**obs))
    return k


def go_lists(cmd, answer, pb):
    """The Go harepd's answer: active primaries, standbys and witness."""
    rows = subprocess.run(cmd, shell=True, capture_output=True, text=True,
                          timeout=5).stdout.split()
    k = pb.IKnow()
    k.CopyFrom(answer)
    for row in rows:
        kind, active, host = (row.split("|") + ["", "", ""])[:3]
        if active != "t":
            continue
        if kind == "primary":
            k.master.append(host)
        elif kind == "standby":
            k.slaves.append(host)
        elif kind == "witness":
            k.witness = host
    return k


def handler(a, pb, answer):
    def get_cluster_info(request, context):
        print("request ip=%s nodeId=%d nodeName=%s peer=%s" % (
            request.ip, request.nodeId, request.nodeName, context.peer()),
            flush=True)
        if a.sleep:
            time.sleep(a.sleep)
        if a.status:
            context.abort(getattr(grpc.StatusCode, a.status),
                          "told to answer " + a.status)
        if a.repmgr:
            return go_lists(a.repmgr, answer, pb)
        return answer

    rpc = grpc.unary_unary_rpc_method_handler(
        get_cluster_info,
        request_deserializer=pb.WhatYouKnow.FromString,
        response_serializer=pb.IKnow.SerializeToString)
    return grpc.method_handlers_generic_handler(SERVICE, {METHOD: rpc})


def credentials(a):
    if not a.cert:
        return None
    pair = [(read(a.key), read(a.cert))]
    if a.ca:
        return grpc.ssl_server_credentials(
            pair, root_certificates=read(a.ca), require_client_auth=True)
    return grpc.ssl_server_credentials(pair)


def main():
    a = parse_args()
    sys.path.insert(0, a.pb)
    import messaging_pb2 as pb

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((handler(a, pb, make_answer(pb,
                                                                a.answer)),))
    addr = "%s:%d" % (a.bind, a.port)
    creds = credentials(a)
    if creds is None:
        port = server.add_insecure_port(addr)
    else:
        port = server.add_secure_port(addr, creds)
    if port == 0:
        sys.exit("cannot listen on " + addr)
    server.start()
    print("port=%d" % port, flush=True)
    # stop when the test closes our stdin (or kills us)
    threading.Thread(target=lambda: (sys.stdin.read(), server.stop(0)),
                     daemon=True).start()
    server.wait_for_termination()


if __name__ == "__main__":
    main()
