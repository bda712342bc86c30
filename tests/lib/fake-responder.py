#!/usr/bin/env python3
"""A deliberately broken (or deliberately odd) FastCGI responder for tests.

usage: fake-responder.py SOCKET_PATH MODE PIDFILE

Listens on the Unix socket SOCKET_PATH, accepts connections one after
another, reads one request (BEGIN_REQUEST, PARAMS, STDIN up to its empty
record, or a GET_VALUES record; at most READ_LIMIT seconds), then answers
according to MODE:

  garbage      random bytes that are not FastCGI, then close
  truncated    a STDOUT header claiming 100 bytes, 10 of them, close
  close        a valid STDOUT record, then close without END_REQUEST
  padding      STDOUT, then END_REQUEST whose header claims 200 bytes of
               padding of which only 3 follow, then close
  silent       never answer; keep the connection open until killed
  bytewise     a valid answer sent one byte per send(), 2 ms apart
  appstatus    a valid answer with appStatus 3
  overloaded   END_REQUEST with protocolStatus OVERLOADED (2)
  unknownrole  END_REQUEST with protocolStatus UNKNOWN_ROLE (3)
  cantmpx      END_REQUEST with protocolStatus CANT_MPX_CONN (1)
  badversion   a STDOUT record whose version byte is 2
  values       GET_VALUES answered with FCGI_MAX_CONNS=10,
               FCGI_MAX_REQS=50, FCGI_MPXS_CONNS=1 (a normal request gets
               the valid answer)
  afterend     a valid answer, then a STDOUT record ("late\n") after its
               END_REQUEST
  twoends      a valid answer, then a second END_REQUEST, with appStatus 7
  otherid      STDOUT ("not yours\n") and END_REQUEST (appStatus 9) for
               request id 2, then the valid answer for the request's own id
  mutated      one of php-fpm's captured answers (CAPTURES, default
               ../captures from this file) with 1 to 8 random
               mutations, seeded by the connection's number: the Nth
               connection always gets the same bytes

Every received record is logged to stderr.  The PID is written to PIDFILE
once the socket is listening.  Standard library only.
"""

import os
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mutate_records import mutate  # noqa: E402

READ_LIMIT = 5.0

BEGIN_REQUEST, ABORT_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR, \
    DATA, GET_VALUES, GET_VALUES_RESULT, UNKNOWN_TYPE = range(1, 12)

BODY = b"Content-Type: text/plain\r\n\r\nhello\n"


def record(rtype, reqid, content=b"", padding=None, version=1):
    if padding is None:
        padding = (8 - len(content) % 8) % 8
    return struct.pack(">BBHHBB", version, rtype, reqid, len(content),
                       padding, 0) + content + b"\0" * padding


def end_request(reqid, app_status=0, protocol_status=0):
    return record(END_REQUEST, reqid,
                  struct.pack(">IB3x", app_status, protocol_status))


def nv_len(n):
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


def nv_pair(name, value):
    return nv_len(len(name)) + nv_len(len(value)) + name + value


def valid_answer(reqid, app_status=0):
    return (record(STDOUT, reqid, BODY) + record(STDOUT, reqid) +
            end_request(reqid, app_status))


def log(msg):
    sys.stderr.write("fake-responder[%d]: %s\n" % (os.getpid(), msg))
    sys.stderr.flush()


def read_request(conn):
    """Reads records until the empty STDIN record or a GET_VALUES record.
    Returns (request id, kind) where kind is 'request', 'values' or 'eof'."""
    conn.settimeout(0.2)
    deadline = time.monotonic() + READ_LIMIT
    buf = b""
    reqid = 1
    while time.monotonic() < deadline:
        while len(buf) >= 8:
            version, rtype, rid, clen, plen, _ = struct.unpack(">BBHHBB",
                                                               buf[:8])
            if len(buf) < 8 + clen + plen:
                break
            buf = buf[8 + clen + plen:]
            log("got version=%d type=%d id=%d length=%d padding=%d"
                % (version, rtype, rid, clen, plen))
            if rtype == BEGIN_REQUEST:
                reqid = rid
            elif rtype == GET_VALUES:
                return rid, "values"
            elif rtype == STDIN and clen == 0:
                return reqid, "request"
        try:
            chunk = conn.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            return reqid, "eof"
        if not chunk:
            return reqid, "eof"
        buf += chunk
    log("gave up reading the request after %.0f s" % READ_LIMIT)
    return reqid, "eof"


