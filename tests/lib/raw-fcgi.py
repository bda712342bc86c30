#!/usr/bin/env python3
"""Hand-made FastCGI records for testing `fcgi-bridge serve`.

usage: raw-fcgi.py [-t SECONDS] [-v] [-p NAME=VALUE]... ADDRESS [STEP...]
       raw-fcgi.py [-t SECONDS] [-p NAME=VALUE]... --repeat N [--expect TEXT] ADDRESS

ADDRESS is unix:PATH, a path containing '/', HOST:PORT or [V6]:PORT.
With no STEP it only connects: exit 0 when the connection was accepted
(a readiness probe).

STEPs run in order, on the current connection (connection 1 unless conn:K
says otherwise; a connection is opened on first use):

  begin:ID[:ROLE[:FLAGS]]  BEGIN_REQUEST; ROLE 1 (RESPONDER) and FLAGS 0 by
                           default, FLAGS 1 = FCGI_KEEP_CONN
  set:NAME=VALUE           add or replace a param for later params: steps
  unset:NAME               drop a param
  params:ID                all params (-p and set:) in one PARAMS record,
                           then the empty PARAMS record
  stdin:ID[:TEXT]          STDIN with TEXT (if any), then the empty record
  stdinfile:ID:PATH        STDIN from PATH in 32 KiB records, then empty
  req:ID[:FLAGS]           begin:ID:1:FLAGS, params:ID, stdin:ID
  bigparams:ID:BYTES       PARAMS records of 50 pairs X_BIG_n=1000 bytes
                           each until BYTES were sent (no empty record)
  save:ID:PATH             write the STDOUT stream of ID received so far
                           to PATH, raw
  abort:ID                 ABORT_REQUEST
  values                   GET_VALUES asking FCGI_MAX_CONNS, FCGI_MAX_REQS,
                           FCGI_MPXS_CONNS
  mgmt:TYPE                a management record (id 0) of TYPE, 8 zero bytes
  rec:VER:TYPE:ID:HEX[:LEN[:PAD]]
                           any record: content HEX (may be empty), header
                           claiming contentLength LEN (default: the real
                           length) and paddingLength PAD (default: to 8);
                           PAD zero bytes follow whatever LEN says
  hex:HEX                  raw bytes
  sleep:SECONDS            pause
  waitfile:PATH            wait until PATH exists and is not empty
  read:TYPE[:COUNT]        read (printing) until COUNT (default 1) records of
                           TYPE (a name such as END_REQUEST, or a number)
                           have arrived
  eof                      read (printing) until the peer closes
  close                    close the current connection
  conn:K                   make connection K current
  idle:N                   open N extra connections that never send anything
  idle-count               print "IDLE-OPEN n/N": how many of them the peer
                           has not closed
  idle-eof                 wait until the peer has closed every idle
                           connection; print "IDLE-EOF n/N" (n closed)

Every blocking step waits at most -t SECONDS (default 5).  Output, one line
per event:

  STDOUT id=I bytes=N text=ESCAPED   a stream, when it ends (its empty record,
  STDERR id=I bytes=N text=ESCAPED   END_REQUEST or EOF); text is at most
                                     4096 bytes, \\r \\n \\t \\\\ \\xNN escaped
  END_REQUEST id=I app=A proto=P
  GET_VALUES_RESULT NAME=VALUE ...
  UNKNOWN_TYPE type=T
  RECORD type=T id=I len=L           anything else
  BADRECORD version=V ...            a record header with version != 1
  EOF                                the peer closed the connection
  EPIPE                              a write failed: the peer had closed
                                     (later writes on it are skipped)
  TIMEOUT                            a step waited -t seconds in vain
  == conn K                          conn:K switched connections

-v also prints "rec TYPE id=I len=L pad=P" for every record received.
Exit status: 0 when every step succeeded, 1 when a read or wait ended in
TIMEOUT or an unexpected EOF, 2 for usage errors.

--repeat N: N requests one after another, each on a new connection:
BEGIN_REQUEST (no KEEP_CONN), the params, an empty STDIN, read to
END_REQUEST.  One counts as a success when END_REQUEST has protocolStatus 0
and appStatus 0 and STDOUT contains TEXT (--expect, default
"Content-Type").  Prints "repeat ok=N failed=M" (and the first failure);
exit 0 only when all succeeded.

Standard library only.
"""

import os
import select
import socket
import struct
import sys
import time

from fcgi_wire import nv, parse_address, record

