#!/usr/bin/env python3
"""Sends seeded random mutations of captured FastCGI records to a server.

usage: mutate_records.py unix:PATH CAPTURES_DIR SEED COUNT

(fake-responder.py imports mutate() from here for its mutated mode.)

Each of COUNT connections carries one capture (a web server's side of a
connection, from CAPTURES_DIR/*.bin) with 1 to 8 mutations: bytes changed,
cut, inserted, or the stream truncated.  It is written in pieces of random
size, then whatever the server answers is read until it closes or stays
silent for 0.1 s.  The same SEED always sends the same bytes.  Prints
"sent N".
"""
import glob
import os
import random
import socket
import sys


def mutate(rnd, data):
    data = bytearray(data)
    for _ in range(rnd.randint(1, 8)):
        if not data:
            data = bytearray(b"\x01")
        i = rnd.randrange(len(data))
        op = rnd.random()
        if op < 0.5:
            data[i] = rnd.randrange(256)
        elif op < 0.7:
            del data[i:i + rnd.randint(1, 16)]
        elif op < 0.9:
            data[i:i] = bytes(rnd.randrange(256)
                              for _ in range(rnd.randint(1, 16)))
        else:
            del data[i:]
    return bytes(data) or b"\x01"


def main():
    if len(sys.argv) != 5 or not sys.argv[1].startswith("unix:"):
        raise SystemExit(__doc__)
    path, caps_dir = sys.argv[1][5:], sys.argv[2]
    rnd = random.Random(int(sys.argv[3]))
    caps = [open(f, "rb").read()
            for f in sorted(glob.glob(os.path.join(caps_dir, "*.bin")))
            if 0 < os.path.getsize(f) < 20000]
    if not caps:
        raise SystemExit("no captures in " + caps_dir)
    sent = 0
    for _ in range(int(sys.argv[4])):
        data = mutate(rnd, rnd.choice(caps))
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(0.5)
        try:
            s.connect(path)
            off = 0
            while off < len(data):
                n = rnd.randint(1, 4096)
                s.sendall(data[off:off + n])
                off += n
            s.settimeout(0.1)
            while s.recv(65536):
                pass
        except OSError:
            pass
        finally:
            s.close()
        sent += 1
    print("sent", sent)


if __name__ == "__main__":
    main()