def captured_answers():
    import glob
    top = os.environ.get("CAPTURES") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "captures")
    return [open(f, "rb").read()
            for f in sorted(glob.glob(os.path.join(top, "phpfpm-*.out.bin")))
            if os.path.getsize(f) > 0]


COUNTER = [0]


def answer(conn, mode, reqid, kind, keep):
    if mode == "mutated":
        import random
        COUNTER[0] += 1
        rnd = random.Random(COUNTER[0])
        conn.sendall(mutate(rnd, rnd.choice(captured_answers())))
    elif mode == "garbage":
        # First byte 0xff: not version 1, whatever a reader looks at first.
        conn.sendall(b"\xff" + os.urandom(63))
    elif mode == "truncated":
        conn.sendall(struct.pack(">BBHHBB", 1, STDOUT, reqid, 100, 4, 0) +
                     b"Content-Ty")
    elif mode == "close":
        conn.sendall(record(STDOUT, reqid, BODY))
    elif mode == "padding":
        end = struct.pack(">BBHHBB", 1, END_REQUEST, reqid, 8, 200, 0) + \
            struct.pack(">IB3x", 0, 0)
        conn.sendall(record(STDOUT, reqid, BODY) + end + b"\0\0\0")
    elif mode == "silent":
        keep.append(conn)
        return False
    elif mode == "bytewise":
        for b in valid_answer(reqid):
            conn.sendall(bytes([b]))
            time.sleep(0.002)
    elif mode == "appstatus":
        conn.sendall(valid_answer(reqid, app_status=3))
    elif mode == "overloaded":
        conn.sendall(end_request(reqid, 0, 2))
    elif mode == "unknownrole":
        conn.sendall(end_request(reqid, 0, 3))
    elif mode == "cantmpx":
        conn.sendall(end_request(reqid, 0, 1))
    elif mode == "badversion":
        conn.sendall(record(STDOUT, reqid, BODY, version=2) +
                     end_request(reqid))
    elif mode == "values":
        if kind == "values":
            conn.sendall(record(GET_VALUES_RESULT, 0,
                                nv_pair(b"FCGI_MAX_CONNS", b"10") +
                                nv_pair(b"FCGI_MAX_REQS", b"50") +
                                nv_pair(b"FCGI_MPXS_CONNS", b"1")))
        else:
            conn.sendall(valid_answer(reqid))
    elif mode == "afterend":
        conn.sendall(valid_answer(reqid) + record(STDOUT, reqid, b"late\n"))
    elif mode == "twoends":
        conn.sendall(valid_answer(reqid) + end_request(reqid, 7))
    elif mode == "otherid":
        other = 2 if reqid != 2 else 3
        conn.sendall(record(STDOUT, other, b"not yours\n") +
                     end_request(other, 9) + valid_answer(reqid))
    else:
        raise SystemExit("fake-responder: unknown mode " + mode)
    return True


def main():
    if len(sys.argv) != 4:
        raise SystemExit("usage: fake-responder.py SOCKET MODE PIDFILE")
    path, mode, pidfile = sys.argv[1:]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(path):
        os.unlink(path)
    srv.bind(path)
    srv.listen(16)
    with open(pidfile + ".tmp", "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(pidfile + ".tmp", pidfile)
    log("listening on %s, mode %s" % (path, mode))
    keep = []
    while True:
        conn, _ = srv.accept()
        try:
            reqid, kind = read_request(conn)
            log("request id=%d kind=%s" % (reqid, kind))
            if kind == "eof" and mode != "silent":
                conn.close()
                continue
            if answer(conn, mode, reqid, kind, keep):
                conn.shutdown(socket.SHUT_WR)
                # Let the peer read everything before the close.
                conn.settimeout(1.0)
                try:
                    while conn.recv(65536):
                        pass
                except OSError:
                    pass
                conn.close()
        except OSError as e:
            log("connection error: %s" % e)
            conn.close()


if __name__ == "__main__":
    main()