TYPES = {
    "BEGIN_REQUEST": 1, "ABORT_REQUEST": 2, "END_REQUEST": 3, "PARAMS": 4,
    "STDIN": 5, "STDOUT": 6, "STDERR": 7, "DATA": 8, "GET_VALUES": 9,
    "GET_VALUES_RESULT": 10, "UNKNOWN_TYPE": 11,
}
NAMES = {v: k for k, v in TYPES.items()}
TEXT_MAX = 4096


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def esc(data):
    res = []
    for b in data:
        if b == 0x5C:
            res.append("\\\\")
        elif b == 0x0D:
            res.append("\\r")
        elif b == 0x0A:
            res.append("\\n")
        elif b == 0x09:
            res.append("\\t")
        elif 0x20 <= b < 0x7F:
            res.append(chr(b))
        else:
            res.append("\\x%02x" % b)
    return "".join(res)


def nv_decode(data):
    pairs, i = [], 0
    while i < len(data):
        lens = []
        for _ in range(2):
            if i >= len(data):
                return pairs, False
            if data[i] & 0x80:
                if i + 4 > len(data):
                    return pairs, False
                lens.append(struct.unpack(">I", data[i:i + 4])[0] & 0x7FFFFFFF)
                i += 4
            else:
                lens.append(data[i])
                i += 1
        if i + lens[0] + lens[1] > len(data):
            return pairs, False
        name = data[i:i + lens[0]]
        value = data[i + lens[0]:i + lens[0] + lens[1]]
        i += lens[0] + lens[1]
        pairs.append((name.decode("latin-1"), value.decode("latin-1")))
    return pairs, True


def stream_records(rtype, reqid, data, chunk=32768):
    res = b""
    for i in range(0, len(data), chunk):
        res += record(rtype, reqid, data[i:i + chunk])
    return res + record(rtype, reqid)


def connect(addr, timeout):
    family, target = parse_address(addr)
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(target)
    s.setblocking(False)
    return s


class Failed(Exception):
    pass


class Conn:
    """One connection: its socket, the bytes not yet parsed, and the
    streams collected per request id."""

    def __init__(self, addr, timeout, verbose):
        self.sock = connect(addr, timeout)
        self.buf = b""
        self.closed = False
        self.broken = False  # a write failed: later writes are skipped
        self.verbose = verbose
        self.streams = {}   # (type, id) -> bytearray
        self.count = {}     # type -> records seen
        self.ended = {}     # id -> (app, proto)
        self.full = {}      # id -> the whole STDOUT stream so far

    def send(self, data):
        if self.closed or self.broken:
            return
        self.sock.setblocking(True)
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            self.broken = True
            out("EPIPE")
        finally:
            self.sock.setblocking(False)

    def flush_stream(self, rtype, reqid):
        data = self.streams.pop((rtype, reqid), None)
        if data is not None:
            out("%s id=%d bytes=%d text=%s" % (NAMES[rtype], reqid, len(data),
                                               esc(bytes(data[:TEXT_MAX]))))

    def flush_all(self):
        for rtype, reqid in sorted(self.streams):
            self.flush_stream(rtype, reqid)

    def parse(self):
        while len(self.buf) >= 8:
            ver, rtype, reqid, length, pad, _ = struct.unpack(
                ">BBHHBB", self.buf[:8])
            if ver != 1:
                out("BADRECORD version=%d type=%d id=%d len=%d" %
                    (ver, rtype, reqid, length))
                self.buf = b""
                raise Failed()
            if len(self.buf) < 8 + length + pad:
                return
            content = self.buf[8:8 + length]
            self.buf = self.buf[8 + length + pad:]
            self.count[rtype] = self.count.get(rtype, 0) + 1
            if self.verbose:
                out("rec %s id=%d len=%d pad=%d" %
                    (NAMES.get(rtype, str(rtype)), reqid, length, pad))
            if rtype in (TYPES["STDOUT"], TYPES["STDERR"]):
                if length == 0:
                    self.streams.setdefault((rtype, reqid), bytearray())
                    self.flush_stream(rtype, reqid)
                else:
                    self.streams.setdefault((rtype, reqid),
                                            bytearray()).extend(content)
                    if rtype == TYPES["STDOUT"]:
                        self.full.setdefault(reqid,
                                             bytearray()).extend(content)
            elif rtype == TYPES["END_REQUEST"]:
                self.flush_stream(TYPES["STDOUT"], reqid)
                self.flush_stream(TYPES["STDERR"], reqid)
                if length >= 5:
                    app, proto = struct.unpack(">IB", content[:5])
                    self.ended[reqid] = (app, proto)
                    out("END_REQUEST id=%d app=%d proto=%d" %
                        (reqid, app, proto))
                else:
                    out("END_REQUEST id=%d short=%d" % (reqid, length))
            elif rtype == TYPES["GET_VALUES_RESULT"]:
                pairs, ok = nv_decode(content)
                out("GET_VALUES_RESULT " + " ".join(
                    "%s=%s" % p for p in pairs) + ("" if ok else " MALFORMED"))
            elif rtype == TYPES["UNKNOWN_TYPE"]:
                out("UNKNOWN_TYPE type=%d" % (content[0] if content else -1))
            else:
                out("RECORD type=%d id=%d len=%d" % (rtype, reqid, length))

    def read_until(self, done, timeout):
        """Reads and prints records until done() or EOF or timeout.
        Returns "done", "eof" or "timeout"."""
        deadline = time.monotonic() + timeout
        while True:
            if done():
                return "done"
            if self.closed:
                return "eof"
            left = deadline - time.monotonic()
            if left <= 0:
                self.flush_all()
                out("TIMEOUT")
                return "timeout"
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                continue
            try:
                data = self.sock.recv(262144)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                data = b""
            if not data:
                self.closed = True
                self.flush_all()
                out("EOF")
                continue
            self.buf += data
            try:
                self.parse()
            except Failed:
                self.close()
                return "eof"

    def close(self):
        if not self.closed:
            self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass


