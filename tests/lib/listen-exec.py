#!/usr/bin/env python3
"""Hands a listening socket to a program on fd 0, as a web server (or
spawn-fcgi) hands one to a FastCGI application: FCGI_LISTENSOCK_FILENO.

usage: listen-exec.py ADDRESS PROGRAM [ARG...]

ADDRESS is a Unix socket path (anything with a '/') or HOST:PORT.  The
program replaces this process, so its PID is the one that started this.
"""

import os
import socket
import sys


def main():
    if len(sys.argv) < 3:
        raise SystemExit("usage: listen-exec.py ADDRESS PROGRAM [ARG...]")
    address = sys.argv[1]
    if "/" in address:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(address)
    else:
        host, port = address.rsplit(":", 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host or "127.0.0.1", int(port)))
    s.listen(64)
    os.dup2(s.fileno(), 0)
    s.close()
    os.execvp(sys.argv[2], sys.argv[2:])


main()
