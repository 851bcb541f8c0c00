#!/usr/bin/env python3
"""A forkpool client for the tests, speaking the protocol of doc/PROTOCOL.md.

  fpclient.py SOCK submit N [--keys K] [--ms M] [--handler fnv|echo|sleep]
                          [--high I] [--quit-after R]
  fpclient.py SOCK status text|json|prometheus
  fpclient.py SOCK control COMMAND
  fpclient.py SOCK garbage
  fpclient.py SOCK raw HEX [FRAMES]
  fpclient.py SOCK storm N [--uid U | --stopped PID]
  fpclient.py SOCK flood N SIZE
  fpclient.py SOCK nonreader N SIZE GOFILE

submit pipelines N jobs (payload "k<i mod K> <i>" plus " M" with --ms),
keyed by "k<i mod K>" when --keys is given, and reads every result.  It
checks each result against the handler, that no id comes back twice or
unasked, and (keyed) that each key's results come in submission order.
It prints "results N wrong W duplicates D order O" and the id order of
results as "first-ids ..." and exits 0 only when all is well.

raw sends the bytes given in hex after the HELLO, then prints what comes
back, one frame a line ("error: WHY", "result ID STATUS", ...), until the
supervisor closes ("closed") or FRAMES frames have come ("open").  storm
connects N times, each connection reset at once (SO_LINGER 0), without
reading the HELLO; with --uid it first becomes that user (and group, with
no other groups), which takes root.  With --stopped PID each connection is
gone before it is accepted: they come in batches of 100 while the
supervisor PID is stopped (SIGSTOP), and after each batch the supervisor
goes on and one more connection waits for its first frame (a HELLO, or an
ERROR if too many are open), which comes once the batch, before it in the
backlog, has been taken.  These stay open, and quiet, to the end.  flood sends N SUBMITs of SIZE bytes
each and never reads: it prints "sent J jobs" when the supervisor stopped
taking them (a 3-second send timeout), or "sent all".

nonreader sends N SUBMITs of SIZE bytes each (the payload ends in its id)
and reads nothing until the file GOFILE exists: it prints "stalled after J
jobs" once its sending has made no progress for a second (or "sent all"),
then waits for GOFILE, then reads every result while it sends the rest.
It prints "results N wrong W duplicates D" and exits 0 only when every
job came back once, whole, with status 0 (handlers echo and sleep).
"""
import os
import signal
import threading
import time
import socket
import struct
import sys

HELLO, RESULT, ERROR, SUBMIT, STATUS, CONTROL = 1, 3, 4, 0x10, 0x11, 0x12
F_HIGH, F_KEYED = 1, 2


def frame(t, payload=b'', key=b'', flags=0, aux=0, arg=0, ident=0):
    body = (struct.pack('>I', len(key)) + key +
            struct.pack('>I', len(payload)) + payload)
    return (b'FP\x01' + bytes([t]) +
            struct.pack('>HHIIQ', flags, aux, arg, len(body), ident) + body)


class Link:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.buf = b''

    def read(self):
        while True:
            if len(self.buf) >= 24:
                if self.buf[:3] != b'FP\x01':
                    raise SystemExit('bad frame from the server')
                blen = struct.unpack('>I', self.buf[12:16])[0]
                if len(self.buf) >= 24 + blen:
                    h, b = self.buf[:24], self.buf[24:24 + blen]
                    self.buf = self.buf[24 + blen:]
                    kl = struct.unpack('>I', b[:4])[0]
                    pl = struct.unpack('>I', b[4 + kl:8 + kl])[0]
                    flags, aux, arg, _, ident = struct.unpack('>HHIIQ', h[4:])
                    return h[3], aux, arg, ident, b[8 + kl:8 + kl + pl]
            d = self.s.recv(1 << 16)
            if not d:
                return None
            self.buf += d


def fnv(data):
    h = 0xcbf29ce484222325
    for c in data:
        h = ((h ^ c) * 0x100000001b3) & 0xffffffffffffffff
    return b'%016x' % h


def hello(link):
    f = link.read()
    if f is None:
        raise SystemExit('closed before HELLO')
    if f[0] == ERROR:
        print('refused: ' + f[4].decode())
        raise SystemExit(3)
    if f[0] != HELLO:
        raise SystemExit('expected HELLO')


class Tally:
    """The results of jobs, checked: wrong ones (an id not asked, a status
    not 0, a result not the one wanted) and duplicates."""

    def __init__(self, want):
        self.want = want        # id -> the result it must carry
        self.seen, self.wrong, self.dup = set(), 0, 0

    def take(self, f):
        """Counts frame f; returns its id if it answers a job, else None."""
        t, status, _, ident, payload = f
        if t != RESULT or ident not in self.want:
            self.wrong += 1
            return None
        if ident in self.seen:
            self.dup += 1
        self.seen.add(ident)
        if status != 0 or payload != self.want[ident]:
            self.wrong += 1
        return ident