def hexbytes(text):
    return bytes.fromhex(text) if text else b""


def type_number(text):
    return TYPES[text] if text in TYPES else int(text, 0)


def run_steps(addr, steps, params, timeout, verbose):
    conns = {}
    cur = 1
    idle = []
    status = 0

    def conn():
        if cur not in conns:
            conns[cur] = Conn(addr, timeout, verbose)
        return conns[cur]

    def params_bytes(reqid):
        return record(TYPES["PARAMS"], reqid, nv(params.items())) + \
            record(TYPES["PARAMS"], reqid)

    for step in steps:
        op, _, arg = step.partition(":")
        a = arg.split(":") if arg else []
        if op == "begin":
            role = int(a[1]) if len(a) > 1 else 1
            flags = int(a[2]) if len(a) > 2 else 0
            conn().send(record(TYPES["BEGIN_REQUEST"], int(a[0]),
                               struct.pack(">HB5x", role, flags)))
        elif op == "set":
            name, _, value = arg.partition("=")
            params[name] = value
        elif op == "unset":
            params.pop(arg, None)
        elif op == "params":
            conn().send(params_bytes(int(a[0])))
        elif op == "stdin":
            reqid, _, text = arg.partition(":")
            conn().send(stream_records(TYPES["STDIN"], int(reqid),
                                       text.encode()))
        elif op == "stdinfile":
            reqid, _, path = arg.partition(":")
            with open(path, "rb") as f:
                conn().send(stream_records(TYPES["STDIN"], int(reqid),
                                           f.read()))
        elif op == "req":
            reqid = int(a[0])
            flags = int(a[1]) if len(a) > 1 else 0
            conn().send(record(TYPES["BEGIN_REQUEST"], reqid,
                               struct.pack(">HB5x", 1, flags)) +
                        params_bytes(reqid) + record(TYPES["STDIN"], reqid))
        elif op == "bigparams":
            reqid, size = int(a[0]), int(a[1])
            sent = 0
            i = 0
            while sent < size and not conn().broken:
                chunk = nv([("X_BIG_%06d" % (i * 50 + k), "v" * 1000)
                            for k in range(50)])
                conn().send(record(TYPES["PARAMS"], reqid, chunk))
                sent += len(chunk)
                i += 1
        elif op == "save":
            reqid, _, path = arg.partition(":")
            with open(path, "wb") as f:
                f.write(bytes(conn().full.get(int(reqid), b"")))
        elif op == "abort":
            conn().send(record(TYPES["ABORT_REQUEST"], int(a[0])))
        elif op == "values":
            conn().send(record(TYPES["GET_VALUES"], 0, nv(
                [("FCGI_MAX_CONNS", ""), ("FCGI_MAX_REQS", ""),
                 ("FCGI_MPXS_CONNS", "")])))
        elif op == "mgmt":
            conn().send(record(type_number(a[0]), 0, b"\0" * 8))
        elif op == "rec":
            content = hexbytes(a[3] if len(a) > 3 else "")
            length = int(a[4], 0) if len(a) > 4 and a[4] else None
            pad = int(a[5], 0) if len(a) > 5 and a[5] else None
            conn().send(record(type_number(a[1]), int(a[2], 0), content,
                               length, pad, int(a[0], 0)))
        elif op == "hex":
            conn().send(hexbytes(arg))
        elif op == "sleep":
            time.sleep(float(arg))
        elif op == "waitfile":
            deadline = time.monotonic() + timeout
            while not (os.path.exists(arg) and os.path.getsize(arg) > 0):
                if time.monotonic() > deadline:
                    out("TIMEOUT waiting for " + arg)
                    status = 1
                    break
                time.sleep(0.02)
        elif op == "read":
            rtype = type_number(a[0])
            want = int(a[1]) if len(a) > 1 else 1
            c = conn()
            have = c.count.get(rtype, 0)
            r = c.read_until(lambda: c.count.get(rtype, 0) >= have + want,
                             timeout)
            if r != "done":
                status = 1
        elif op == "eof":
            c = conn()
            if c.read_until(lambda: False, timeout) != "eof":
                status = 1
        elif op == "close":
            if cur in conns:
                conns[cur].flush_all()
                conns[cur].close()
                del conns[cur]
        elif op == "conn":
            cur = int(arg)
            out("== conn %d" % cur)
        elif op == "idle":
            for _ in range(int(arg)):
                idle.append(connect(addr, timeout))
        elif op in ("idle-count", "idle-eof"):
            deadline = time.monotonic() + (timeout if op == "idle-eof" else 0)
            closed = set()
            while True:
                for i, s in enumerate(idle):
                    if i in closed:
                        continue
                    r, _, _ = select.select([s], [], [], 0)
                    if r:
                        try:
                            data = s.recv(4096, socket.MSG_PEEK)
                        except ConnectionResetError:
                            data = b""
                        if not data:
                            closed.add(i)
                if op == "idle-count" or len(closed) == len(idle) or \
                        time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            if op == "idle-count":
                out("IDLE-OPEN %d/%d" % (len(idle) - len(closed), len(idle)))
            else:
                out("IDLE-EOF %d/%d" % (len(closed), len(idle)))
                if len(closed) != len(idle):
                    status = 1
        else:
            sys.stderr.write("raw-fcgi.py: unknown step: %s\n" % step)
            return 2
    for c in conns.values():
        c.flush_all()
        c.close()
    for s in idle:
        s.close()
    return status


