#!/usr/bin/env python3
"""A seeded, randomized storm of FastCGI uploads, each body checked.

usage: upload-storm.py [-t SECONDS] [--seed S] [-n N] [--max-body BYTES]
           [--script SCRIPT_FILENAME] [--mux K] [--keep] [--abort-rate P]
           [--hangup-rate P] [--slow-rate P] [--allow-overloaded] [-v]
           ADDRESS
       upload-storm.py --make-bodies DIR [--seed S] [-n N] [--max-body BYTES]
           [--slow-rate P]

ADDRESS is unix:PATH, a path containing '/', HOST:PORT or [V6]:PORT.

The first form runs N POST requests (default 100) at once, on as many
connections as the plan below makes, each connection in a thread of its
own, and checks every answer.  The CGI (SCRIPT_FILENAME, default
./sum.cgi made absolute; DOCUMENT_ROOT is its directory and SCRIPT_NAME
/its-name) must read its standard input to EOF and answer
"bytes=N fnv=HEX" (N bytes read, HEX their FNV-1a 64, 16 digits) after
its header block, with exit status 0; QUERY_STRING may ask it for
"sleep=MS" before reading, or "delay=MICROSECONDS" between reads of at
most 16 KiB (see tests/serve-storm.bats).

Everything random comes from random.Random(S) (--seed, default 1): the
plan (connections, groups, request ids, sizes, queries, record sizes and
paddings, the order of records, pauses, aborts and hang-ups) is drawn
before anything is sent, so the same seed replays the same storm up to
the timing of the server.

  -n N               requests (default 100)
  --max-body BYTES   body sizes from 0 to BYTES (default 1048576), biased
                     to small ones, with the edge sizes 0, 1, 65528,
                     65529, 65535, 65536, 131072, BYTES itself, and a few
                     whole MiB when BYTES allows
  --mux K            up to K requests at once on a connection, with
                     distinct request ids and FCGI_KEEP_CONN, their
                     BEGIN_REQUEST, PARAMS and STDIN records interleaved
                     in random order (default 1)
  --keep             some connections carry several such groups, one
                     after another, with FCGI_KEEP_CONN
  --abort-rate P     that fraction of the requests get FCGI_ABORT_REQUEST
                     at a random point after their BEGIN_REQUEST (and
                     nothing after it); for them only an END_REQUEST is
                     required (default 0)
  --hangup-rate P    that fraction of the connections are closed by the
                     client at a random point, sometimes inside a record;
                     their requests are not checked (default 0)
  --slow-rate P      that fraction of the requests ask for a slow CGI:
                     half sleep=50, half delay=2000 (default 0.3)
  --allow-overloaded FCGI_OVERLOADED is not a failure (it is by default)
  -t SECONDS         the whole storm's deadline (default 120): what has not
                     ended by then is printed as MISSING and the exit
                     status is 1
  -v                 one line per request on standard error as it ends

Bodies are random bytes, sent as FCGI_STDIN records of 1 to 65535 bytes
(mostly 65535, mixed with small odd sizes), with random padding of up to
255 bytes now and then, then the empty record; some requests pause for a
few milliseconds between records, so that some bodies arrive while their
request waits for a CGI slot and some after the CGI started.

A request that was neither aborted nor hung up passes when its
END_REQUEST has protocolStatus 0 and appStatus 0, its STDOUT starts with
a header block whose Status is absent or 200, and the body after it is
exactly "bytes=N fnv=HEX\\n" for what was sent.  Output:

  FAIL seed=S req=I conn=C id=ID size=N query=Q: WHAT: expected E, got G
  MISSING seed=S req=I conn=C id=ID ...    no END_REQUEST by the deadline
  storm seed=S requests=N ok=A aborted=B hungup=C failed=F bytes=TOTAL overloaded=O

(bytes: body bytes sent in all).  Exit status 0 only when failed=0 and
every checked request ended; 1 otherwise; 2 for usage errors.

--make-bodies DIR writes N body files DIR/body-I (I from 1) with sizes and
contents drawn the same way, and prints one line per file:
"body-I SIZE FNVHEX QUERY" (QUERY may be "-" for none), for a test that
sends them through a web server.

Standard library only.
"""