def submit(link, argv):
    n = int(argv[0])
    opt = dict(zip(argv[1::2], argv[2::2]))
    keys = int(opt.get('--keys', 0))
    ms = opt.get('--ms')
    handler = opt.get('--handler', 'fnv')
    high = int(opt.get('--high', -1))
    quit_after = int(opt.get('--quit-after', -1))
    jobs = {}
    out = []
    for i in range(n):
        key = b'k%d' % (i % keys) if keys else b''
        payload = b'k%d %d' % (i % (keys or 1000), i)
        if ms is not None:
            payload += b' ' + ms.encode()
        flags = (F_KEYED if keys else 0) | (F_HIGH if i == high else 0)
        jobs[i + 1] = (key, payload)
        out.append(frame(SUBMIT, payload, key, flags, ident=i + 1))
    link.s.sendall(b''.join(out))
    tally = Tally({i: fnv(job) if handler == 'fnv' else job
                   for i, (_, job) in jobs.items()})
    order, ids, last = 0, [], {}
    while len(tally.seen) < n:
        if len(tally.seen) == quit_after:
            link.s.close()
            print('quit after %d results' % quit_after)
            return 0
        f = link.read()
        if f is None:
            break
        ident = tally.take(f)
        if ident is None:
            continue
        ids.append(ident)
        key = jobs[ident][0]
        if keys:
            if last.get(key, 0) > ident:
                order += 1
            last[key] = ident
    print('results %d wrong %d duplicates %d order %d' %
          (len(tally.seen), tally.wrong, tally.dup, order))
    print('first-ids ' + ' '.join(str(i) for i in ids[:10]))
    return 0 if (len(tally.seen) == n and
                 tally.wrong == tally.dup == order == 0) else 1


def raw(link, data, frames):
    link.s.sendall(data)
    names = {HELLO: 'hello', RESULT: 'result', STATUS: 'status'}
    while frames != 0:
        try:
            f = link.read()
        except ConnectionResetError:
            f = None
        if f is None:
            print('closed')
            return 0
        t, aux, arg, ident, payload = f
        if t == ERROR:
            print('error: ' + payload.decode())
        else:
            print('%s %d %d' % (names.get(t, 'type-%d' % t), ident, aux))
        frames -= 1
    print('open')
    return 0


def storm(path, n, uid=None, stopped=None):
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    linger = struct.pack('ii', 1, 0)
    probes = []
    for i in range(n):
        if stopped is not None and i % 100 == 0:
            os.kill(stopped, signal.SIGSTOP)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        s.close()
        if stopped is not None and (i % 100 == 99 or i == n - 1):
            os.kill(stopped, signal.SIGCONT)
            probes.append(Link(path))
            probes[-1].read()
    for probe in probes:
        probe.s.close()
    print('%d connections reset' % n)
    return 0


def flood(link, n, size):
    link.s.settimeout(3)
    payload = b'x' * size
    for i in range(n):
        try:
            link.s.sendall(frame(SUBMIT, payload, ident=i + 1))
        except socket.timeout:
            print('sent %d jobs' % i)
            return 0
    print('sent all')
    return 0


def nonreader(link, n, size, gofile):
    jobs = {}
    data = []
    for i in range(1, n + 1):
        payload = (b'x' * size + b' %d' % i)[-size:]
        jobs[i] = payload
        data.append(frame(SUBMIT, payload, ident=i))
    data = b''.join(data)
    sent = [0]

    def send():
        view = memoryview(data)
        while sent[0] < len(data):
            sent[0] += link.s.send(view[sent[0]:sent[0] + (1 << 16)])
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    last = -1
    while sent[0] < len(data) and sent[0] != last:
        last = sent[0]
        time.sleep(1)
    if sent[0] < len(data):
        print('stalled after %d jobs' % (sent[0] // (len(data) // n)),
              flush=True)
    else:
        print('sent all', flush=True)
    while not os.path.exists(gofile):
        time.sleep(0.05)
    tally = Tally(jobs)
    while len(tally.seen) < n:
        f = link.read()
        if f is None:
            break
        tally.take(f)
    sender.join()
    print('results %d wrong %d duplicates %d' %
          (len(tally.seen), tally.wrong, tally.dup))
    return 0 if (len(tally.seen) == n and tally.wrong == tally.dup == 0) \
        else 1


def main():
    path, cmd, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
    if cmd == 'storm':
        opt = dict(zip(argv[1::2], argv[2::2]))
        uid, stopped = opt.get('--uid'), opt.get('--stopped')
        return storm(path, int(argv[0]), uid and int(uid),
                     stopped and int(stopped))
    link = Link(path)
    if cmd == 'garbage':
        hello(link)
        link.s.sendall(b'GARBAGE!' * 4)
        f = link.read()
        print('error: ' + f[4].decode() if f and f[0] == ERROR else 'none')
        print('closed' if link.read() is None else 'open')
        return 0
    hello(link)
    if cmd == 'raw':
        return raw(link, bytes.fromhex(argv[0]),
                   int(argv[1]) if len(argv) > 1 else -1)
    if cmd == 'flood':
        return flood(link, int(argv[0]), int(argv[1]))
    if cmd == 'nonreader':
        return nonreader(link, int(argv[0]), int(argv[1]), argv[2])
    if cmd == 'submit':
        return submit(link, argv)
    if cmd == 'status':
        fmt = {'text': 0, 'json': 1, 'prometheus': 2}[argv[0]]
        link.s.sendall(frame(STATUS, aux=fmt, ident=7))
        f = link.read()
        sys.stdout.write(f[4].decode())
        return 0 if f[0] == STATUS else 1
    if cmd == 'control':
        link.s.sendall(frame(CONTROL, argv[0].encode(), ident=8))
        f = link.read()
        print(f[4].decode())
        return 0 if f[1] == 0 else 1
    raise SystemExit('unknown command ' + cmd)


if __name__ == '__main__':
    sys.exit(main())