def run_repeat(addr, n, params, expect, timeout):
    ok = failed = 0
    first = None
    req = record(TYPES["BEGIN_REQUEST"], 1, struct.pack(">HB5x", 1, 0)) + \
        record(TYPES["PARAMS"], 1, nv(params.items())) + \
        record(TYPES["PARAMS"], 1) + record(TYPES["STDIN"], 1)
    for i in range(n):
        why = None
        try:
            family, target = parse_address(addr)
            s = socket.socket(family, socket.SOCK_STREAM)
            s.settimeout(timeout)
            s.connect(target)
            s.sendall(req)
            buf = b""
            stdout = b""
            end = None
            while end is None:
                data = s.recv(65536)
                if not data:
                    why = "EOF before END_REQUEST"
                    break
                buf += data
                while len(buf) >= 8 and end is None:
                    ver, rtype, _, length, pad, _ = struct.unpack(
                        ">BBHHBB", buf[:8])
                    if len(buf) < 8 + length + pad:
                        break
                    if rtype == TYPES["STDOUT"]:
                        stdout += buf[8:8 + length]
                    elif rtype == TYPES["END_REQUEST"]:
                        end = struct.unpack(">IB", buf[8:13])
                    buf = buf[8 + length + pad:]
            s.close()
            if why is None:
                if end != (0, 0):
                    why = "END_REQUEST app=%d proto=%d" % end
                elif expect.encode() not in stdout:
                    why = "STDOUT without %r: %s" % (expect, esc(stdout[:200]))
        except OSError as e:
            why = "%s" % e
        if why is None:
            ok += 1
        else:
            failed += 1
            if first is None:
                first = "request %d: %s" % (i + 1, why)
    out("repeat ok=%d failed=%d" % (ok, failed))
    if first:
        out("first failure: " + first)
    return 0 if failed == 0 else 1


def usage():
    sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
    sys.exit(2)


def main(argv):
    timeout = 5.0
    verbose = False
    params = {}
    repeat = None
    expect = "Content-Type"
    args = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-t", "-p", "--repeat", "--expect") and i + 1 >= len(argv):
            usage()
        if a == "-t":
            timeout = float(argv[i + 1])
            i += 2
        elif a == "-p":
            name, _, value = argv[i + 1].partition("=")
            params[name] = value
            i += 2
        elif a == "--repeat":
            repeat = int(argv[i + 1])
            i += 2
        elif a == "--expect":
            expect = argv[i + 1]
            i += 2
        elif a == "-v":
            verbose = True
            i += 1
        elif a.startswith("-") and not args:
            usage()
        else:
            args.append(a)
            i += 1
    if not args:
        usage()
    addr, steps = args[0], args[1:]
    if repeat is not None:
        return run_repeat(addr, repeat, params, expect, timeout)
    if not steps:
        try:
            connect(addr, timeout).close()
        except OSError as e:
            sys.stderr.write("raw-fcgi.py: %s: %s\n" % (addr, e))
            return 1
        return 0
    try:
        return run_steps(addr, steps, params, timeout, verbose)
    except OSError as e:
        sys.stderr.write("raw-fcgi.py: %s: %s\n" % (addr, e))
        out("ERROR %s" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
