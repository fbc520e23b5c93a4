#!/usr/bin/python3
"""A ClusterInfo peer and client for the supervisor tests (python3-grpcio).

    sup_peer.py serve PB_DIR PORT ANSWER_FILE
        serves /models.ClusterInfo/GetClusterInfo on 127.0.0.1:PORT; every
        call answers the IKnow in ANSWER_FILE (JSON, fields as in
        messaging.proto), read anew each time so a test can change its
        mind while harepd runs. Prints "listening" when ready.
    sup_peer.py call PB_DIR TARGET
        one GetClusterInfo call with a 3 s deadline; prints "OK <IKnow as
        JSON>" or "<status code name> <details>", exit 0 either way.

PB_DIR holds messaging_pb2.py (protoc --python_out; Debian has no
grpc_tools).
"""
import json
import sys
import time
from concurrent import futures

import grpc

METHOD = "/models.ClusterInfo/GetClusterInfo"


def serve(pb, port, answer_file):
    def get_cluster_info(request, context):
        with open(answer_file) as f:
            return pb.IKnow(**json.load(f))

    handler = grpc.method_handlers_generic_handler("models.ClusterInfo", {
        "GetClusterInfo": grpc.unary_unary_rpc_method_handler(
            get_cluster_info,
            request_deserializer=pb.WhatYouKnow.FromString,
            response_serializer=pb.IKnow.SerializeToString),
    })
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port("127.0.0.1:%d" % port)
    server.start()
    print("listening", flush=True)
    while True:
        time.sleep(3600)


def call(pb, target):
    ch = grpc.insecure_channel(target, options=[("grpc.enable_http_proxy", 0)])
    stub = ch.unary_unary(METHOD,
                          request_serializer=pb.WhatYouKnow.SerializeToString,
                          response_deserializer=pb.IKnow.FromString)
    try:
        k = stub(pb.WhatYouKnow(ip="127.0.0.9", nodeId=9, nodeName="test"),
                 timeout=3)
        print("OK", json.dumps({"ip": k.ip, "nodeName": k.nodeName,
                                "master": list(k.master),
                                "slaves": list(k.slaves)}))
    except grpc.RpcError as e:
        print(e.code().name, e.details())


def main():
    sys.path.insert(0, sys.argv[2])
    import messaging_pb2 as pb
    if sys.argv[1] == "serve":
        serve(pb, int(sys.argv[3]), sys.argv[4])
    else:
        call(pb, sys.argv[3])


main()
