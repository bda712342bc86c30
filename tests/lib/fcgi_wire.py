"""FastCGI on the wire for the test clients (raw-fcgi.py, fault-clients.py,
upload-storm.py): records and name-value pairs packed as the protocol
says, or bent as a test asks, and the addresses fcgi-bridge takes."""

import socket
import struct


def record(rtype, reqid, content=b"", length=None, padding=None, version=1):
    """A record; length, padding and version may be set wrong on purpose."""
    if length is None:
        length = len(content)
    if padding is None:
        padding = (8 - len(content) % 8) % 8
    return struct.pack(">BBHHBB", version, rtype, reqid, length, padding,
                       0) + bytes(content) + b"\0" * padding


def nv_len(n):
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


def nv(pairs):
    """Name-value pairs, of str, as PARAMS content."""
    return b"".join(nv_len(len(n)) + nv_len(len(v)) + n + v
                    for n, v in ((a.encode(), b.encode()) for a, b in pairs))


def parse_address(addr):
    """(family, address) of unix:PATH, PATH with a '/', [IPv6]:PORT or
    HOST:PORT (127.0.0.1 when HOST is empty)."""
    if addr.startswith("unix:"):
        return socket.AF_UNIX, addr[5:]
    if "/" in addr:
        return socket.AF_UNIX, addr
    if addr.startswith("["):
        host, _, port = addr[1:].partition("]:")
        return socket.AF_INET6, (host, int(port))
    host, _, port = addr.rpartition(":")
    return socket.AF_INET, (host or "127.0.0.1", int(port))
