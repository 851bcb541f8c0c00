#!/usr/bin/env python3
"""The killer and the stopper of the chaos soak (tests/chaos).

  chaos-monkey.py SOCK SUPERVISOR-PID SEED KILL-MS STOP-S DONE-FILE SEEN-FILE

Every KILL-MS milliseconds it asks the service for its status (JSON) and
sends SIGKILL to one of the workers that are up (state idle or busy: they
have said HELLO), chosen at random from SEED.  Meanwhile it keeps one
other worker stopped (SIGSTOP) for STOP-S seconds at a time, then lets it
go on (SIGCONT).  A signal goes through a pidfd taken before the worker's
parent is checked, so that a pid used again is never signalled.  It runs
until DONE-FILE exists, writes every worker pid it saw to SEEN-FILE, and
prints "kills K stops S continues C workers W".
"""
import json
import os
import random
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fpclient import Link, frame, hello, STATUS  # noqa: E402


def status(link):
    link.s.sendall(frame(STATUS, aux=1, ident=1))
    f = link.read()
    if f is None or f[0] != STATUS:
        raise SystemExit('chaos-monkey: no status from the service')
    return json.loads(f[4])


def signal_worker(pid, sup, sig):
    """Signals pid if it is still a child of sup; True if it was."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    try:
        with open('/proc/%d/stat' % pid) as f:
            ppid = int(f.read().rsplit(')', 1)[1].split()[1])
        if ppid != sup:
            return False
        if fd is not None:
            signal.pidfd_send_signal(fd, sig)
        else:
            os.kill(pid, sig)
        return True
    except (OSError, ValueError, IndexError):
        return False
    finally:
        if fd is not None:
            os.close(fd)


def main():
    sock, sup, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    period, stop_s = int(sys.argv[4]) / 1000.0, float(sys.argv[5])
    done, seen_path = sys.argv[6], sys.argv[7]
    rng = random.Random(seed)
    link = Link(sock)
    hello(link)
    kills = stops = conts = 0
    seen = set()
    stopped, until = None, 0.0
    tick = time.monotonic()
    while not os.path.exists(done):
        up = [w['pid'] for w in status(link)['workers']
              if w['state'] in ('idle', 'busy')]
        seen.update(up)
        now = time.monotonic()
        if stopped is not None and now >= until:
            if signal_worker(stopped, sup, signal.SIGCONT):
                conts += 1
            stopped = None
        others = [p for p in up if p != stopped]
        victim = rng.choice(others) if others else None
        if victim is not None and signal_worker(victim, sup,
                                                signal.SIGKILL):
            kills += 1
        others = [p for p in up if p not in (stopped, victim)]
        if stopped is None and others:
            pick = rng.choice(others)
            if signal_worker(pick, sup, signal.SIGSTOP):
                stops += 1
                stopped, until = pick, now + stop_s
        tick += period
        time.sleep(max(0.0, tick - time.monotonic()))
    if stopped is not None and signal_worker(stopped, sup, signal.SIGCONT):
        conts += 1
    with open(seen_path, 'w') as f:
        f.write('\n'.join(str(p) for p in sorted(seen)) + '\n')
    print('kills %d stops %d continues %d workers %d' %
          (kills, stops, conts, len(seen)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
