#!/usr/bin/env python3
"""Misbehaving and massed FastCGI clients for the fault tests of
`fcgi-bridge serve` (tests/serve-faults.bats).

usage: fault-clients.py halfopen [-t SECONDS] [--ready FILE] [--in-params]
                                 ADDRESS N BYTES
       fault-clients.py burst [-t SECONDS] [-p NAME=VALUE]... [--expect TEXT]
                              [--ready FILE] ADDRESS N
       fault-clients.py slowread [-t SECONDS] [-p NAME=VALUE]... [--chunk B]
                                 [--pause SECONDS] ADDRESS

ADDRESS is unix:PATH or HOST:PORT.

halfopen: opens N connections, sends on each the first BYTES bytes (1 to 7)
  of a BEGIN_REQUEST record header (with --in-params: a whole BEGIN_REQUEST
  record, then BYTES bytes of a PARAMS record header), then nothing more;
  writes FILE (if given) once all were sent, then waits, at most -t seconds
  (default 10) after the last send, for the server to close each,
  keeping what it sends.
  Prints
    HALF-OPEN n/N                        connections opened and sent to
    HALF-EOF n/N first=S last=S          how many the server closed, and
                                         the shortest and the longest time
                                         from a connection's send to its
                                         close, in seconds
    HALF-ANSWERED n 504=m END=e          how many got bytes, how many of
                                         them a Status: 504 answer, and how
                                         many an END_REQUEST (whole records,
                                         protocolStatus 0)
  Exit 0 when the server closed all N.

burst: opens N connections at once (all connected before any request is
  sent), then sends on each one whole request (BEGIN_REQUEST without
  KEEP_CONN, the params, an empty STDIN), all of them, then reads every
  connection at once until END_REQUEST or EOF, at most -t seconds (default
  30) in all.  Writes FILE (if given) once every request was sent.  Each
  connection ends as one of:
    ok           END_REQUEST protocolStatus 0, appStatus 0, a header block
                 without Status or with Status 200, TEXT (--expect, default
                 "Content-Type") in STDOUT, and the connection then closed
    http_NNN     END_REQUEST protocolStatus 0 with an answer of Status NNN
    overloaded   END_REQUEST protocolStatus 2 (FCGI_OVERLOADED)
    closed       EOF or a reset before END_REQUEST, no record cut short
    refused      the connection could not be opened
    timeout      nothing of the above within -t
    other        anything else (a malformed record, a cut record, another
                 protocol status, a non-zero appStatus, a wrong body, more
                 records after END_REQUEST...)
  Prints one line per connection that is neither ok nor overloaded (at most
  20), then "burst n=N ok=A overloaded=B closed=C refused=D timeout=E
  other=F http=CODE:COUNT,..." (http= only when there were some).
  Exit 0 unless timeout or other is not 0.

slowread: one request, like burst's, then reads its answer slowly: CHUNK
  bytes (default 4096) per recv, PAUSE seconds (default 0.04) between
  them, at most -t seconds (default 60).  Prints
    SLOWREAD stdout=N body=B md5=HEX end=APP/PROTO eof=0|1 seconds=S
  where body and md5 are of what follows the CGI header block, end is
  "none" without END_REQUEST.  Exit 0 when END_REQUEST came.

Standard library only.
"""

import argparse
import hashlib
import os
import selectors
import socket
import struct
import sys
import time

from fcgi_wire import nv, parse_address, record

BEGIN_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR = 1, 3, 4, 5, 6, 7


def request_bytes(params, reqid=1):
    return (record(BEGIN_REQUEST, reqid, struct.pack(">HB5x", 1, 0)) +
            record(PARAMS, reqid, nv(params)) + record(PARAMS, reqid) +
            record(STDIN, reqid))


def connect(addr, timeout):
    family, target = parse_address(addr)
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(target)
    except OSError:
        s.close()
        raise
    return s


def params_of(opts):
    pairs = []
    for p in opts.p:
        name, _, value = p.partition("=")
        pairs.append((name, value))
    return pairs