import argparse
import multiprocessing
import os
import random
import select
import socket
import struct
import sys
import threading
import time

from fcgi_wire import nv, parse_address, record

BEGIN_REQUEST, ABORT_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR = \
    1, 2, 3, 4, 5, 6, 7
NAMES = {1: "BEGIN_REQUEST", 2: "ABORT_REQUEST", 3: "END_REQUEST",
         4: "PARAMS", 5: "STDIN", 6: "STDOUT", 7: "STDERR", 8: "DATA",
         9: "GET_VALUES", 10: "GET_VALUES_RESULT", 11: "UNKNOWN_TYPE"}
PROTO = {0: "REQUEST_COMPLETE", 1: "CANT_MPX_CONN", 2: "OVERLOADED",
         3: "UNKNOWN_ROLE"}
FCGI_KEEP_CONN = 1
MAX_CONTENT = 65535

FNV_OFFSET = 0xcbf29ce484222325
FNV_PRIME = 0x100000001b3
MASK64 = (1 << 64) - 1

EDGES = (0, 1, 65528, 65529, 65535, 65536, 131072)
MIB = 1 << 20

SEED = None     # for messages


def fnv1a64(data):
    h, p, m = FNV_OFFSET, FNV_PRIME, MASK64
    for b in data:
        h = ((h ^ b) * p) & m
    return h


def body_bytes(body_seed, size):
    return random.Random(body_seed).randbytes(size)


def body_fnv(args):
    body_seed, size = args
    return fnv1a64(body_bytes(body_seed, size))


def fnv_all(pairs):
    """FNV-1a 64 of each (body_seed, size), on every processor."""
    if sum(s for _, s in pairs) < 4 * MIB or (os.cpu_count() or 1) < 2:
        return [body_fnv(p) for p in pairs]
    try:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(os.cpu_count()) as pool:
            return pool.map(body_fnv, pairs, chunksize=1)
    except (OSError, ValueError):
        return [body_fnv(p) for p in pairs]


