#!/usr/bin/env python3
"""Drives forkpoolctl top on a pseudo-terminal, as a person would, for
tests/ctl-top.sh: reads the screen through a small VT100 model, resizes
the terminal, quits with q or a signal.

    ctl-top.py SCREENFILE CTL ARGS... -- PID...

Prints one line per finding, "name value", for the shell to check, and
leaves the last screen in SCREENFILE.  Every wait is bounded.
"""
import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time

SCALE = int(os.environ.get("FORKPOOL_TEST_SCALE", "1"))


class Screen:
    """Enough of a VT100 for what curses sends with TERM=vt100."""

    def __init__(self, rows, cols):
        self.rows, self.cols = rows, cols
        self.grid = [[" "] * cols for _ in range(rows)]
        self.y = self.x = 0
        self.top, self.bottom = 0, rows - 1
        self.pending = ""

    def resize(self, rows, cols):
        self.__init__(rows, cols)

    def text(self):
        return "\n".join("".join(r).rstrip() for r in self.grid)

    def scroll(self, up):
        if up:
            del self.grid[self.top]
            self.grid.insert(self.bottom, [" "] * self.cols)
        else:
            del self.grid[self.bottom]
            self.grid.insert(self.top, [" "] * self.cols)

    def linefeed(self):
        if self.y == self.bottom:
            self.scroll(True)
        elif self.y < self.rows - 1:
            self.y += 1

    def clamp(self):
        self.y = max(0, min(self.rows - 1, self.y))
        self.x = max(0, min(self.cols - 1, self.x))

    def csi(self, params, final):
        private = params.startswith("?")
        args = [int(a) if a.isdigit() else 0
                for a in params.lstrip("?").split(";")] if params else []
        n = args[0] if args and args[0] > 0 else 1
        if private:
            return
        if final in "Hf":
            self.y = (args[0] if args and args[0] else 1) - 1
            self.x = (args[1] if len(args) > 1 and args[1] else 1) - 1
            self.clamp()
        elif final == "A":
            self.y -= n
        elif final == "B":
            self.y += n
        elif final == "C":
            self.x += n
        elif final == "D":
            self.x -= n
        elif final == "K":
            mode = args[0] if args else 0
            row = self.grid[self.y]
            lo, hi = {0: (self.x, self.cols), 1: (0, self.x + 1),
                      2: (0, self.cols)}.get(mode, (0, 0))
            for i in range(lo, min(hi, self.cols)):
                row[i] = " "
        elif final == "J":
            mode = args[0] if args else 0
            if mode == 0:
                self.csi("", "K")
                for r in range(self.y + 1, self.rows):
                    self.grid[r] = [" "] * self.cols
            elif mode == 2:
                self.grid = [[" "] * self.cols for _ in range(self.rows)]
        elif final == "r":
            self.top = (args[0] if args and args[0] else 1) - 1
            self.bottom = (args[1] if len(args) > 1 and args[1]
                           else self.rows) - 1
            self.y = self.x = 0
        self.clamp()

    def feed(self, data):
        s = self.pending + data
        self.pending = ""
        i = 0
        while i < len(s):
            c = s[i]
            if c == "\x1b":
                if i + 1 >= len(s):
                    self.pending = s[i:]
                    return
                d = s[i + 1]
                if d == "[":
                    m = re.compile(r"[\x40-\x7e]").search(s, i + 2)
                    if m is None:
                        self.pending = s[i:]
                        return
                    self.csi(s[i + 2:m.start()], s[m.start()])
                    i = m.start() + 1
                    continue
                if d in "()":
                    i += 3
                    continue
                if d == "M":
                    if self.y == self.top:
                        self.scroll(False)
                    else:
                        self.y = max(0, self.y - 1)
                i += 2
                continue
            if c == "\r":
                self.x = 0
            elif c == "\n":
                self.linefeed()
            elif c == "\b":
                self.x = max(0, self.x - 1)
            elif c == "\t":
                self.x = min(self.cols - 1, (self.x // 8 + 1) * 8)
            elif c >= " ":
                if self.x >= self.cols:
                    self.x = 0
                    self.linefeed()
                self.grid[self.y][self.x] = c
                self.x += 1
            i += 1


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class Top:
    def __init__(self, argv, rows=24, cols=100):
        self.master, self.slave = os.openpty()
        set_size(self.master, rows, cols)
        self.modes = termios.tcgetattr(self.slave)
        self.screen = Screen(rows, cols)
        env = dict(os.environ, TERM="vt100")
        env.pop("LINES", None)
        env.pop("COLUMNS", None)
        slave = self.slave

        def controlling():
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave,
                                     stderr=slave, env=env,
                                     preexec_fn=controlling)

    def pump(self, timeout):
        r, _, _ = select.select([self.master], [], [], timeout)
        if r:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            self.screen.feed(data.decode("utf-8", "replace"))

    def wait_until(self, pred, seconds):
        end = time.monotonic() + seconds * SCALE
        while time.monotonic() < end:
            if pred(self.screen.text()):
                return True
            if self.proc.poll() is not None:
                self.pump(0.05)
                return pred(self.screen.text())
            self.pump(0.05)
        return pred(self.screen.text())

    def wait_exit(self, seconds):
        end = time.monotonic() + seconds * SCALE
        while time.monotonic() < end and self.proc.poll() is None:
            self.pump(0.05)
        while self.proc.poll() is not None:
            r, _, _ = select.select([self.master], [], [], 0)
            if not r:
                break
            try:
                data = os.read(self.master, 65536)
            except OSError:
                break
            if not data:
                break
            self.screen.feed(data.decode("utf-8", "replace"))
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            return "hung"
        return self.proc.returncode

    def restored(self):
        now = termios.tcgetattr(self.slave)
        return now[3] == self.modes[3] and now[0] == self.modes[0]

    def close(self):
        os.close(self.master)
        os.close(self.slave)


def submitted(text):
    m = re.search(r"jobs (\d+) submitted", text)
    return int(m.group(1)) if m else -1


def main():
    shot = sys.argv[1]
    rest = sys.argv[2:]
    cut = rest.index("--")
    argv, pids = rest[:cut], rest[cut + 1:]

    def all_pids(text):
        return all(re.search(r"\b%s\b" % p, text) for p in pids)

    top = Top(argv)
    print("pids", "yes" if top.wait_until(all_pids, 10) else "no")
    first = submitted(top.screen.text())
    print("figures", "yes" if first >= 0 else "no")
    grew = top.wait_until(lambda t: submitted(t) > first, 10)
    print("grew", "yes" if grew else "no")
    # A resize: the screen is drawn again, whole, at the new size.
    set_size(top.master, 30, 120)
    top.screen.resize(30, 120)
    os.kill(top.proc.pid, signal.SIGWINCH)
    print("resized", "yes" if top.wait_until(all_pids, 10) else "no")
    print("alive", "yes" if top.proc.poll() is None else "no")
    # Another sort key, then q.
    os.write(top.master, b"j")
    top.wait_until(lambda t: "sort: jobs/s" in t, 5)
    os.write(top.master, b"q")
    print("q", top.wait_exit(10))
    print("restored", "yes" if top.restored() else "no")
    with open(shot, "w") as f:
        f.write(top.screen.text() + "\n")
    top.close()

    # SIGTERM: the same clean exit.
    top = Top(argv)
    top.wait_until(all_pids, 10)
    top.proc.send_signal(signal.SIGTERM)
    print("sigterm", top.wait_exit(10))
    print("restored-term", "yes" if top.restored() else "no")
    top.close()


main()