def touch(path):
    if path:
        with open(path + ".tmp", "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(path + ".tmp", path)


class Answer:
    """The records of one request's answer, parsed as they come."""

    def __init__(self):
        self.buf = bytearray()
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.end = None          # (app, proto)
        self.faults = []

    def feed(self, data):
        self.buf += data
        while len(self.buf) >= 8:
            ver, rtype, reqid, length, pad, _ = struct.unpack_from(
                ">BBHHBB", self.buf)
            if ver != 1:
                self.faults.append("record with version %d" % ver)
                self.buf.clear()
                return
            if len(self.buf) < 8 + length + pad:
                return
            content = bytes(self.buf[8:8 + length])
            del self.buf[:8 + length + pad]
            if self.end is not None:
                self.faults.append("record type %d after END_REQUEST" % rtype)
            elif reqid != 1:
                self.faults.append("record type %d for id %d" % (rtype, reqid))
            elif rtype == STDOUT:
                self.stdout += content
            elif rtype == STDERR:
                self.stderr += content
            elif rtype == END_REQUEST and length == 8:
                self.end = struct.unpack(">IB", content[:5])
            else:
                self.faults.append("record type %d len %d" % (rtype, length))

    def head_body(self):
        data = bytes(self.stdout)
        for sep in (b"\r\n\r\n", b"\n\n"):
            i = data.find(sep)
            if i != -1:
                return data[:i], data[i + len(sep):]
        return None, data

    def status(self):
        head, _ = self.head_body()
        if head is None:
            return None
        for line in head.replace(b"\r\n", b"\n").split(b"\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"status":
                return value.strip()[:3].decode("latin-1")
        return "200"


# --------------------------------------------------------------- halfopen

def halfopen(opts):
    begin = record(BEGIN_REQUEST, 1, struct.pack(">HB5x", 1, 0))
    if opts.in_params:
        head = begin + record(PARAMS, 1, nv([("A", "B")]))[:opts.bytes]
    else:
        head = begin[:opts.bytes]
    socks = []
    sent = {}   # socket -> when its bytes were sent
    for _ in range(opts.n):
        try:
            s = connect(opts.address, 5)
            s.sendall(head)
            sent[s] = time.monotonic()
            s.setblocking(False)
            socks.append(s)
        except OSError as e:
            print("connect or send failed: %s" % e)
            break
    print("HALF-OPEN %d/%d" % (len(socks), opts.n))
    sys.stdout.flush()
    touch(opts.ready)
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    closed = []
    answers = {}
    deadline = time.monotonic() + opts.t
    while len(closed) < len(socks) and time.monotonic() < deadline:
        for key, _ in sel.select(max(0.0, deadline - time.monotonic())):
            s = key.fileobj
            try:
                data = s.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if data:
                answers.setdefault(s, Answer()).feed(data)
                continue
            closed.append(time.monotonic() - sent[s])
            sel.unregister(s)
            s.close()
    for s in socks:
        s.close()
    print("HALF-EOF %d/%d first=%.2f last=%.2f" % (
        len(closed), opts.n, min(closed) if closed else -1,
        max(closed) if closed else -1))
    print("HALF-ANSWERED %d 504=%d END=%d" % (
        len(answers), sum(1 for a in answers.values() if a.status() == "504"),
        sum(1 for a in answers.values()
            if a.end is not None and a.end[1] == 0 and not a.buf)))
    return 0 if len(closed) == opts.n == len(socks) else 1


# ------------------------------------------------------------------ burst

def burst(opts):
    req = request_bytes(params_of(opts))
    expect = opts.expect.encode()
    socks, kinds, notes = [], {}, []
    refused = 0
    for i in range(opts.n):
        try:
            socks.append(connect(opts.address, 5))
        except OSError as e:
            refused += 1
            if len(notes) < 20:
                notes.append("conn %d: refused: %s" % (i, e))
    answers = {s: Answer() for s in socks}
    for s in list(socks):
        try:
            s.sendall(req)
        except OSError as e:
            # Closed by the server before it read the request: it may still
            # have answered; what it sent is read below.
            answers[s].faults.append("send: %s" % e.strerror)
        s.setblocking(False)
    touch(opts.ready)
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    eof = {}
    deadline = time.monotonic() + opts.t
    while len(eof) < len(socks) and time.monotonic() < deadline:
        for key, _ in sel.select(min(1.0, max(0.0,
                                              deadline - time.monotonic()))):
            s = key.fileobj
            try:
                data = s.recv(262144)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as e:
                data = b""
                answers[s].faults.append("recv: %s" % e.strerror)
            if data:
                answers[s].feed(data)
                continue
            eof[s] = True
            sel.unregister(s)
    counts = {"ok": 0, "overloaded": 0, "closed": 0, "refused": refused,
              "timeout": 0, "other": 0}
    http = {}
    for i, s in enumerate(socks):
        a = answers[s]
        faults = [f for f in a.faults if not f.startswith(("send:", "recv:"))]
        if s not in eof:
            kind, why = "timeout", "no END_REQUEST and no EOF within -t"
        elif faults:
            kind, why = "other", "; ".join(faults)
        elif a.end is None:
            if a.buf:
                kind, why = "other", "a record cut short by EOF"
            else:
                kind, why = "closed", "EOF before END_REQUEST%s" % (
                    " (%s)" % "; ".join(a.faults) if a.faults else "")
        elif a.end[1] == 2:
            kind, why = "overloaded", ""
        elif a.end[1] != 0:
            kind, why = "other", "protocolStatus %d" % a.end[1]
        elif a.end[0] != 0:
            kind, why = "other", "appStatus %d" % a.end[0]
        else:
            st = a.status()
            if st is None:
                kind, why = "other", "no CGI header block"
            elif st != "200":
                kind, why = "http", "status %s" % st
                http[st] = http.get(st, 0) + 1
            elif expect not in a.stdout:
                kind, why = "other", "%r not in the answer" % opts.expect
            else:
                kind, why = "ok", ""
        if kind != "http":
            counts[kind] += 1
        if kind not in ("ok", "overloaded") and len(notes) < 20:
            notes.append("conn %d: %s: %s; stdout %r" % (
                i, kind, why, bytes(a.stdout[:120])))
        s.close()
    for line in notes:
        print(line)
    line = "burst n=%d " % opts.n + " ".join(
        "%s=%d" % (k, counts[k]) for k in
        ("ok", "overloaded", "closed", "refused", "timeout", "other"))
    if http:
        line += " http=" + ",".join("%s:%d" % kv for kv in sorted(http.items()))
    print(line)
    return 0 if counts["timeout"] == 0 and counts["other"] == 0 else 1


# --------------------------------------------------------------- slowread

def slowread(opts):
    t0 = time.monotonic()
    s = connect(opts.address, 5)
    s.sendall(request_bytes(params_of(opts)))
    s.settimeout(1.0)
    a = Answer()
    got_eof = False
    deadline = t0 + opts.t
    while time.monotonic() < deadline and a.end is None:
        try:
            data = s.recv(opts.chunk)
        except socket.timeout:
            continue
        except OSError:
            data = b""
        if not data:
            got_eof = True
            break
        a.feed(data)
        time.sleep(opts.pause)
    if a.end is not None and not got_eof:
        s.settimeout(max(0.1, min(5.0, deadline - time.monotonic())))
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    got_eof = True
                    break
                a.feed(data)
        except OSError:
            pass
    s.close()
    _, body = a.head_body()
    end = "%d/%d" % a.end if a.end else "none"
    for f in a.faults:
        print("fault: %s" % f)
    print("SLOWREAD stdout=%d body=%d md5=%s end=%s eof=%d seconds=%.2f" % (
        len(a.stdout), len(body), hashlib.md5(body).hexdigest(), end,
        int(got_eof), time.monotonic() - t0))
    return 0 if a.end is not None and not a.faults else 1


def main(argv):
    ap = argparse.ArgumentParser(prog="fault-clients.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("halfopen")
    h.add_argument("-t", type=float, default=10.0)
    h.add_argument("--ready")
    h.add_argument("--in-params", action="store_true")
    h.add_argument("address")
    h.add_argument("n", type=int)
    h.add_argument("bytes", type=int, choices=range(1, 8))
    b = sub.add_parser("burst")
    b.add_argument("-t", type=float, default=30.0)
    b.add_argument("-p", action="append", default=[])
    b.add_argument("--expect", default="Content-Type")
    b.add_argument("--ready")
    b.add_argument("address")
    b.add_argument("n", type=int)
    r = sub.add_parser("slowread")
    r.add_argument("-t", type=float, default=60.0)
    r.add_argument("-p", action="append", default=[])
    r.add_argument("--chunk", type=int, default=4096)
    r.add_argument("--pause", type=float, default=0.04)
    r.add_argument("address")
    opts = ap.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)
    return {"halfopen": halfopen, "burst": burst,
            "slowread": slowread}[opts.cmd](opts)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
