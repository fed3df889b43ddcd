#!/usr/bin/python3
"""The seed's causal key-value store in Python, one Flask node per process:
the system Causeway's HTTP figures are compared with (bench/compare_flask.sh).
Not part of the project and not run by CI: it needs python3-flask and
python3-requests (Debian: apt-get install python3-flask python3-requests).

As the seed describes it (seeds/003): each node keeps a vector clock and a
key-value dict; POST /write increments its own entry, stores the value and
replicates it to every peer by HTTP POST /replicate (requests.post, one call
per peer, before answering); a peer buffers a write until it is causally
ready and then applies it and merges its clock; GET /read/<key> answers the
value with its clock. The JSON shapes are node-server.md's:
  POST /write {"key": K, "value": V}  -> {"status": "success", "clock": CLOCK}
  GET /read/K -> {"status": "success", "value": V, "clock": CLOCK}
  GET /status -> {"node": I, "clock": CLOCK, "pending": N, "data": {...}}
The readiness rule is the standard one (the sender's entry is the next one
from it, every other entry already seen); the seed's listing leaves the
sender's entry to its caller.

Served by Flask's own (Werkzeug) server, threaded, as the seed runs it.
Werkzeug's server (2.2 in Debian 12, 3.x too) answers HTTP/1.1 but closes
every connection after one answer ("Connection: close"), so a keep-alive
client reconnects for each write. Per-request logging is off (it would be a
cost of the terminal, not of the system).

  flask_node.py ID PORT0,PORT1,PORT2      (node ID serves 127.0.0.1:PORT<ID>)
"""
import logging
import sys
import threading

import requests
from flask import Flask, jsonify, request


class VectorClock:
    def __init__(self, nodes):
        self.clock = {str(i): 0 for i in range(nodes)}

    def increment(self, node_id):
        self.clock[str(node_id)] += 1

    def merge(self, other):
        for node, time in other.items():
            self.clock[node] = max(self.clock.get(node, 0), time)

    def copy(self):
        return dict(self.clock)


class Node:
    def __init__(self, node_id, ports):
        self.node_id = node_id
        self.peers = ["http://127.0.0.1:%d" % p for i, p in enumerate(ports) if i != node_id]
        self.vc = VectorClock(len(ports))
        self.data = {}
        self.pending = []
        self.lock = threading.Lock()

    def is_causally_ready(self, sender, received_clock):
        for node, time in received_clock.items():
            if node == str(sender):
                if time != self.vc.clock.get(node, 0) + 1:
                    return False
            elif time > self.vc.clock.get(node, 0):
                return False
        return True

    def deliver_pending(self):
        progress = True
        while progress:
            progress = False
            for msg in list(self.pending):
                if self.is_causally_ready(msg["sender"], msg["clock"]):
                    self.data[msg["key"]] = {"value": msg["value"], "clock": msg["clock"]}
                    self.vc.merge(msg["clock"])
                    self.pending.remove(msg)
                    progress = True


def make_app(node):
    app = Flask(__name__)

    @app.route("/write", methods=["POST"])
    def write():
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("key"), str) or "value" not in body:
            return jsonify(status="error", error="bad JSON or no key"), 400
        with node.lock:
            node.vc.increment(node.node_id)
            clock = node.vc.copy()
            node.data[body["key"]] = {"value": body["value"], "clock": clock}
        msg = {"key": body["key"], "value": body["value"], "clock": clock, "sender": node.node_id}
        for peer in node.peers:
            try:
                requests.post(peer + "/replicate", json=msg, timeout=5)
            except requests.RequestException as e:
                app.logger.warning("replicate to %s: %s", peer, e)
        return jsonify(status="success", clock=clock)

    @app.route("/replicate", methods=["POST"])
    def replicate():
        msg = request.get_json(silent=True)
        if not isinstance(msg, dict) or "clock" not in msg or "sender" not in msg:
            return jsonify(status="error", error="malformed"), 400
        with node.lock:
            node.pending.append(msg)
            node.deliver_pending()
        return jsonify(status="success")

    @app.route("/read/<path:key>", methods=["GET"])
    def read(key):
        with node.lock:
            item = node.data.get(key)
            if item is None:
                return jsonify(status="error", error="not found"), 404
            return jsonify(status="success", value=item["value"], clock=item["clock"])

    @app.route("/status", methods=["GET"])
    def status():
        with node.lock:
            return jsonify(node=node.node_id, clock=node.vc.copy(), pending=len(node.pending), data=node.data)

    return app


if __name__ == "__main__":
    node_id = int(sys.argv[1])
    ports = [int(p) for p in sys.argv[2].split(",")]
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    make_app(Node(node_id, ports)).run(host="127.0.0.1", port=ports[node_id], threaded=True)
