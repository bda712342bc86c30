#!/usr/bin/env python3
"""A DNS server for one name, for tests/static.bats: answers an A query
for NAME with 127.0.0.1, an AAAA query for it with no address, and any
other name with NXDOMAIN, over UDP on 127.0.0.1:PORT.  Writes READY_FILE
once it listens.

Usage: dns-responder.py PORT NAME READY_FILE
"""
import socket
import struct
import sys

TYPE_A = 1
NXDOMAIN = 3


def question_end(msg):
    """Offset just past the question's name, type and class."""
    i = 12
    while msg[i] != 0:
        i += 1 + msg[i]
    return i + 1 + 4


def name_of(msg):
    labels, i = [], 12
    while msg[i] != 0:
        labels.append(msg[i + 1:i + 1 + msg[i]].decode("ascii").lower())
        i += 1 + msg[i]
    return ".".join(labels)


def answer(msg, name):
    qid, = struct.unpack("!H", msg[:2])
    end = question_end(msg)
    qtype, = struct.unpack("!H", msg[end - 4:end - 2])
    ours = name_of(msg) == name
    records = b""
    if ours and qtype == TYPE_A:
        # The name as a pointer to the question's, IN A, TTL 60, 127.0.0.1.
        records = struct.pack("!HHHIH4B", 0xC00C, TYPE_A, 1, 60, 4,
                              127, 0, 0, 1)
    flags = 0x8180 | (0 if ours else NXDOMAIN)
    header = struct.pack("!HHHHHH", qid, flags, 1, 1 if records else 0, 0, 0)
    return header + msg[12:end] + records


def main():
    port, name, ready = int(sys.argv[1]), sys.argv[2].lower(), sys.argv[3]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    open(ready, "w").write("ready\n")
    while True:
        msg, peer = s.recvfrom(512)
        if len(msg) > 12:
            s.sendto(answer(msg, name), peer)


main()
