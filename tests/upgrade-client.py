#!/usr/bin/env python3
"""Clients of a forkpool service across an upgrade, for service-upgrade.sh.

  upgrade-client.py SOCK CLIENTS STOPFILE COUNTFILE

Each of CLIENTS threads submits jobs of its own key ("k<c>"), one at a
time, payload "k<c> <n>", and waits for each result before the next, so
that its results must come in order.  A connection the service closes
(the old supervisor, handing over) is made again, and the job that had no
result is sent again: the old supervisor closes a client only once every
job it took is answered.  Every connection attempt counts; one refused
(ECONNREFUSED, or ENOENT: no socket there) is counted as refused and tried
again.  After each result the thread's count is written to COUNTFILE.<c>
(whole: through a rename);
the threads stop once STOPFILE exists, or after 30 seconds
(a bound for a test that went wrong).  Prints "results N wrong W order O
refused R reconnects C" and exits 0 only when W, O and R are 0.
"""
import errno
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fpclient import F_KEYED, HELLO, RESULT, SUBMIT, frame  # noqa: E402
from fpclient import Link as FrameLink  # noqa: E402

lock = threading.Lock()
deadline = time.monotonic() + 30
totals = {'results': 0, 'wrong': 0, 'order': 0, 'refused': 0,
          'reconnects': 0}


class Closed(Exception):
    pass


class Link(FrameLink):
    """fpclient's link, with a closed connection (EOF, or reset) raised."""

    def __init__(self, path):
        super().__init__(path)
        self.s.settimeout(20)

    def read(self):
        try:
            f = super().read()
        except ConnectionResetError:
            f = None
        if f is None:
            raise Closed()
        t, aux, _, ident, payload = f
        return t, aux, ident, payload


def count(what, n=1):
    with lock:
        totals[what] += n


def connect(path):
    while time.monotonic() < deadline:
        try:
            link = Link(path)
            f = link.read()
            if f[0] != HELLO:
                raise Closed()
            return link
        except OSError as e:
            if e.errno in (errno.ECONNREFUSED, errno.ENOENT):
                count('refused')
            time.sleep(0.01)
        except Closed:
            time.sleep(0.01)
    raise SystemExit('gave up connecting')


def run(path, c, stopfile, countfile):
    key = b'k%d' % c
    n = 0
    link = connect(path)
    while not os.path.exists(stopfile) and time.monotonic() < deadline:
        payload = b'%s %d' % (key, n)
        while True:
            try:
                link.s.sendall(frame(SUBMIT, payload, key, F_KEYED,
                                     ident=n + 1))
                f = link.read()
                break
            except (Closed, BrokenPipeError, ConnectionResetError):
                count('reconnects')
                link = connect(path)
        t, status, ident, res = f
        if t != RESULT or status != 0 or res != payload:
            count('wrong')
        elif ident != n + 1:
            count('order')
        count('results')
        n += 1
        with open('%s.%d.new' % (countfile, c), 'w') as fp:
            fp.write('%d\n' % n)
        os.replace('%s.%d.new' % (countfile, c), '%s.%d' % (countfile, c))


def main():
    path, clients, stopfile, countfile = sys.argv[1:5]
    threads = [threading.Thread(target=run,
                                args=(path, c, stopfile, countfile))
               for c in range(int(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print('results %(results)d wrong %(wrong)d order %(order)d '
          'refused %(refused)d reconnects %(reconnects)d' % totals)
    sys.exit(1 if totals['wrong'] or totals['order'] or totals['refused']
             else 0)


main()