def draw_size(rng, max_body):
    r = rng.random()
    edges = [e for e in EDGES + (max_body,) if e <= max_body]
    mibs = [m for m in (MIB, 2 * MIB, 2 * MIB + 4097, 3 * MIB)
            if m <= max_body]
    if r < 0.15:
        return rng.choice(edges)
    if r < 0.19 and mibs:
        return rng.choice(mibs)
    if r < 0.25:
        return rng.randint(max_body // 2, max_body)
    # Log-uniform from 0 to 256 KiB (or max_body): mostly small.
    top = min(max_body, 262144)
    return min(top, int((top + 1) ** rng.random()) - 1)


def draw_query(rng, slow_rate):
    r = rng.random()
    if r < slow_rate / 2:
        return "sleep=50"
    if r < slow_rate:
        return "delay=2000"
    return ""


# ------------------------------------------------------------------ plan

class Req:
    """One request: its plan, then what came back."""

    def __init__(self, idx, conn, reqid, size, query, keep):
        self.idx = idx
        self.conn = conn
        self.reqid = reqid
        self.size = size
        self.query = query
        self.keep = keep
        self.body_seed = None
        self.params = []        # contents of the non-empty PARAMS records
        self.chunks = []        # (STDIN content length, padding)
        self.pauses = {}        # record index -> seconds, before it
        self.abort_after = None  # records sent before ABORT_REQUEST
        self.hungup = False
        # Outcome
        self.sent = 0           # body bytes sent
        self.end = None         # (appStatus, protocolStatus)
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.stdout_ended = False
        self.errors = []        # protocol faults seen on its id
        self.note = None        # why it cannot have ended (EOF, ...)

    def nrecords(self):
        # BEGIN, the PARAMS records and their end, the STDIN ones and theirs
        return 1 + len(self.params) + 1 + len(self.chunks) + 1

    def label(self):
        return "seed=%s req=%d conn=%d id=%d size=%d query=%s" % (
            SEED, self.idx, self.conn.num, self.reqid, self.size,
            self.query or "-")


class Conn:
    def __init__(self, num):
        self.num = num
        self.groups = []        # lists of Req, sent one group after another
        self.seed = None        # for the order of records
        self.start_delay = 0.0
        self.hangup = None      # (group, records sent, partial bytes) or None
        self.errors = []        # faults not tied to a request
        self.done = False
        self.late = False       # the deadline came first


def plan_params(rng, req, script):
    root = os.path.dirname(script) or "/"
    name = "/" + os.path.basename(script)
    pairs = [
        ("GATEWAY_INTERFACE", "CGI/1.1"),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("REQUEST_METHOD", "POST"),
        ("SCRIPT_FILENAME", script),
        ("DOCUMENT_ROOT", root),
        ("SCRIPT_NAME", name),
        ("REQUEST_URI", name + ("?" + req.query if req.query else "")),
        ("QUERY_STRING", req.query),
        ("CONTENT_TYPE", "application/octet-stream"),
        ("CONTENT_LENGTH", str(req.size)),
        ("SERVER_NAME", "localhost"),
        ("SERVER_PORT", "80"),
        ("REMOTE_ADDR", "127.0.0.1"),
        ("HTTP_X_STORM", "seed=%s req=%d" % (SEED, req.idx)),
    ]
    if rng.random() < 0.3:
        pairs.append(("HTTP_X_FILLER", "f" * rng.randint(100, 3000)))
    rng.shuffle(pairs)
    data = nv(pairs)
    # One to three PARAMS records, cut anywhere (a pair may straddle two).
    # Drawn as fractions, and as many records whatever the length, so that
    # the plan does not depend on the length of the script's path.
    cuts = []
    for f in sorted(rng.random() for _ in range(rng.randint(0, 2))):
        cuts.append(max(int(f * (len(data) - 2)) + 1,
                        cuts[-1] + 1 if cuts else 1))
    prev = 0
    for c in cuts + [len(data)]:
        req.params.append(data[prev:c])
        prev = c


def plan_chunks(rng, req):
    left = req.size
    while left > 0:
        r = rng.random()
        if r < 0.6:
            n = MAX_CONTENT
        elif r < 0.85:
            n = rng.randint(0, 2047) * 2 + 1     # small, odd
        else:
            n = rng.randint(1, MAX_CONTENT)
        n = min(n, left)
        pad = rng.randint(0, 255) if rng.random() < 0.2 else None
        req.chunks.append((n, pad))
        left -= n


def make_plan(opts):
    rng = random.Random(opts.seed)
    reqs, conns = [], []
    idx = 0
    while idx < opts.n:
        conn = Conn(len(conns) + 1)
        conns.append(conn)
        ngroups = 1
        if opts.keep and rng.random() < 0.5:
            ngroups = rng.randint(2, 4)
        for g in range(ngroups):
            if idx >= opts.n:
                break
            size = 1
            if opts.mux > 1 and rng.random() < 0.7:
                size = rng.randint(2, opts.mux)
            size = min(size, opts.n - idx)
            last = g == ngroups - 1 or idx + size >= opts.n
            ids = rng.sample(range(1, 65536), size) if rng.random() < 0.5 \
                else list(range(1, size + 1))
            group = []
            for k in range(size):
                idx += 1
                # Without KEEP_CONN only for a request alone in the last
                # group: serve closes the connection once it has ended.
                keep = not (last and size == 1 and rng.random() < 0.5)
                req = Req(idx, conn, ids[k], draw_size(rng, opts.max_body),
                          draw_query(rng, opts.slow_rate), keep)
                req.body_seed = rng.getrandbits(64)
                plan_params(rng, req, opts.script)
                plan_chunks(rng, req)
                if rng.random() < 0.3:
                    for i in range(req.nrecords()):
                        if rng.random() < 0.3:
                            req.pauses[i] = rng.uniform(0.001, 0.02)
                if rng.random() < opts.abort_rate:
                    req.abort_after = rng.randint(1, req.nrecords())
                group.append(req)
                reqs.append(req)
            conn.groups.append(group)
        conn.seed = rng.getrandbits(64)
        conn.start_delay = rng.uniform(0, 0.05)
        if rng.random() < opts.hangup_rate:
            g = rng.randrange(len(conn.groups))
            total = sum(min(r.nrecords(), (r.abort_after or 10**9) + 1)
                        for r in conn.groups[g])
            conn.hangup = (g, rng.randint(0, total),
                           rng.randint(1, 7) if rng.random() < 0.3 else 0)
    return reqs, conns


# ------------------------------------------------------------------ run

def req_records(req):
    """Yields (pause, record, body bytes in it) for req's records in
    order, cut by its ABORT_REQUEST if it has one."""
    flags = FCGI_KEEP_CONN if req.keep else 0

    def records():
        yield record(BEGIN_REQUEST, req.reqid,
                     struct.pack(">HB5x", 1, flags)), 0
        for p in req.params:
            yield record(PARAMS, req.reqid, p), 0
        yield record(PARAMS, req.reqid), 0
        # Made only now, so that a body lives only while it is sent.
        view = memoryview(body_bytes(req.body_seed, req.size))
        off = 0
        for n, pad in req.chunks:
            yield record(STDIN, req.reqid, view[off:off + n], padding=pad), n
            off += n
        yield record(STDIN, req.reqid), 0

    for i, (data, n) in enumerate(records()):
        if i == req.abort_after:
            yield 0.0, record(ABORT_REQUEST, req.reqid), 0
            return
        yield req.pauses.get(i, 0.0), data, n
    if req.abort_after == req.nrecords():
        yield 0.0, record(ABORT_REQUEST, req.reqid), 0


def interleave(rng, group):
    """(req, pause, record, body bytes) for the records of the group's
    requests, each request's in its order, the requests taken in random
    order."""
    gens = [(req, req_records(req)) for req in group]
    while gens:
        k = rng.randrange(len(gens))
        req, gen = gens[k]
        try:
            pause, data, n = next(gen)
        except StopIteration:
            gens.pop(k)
            continue
        yield req, pause, data, n


class Deadline(Exception):
    pass


class Link:
    """The socket of one connection and the records read from it."""

    def __init__(self, conn, addr, deadline):
        self.conn = conn
        self.deadline = deadline
        family, target = parse_address(addr)
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        for attempt in range(100):
            try:
                self.sock.connect(target)
                break
            except BlockingIOError:     # a full Unix listen queue
                if attempt == 99 or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.sock.setblocking(False)
        self.rbuf = bytearray()
        self.eof = False
        self.broken = None      # why writing failed
        self.active = {}        # id -> Req waiting for its END_REQUEST
        self.ended_ids = {}     # id -> Req that ended (latest)

    def fault(self, what):
        self.conn.errors.append(what)

    def parse(self):
        buf = self.rbuf
        pos = 0
        while len(buf) - pos >= 8:
            ver, rtype, reqid, length, pad, _ = struct.unpack_from(
                ">BBHHBB", buf, pos)
            if ver != 1:
                self.fault("record with version %d (type %d id %d)" %
                           (ver, rtype, reqid))
                self.eof = True
                break
            if len(buf) - pos < 8 + length + pad:
                break
            content = bytes(buf[pos + 8:pos + 8 + length])
            pos += 8 + length + pad
            self.on_record(rtype, reqid, content)
        del buf[:pos]

    def on_record(self, rtype, reqid, content):
        req = self.active.get(reqid)
        if req is None:
            late = self.ended_ids.get(reqid)
            what = "%s id=%d len=%d for an id not in use" % (
                NAMES.get(rtype, str(rtype)), reqid, len(content))
            if late is not None:
                late.errors.append(what + " (after its END_REQUEST)")
            else:
                self.fault(what)
            return
        if rtype == STDOUT:
            if req.stdout_ended:
                req.errors.append("STDOUT after its empty record")
            if content:
                req.stdout.extend(content)
            else:
                req.stdout_ended = True
        elif rtype == STDERR:
            req.stderr.extend(content)
        elif rtype == END_REQUEST:
            if len(content) < 8:
                req.errors.append("END_REQUEST of %d bytes" % len(content))
            app, proto = struct.unpack(">IB", content[:5].ljust(5, b"\0"))
            req.end = (app, proto)
            del self.active[reqid]
            self.ended_ids[reqid] = req
        else:
            req.errors.append("unexpected %s len=%d" % (
                NAMES.get(rtype, str(rtype)), len(content)))

    def pump(self, out, timeout):
        """Waits at most timeout for input (read and parsed) and, when out
        is not empty, for room to send some of it.  Returns how many bytes
        of out were sent."""
        if time.monotonic() > self.deadline:
            raise Deadline()
        rl = [] if self.eof else [self.sock]
        wl = [self.sock] if out and self.broken is None else []
        if not rl and not wl:
            time.sleep(timeout)
            return 0
        r, w, _ = select.select(rl, wl, [], timeout)
        sent = 0
        if w:
            try:
                sent = self.sock.send(out)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as e:
                self.broken = "sending: %s" % e.strerror
        if r:
            try:
                data = self.sock.recv(262144)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError as e:
                data = b""
                self.broken = self.broken or "receiving: %s" % e.strerror
            if data == b"":
                self.eof = True
            elif data:
                self.rbuf += data
                self.parse()
        return sent

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def run_conn(conn, addr, deadline, verbose):
    rng = random.Random(conn.seed)
    time.sleep(conn.start_delay)
    try:
        link = Link(conn, addr, deadline)
    except OSError as e:
        for group in conn.groups:
            for req in group:
                req.note = "connect failed: %s" % e
        conn.done = True
        return
    try:
        for g, group in enumerate(conn.groups):
            hang = conn.hangup if conn.hangup and conn.hangup[0] == g \
                else None
            if not run_group(link, rng, group, hang, verbose):
                for later in conn.groups[g + 1:]:
                    for req in later:
                        if req.note is None:
                            req.note = "not sent: the connection was gone"
                break
        else:
            # Without KEEP_CONN the server closes the connection once the
            # request has ended (and its STDIN has all come).
            last = conn.groups[-1]
            if len(last) == 1 and not last[0].keep and \
                    last[0].abort_after is None and last[0].end is not None:
                until = time.monotonic() + 5
                while not link.eof and time.monotonic() < until:
                    link.pump(b"", 0.1)
                if not link.eof:
                    last[0].errors.append(
                        "connection still open 5 s after END_REQUEST "
                        "without FCGI_KEEP_CONN")
    except Deadline:
        conn.late = True
    finally:
        link.close()
        conn.done = True


def run_group(link, rng, group, hang, verbose):
    """Sends the group's records, interleaved, while reading; then reads
    until every request of the group has ended.  Returns False when the
    connection is gone (hung up by us, or closed or broken)."""
    for req in group:
        link.active[req.reqid] = req
        link.ended_ids.pop(req.reqid, None)
    records = interleave(rng, group)
    count = 0
    out = b""
    out_req, out_n = None, 0
    pause_until = 0.0
    while True:
        now = time.monotonic()
        if link.eof or link.broken:
            break
        if not out and records is not None and now >= pause_until:
            if hang is not None and count == hang[1]:
                return hang_up(link, records, hang, count, verbose)
            try:
                req, pause, data, n = next(records)
            except StopIteration:
                records = None
                continue
            count += 1
            out, out_req, out_n = memoryview(data), req, n
            if pause > 0:
                pause_until = now + pause
            continue
        if records is None and not out:
            if hang is not None:
                return hang_up(link, None, hang, count, verbose)
            if not link.active:
                return True
        if out and now < pause_until:
            wait, send = min(0.05, pause_until - now), b""
        else:
            wait, send = 0.05, out
        sent = link.pump(send, wait)
        if sent:
            out = out[sent:]
            if not out:
                out_req.sent += out_n
                out_req = None
    # Closed by the server, or a write failed: what can still be read is.
    until = time.monotonic() + 2
    while not link.eof and link.active and time.monotonic() < until:
        link.pump(b"", 0.05)
    why = link.broken or "EOF from the server"
    if records is not None or out:
        why += " (before all of the group's records were sent)"
    for req in group:
        if req.end is None and req.note is None:
            req.note = why
    return False


def hang_up(link, records, hang, count, verbose):
    """Closes the connection, perhaps after a few bytes of the next
    record; none of its requests is checked."""
    if hang[2] and records is not None:
        try:
            _, _, data, _ = next(records)
            link.sock.setblocking(True)
            link.sock.settimeout(2)
            link.sock.sendall(bytes(data[:hang[2]]))
        except (StopIteration, OSError):
            pass
    for group in link.conn.groups:
        for req in group:
            req.hungup = True
    if verbose:
        sys.stderr.write("conn %d: hung up after %d records of group %d\n" %
                         (link.conn.num, count, hang[0] + 1))
    return False


# ----------------------------------------------------------------- check

def split_head(data):
    for sep in (b"\r\n\r\n", b"\n\n"):
        i = data.find(sep)
        if i != -1:
            j = data.find(b"\n\n")
            if sep == b"\r\n\r\n" and j != -1 and j < i:
                return data[:j], data[j + 2:]
            return data[:i], data[i + len(sep):]
    return None, data


def show(data, limit=200):
    text = bytes(data[:limit]).decode("latin-1")
    text = text.encode("unicode_escape").decode("ascii")
    return repr(text + ("..." if len(data) > limit else ""))


def check(req, want_fnv, opts):
    """Returns None when req passed, else what went wrong."""
    if req.errors:
        return "protocol: %s" % "; ".join(req.errors)
    if req.end is None:
        return "no END_REQUEST: expected one, got %s" % (
            req.note or "none (deadline)")
    app, proto = req.end
    if proto != 0:
        return "protocolStatus: expected 0 (REQUEST_COMPLETE), got %d (%s)" \
            % (proto, PROTO.get(proto, "?"))
    if app != 0:
        return "appStatus: expected 0, got %d; STDOUT %s STDERR %s" % (
            app, show(req.stdout), show(req.stderr))
    head, body = split_head(bytes(req.stdout))
    if head is None:
        return "STDOUT: expected a header block, got %s" % show(req.stdout)
    status = None
    for line in head.replace(b"\r\n", b"\n").split(b"\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"status":
            status = value.strip().decode("latin-1")
    if status is not None and not status.startswith("200"):
        return "Status: expected 200 or none, got %r; body %s; STDERR %s" % (
            status, show(body), show(req.stderr))
    want = ("bytes=%d fnv=%016x\n" % (req.size, want_fnv)).encode()
    if body != want:
        return "body: expected %s, got %s (sent %d bytes)" % (
            show(want), show(body), req.sent)
    return None


def storm(opts):
    reqs, conns = make_plan(opts)
    deadline = time.monotonic() + opts.t
    threads = []
    for conn in conns:
        th = threading.Thread(target=run_conn,
                              args=(conn, opts.address, deadline, opts.v),
                              daemon=True)
        th.start()
        threads.append(th)
    for th in threads:
        th.join(max(0.0, deadline - time.monotonic()) + 0.5)
    late = [c for c in conns if not c.done or c.late]
    # A snapshot: threads past the deadline are left behind.
    checked = [r for r in reqs if not r.hungup and r.abort_after is None]
    fnvs = fnv_all([(r.body_seed, r.size) for r in checked])
    want = {r.idx: h for r, h in zip(checked, fnvs)}
    ok = aborted = hungup = failed = overloaded = 0
    lines = []
    for req in reqs:
        if req.hungup:
            hungup += 1
            continue
        if req.end is None and (req.conn.late or not req.conn.done):
            failed += 1
            lines.append("MISSING %s: no END_REQUEST by the deadline (-t %g), "
                         "sent %d of %d body bytes, STDOUT so far %s" % (
                             req.label(), opts.t, req.sent, req.size,
                             show(req.stdout)))
            continue
        if req.abort_after is not None:
            aborted += 1
            if req.errors:
                failed += 1
                lines.append("FAIL %s (aborted): protocol: %s" % (
                    req.label(), "; ".join(req.errors)))
            elif req.end is None:
                failed += 1
                lines.append("FAIL %s (aborted after %d records): no "
                             "END_REQUEST: expected one, got %s" % (
                                 req.label(), req.abort_after,
                                 req.note or "none"))
            continue
        if req.end is not None and req.end[1] == 2 and not req.errors:
            overloaded += 1
            if opts.allow_overloaded:
                continue
        why = check(req, want[req.idx], opts)
        if why is None:
            ok += 1
            if opts.v:
                sys.stderr.write("ok %s\n" % req.label())
        else:
            failed += 1
            lines.append("FAIL %s: %s" % (req.label(), why))
    for conn in conns:
        for e in conn.errors:
            failed += 1
            lines.append("FAIL seed=%s conn=%d: %s" % (SEED, conn.num, e))
    for line in lines:
        print(line)
    total = sum(r.sent for r in reqs)
    print("storm seed=%s requests=%d ok=%d aborted=%d hungup=%d failed=%d "
          "bytes=%d overloaded=%d" % (SEED, len(reqs), ok, aborted, hungup,
                                      failed, total, overloaded))
    if late:
        print("storm seed=%s: %d of %d connections not finished by the "
              "deadline" % (SEED, len(late), len(conns)))
    sys.stdout.flush()
    return 0 if failed == 0 and not late else 1


def make_bodies(opts):
    rng = random.Random(opts.seed)
    os.makedirs(opts.make_bodies, exist_ok=True)
    plan = []
    for i in range(1, opts.n + 1):
        size = draw_size(rng, opts.max_body)
        query = draw_query(rng, opts.slow_rate)
        plan.append(("body-%d" % i, size, rng.getrandbits(64), query))
    for name, size, body_seed, _ in plan:
        with open(os.path.join(opts.make_bodies, name), "wb") as f:
            f.write(body_bytes(body_seed, size))
    fnvs = fnv_all([(p[2], p[1]) for p in plan])
    for (name, size, _, query), h in zip(plan, fnvs):
        print("%s %d %016x %s" % (name, size, h, query or "-"))
    return 0


def main(argv):
    global SEED
    ap = argparse.ArgumentParser(
        prog="upload-storm.py", add_help=True,
        usage=__doc__.split("\n\n")[1][len("usage: "):])
    ap.add_argument("address", nargs="?")
    ap.add_argument("--seed", default="1")
    ap.add_argument("-n", type=int, default=100)
    ap.add_argument("--max-body", type=int, default=MIB)
    ap.add_argument("--script", default="sum.cgi")
    ap.add_argument("--mux", type=int, default=1)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--abort-rate", type=float, default=0.0)
    ap.add_argument("--hangup-rate", type=float, default=0.0)
    ap.add_argument("--slow-rate", type=float, default=0.3)
    ap.add_argument("--allow-overloaded", action="store_true")
    ap.add_argument("--make-bodies", metavar="DIR")
    ap.add_argument("-t", type=float, default=120.0)
    ap.add_argument("-v", action="store_true")
    try:
        opts = ap.parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    # An integer seed is used as an integer; anything else as a string.
    try:
        opts.seed = int(opts.seed, 0)
    except ValueError:
        pass
    SEED = opts.seed
    if opts.n < 0 or opts.max_body < 0 or opts.mux < 1 or \
            opts.mux > 65535 or opts.t <= 0:
        ap.print_usage(sys.stderr)
        return 2
    if opts.make_bodies:
        return make_bodies(opts)
    if not opts.address:
        ap.print_usage(sys.stderr)
        return 2
    opts.script = os.path.abspath(opts.script)
    return storm(opts)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
