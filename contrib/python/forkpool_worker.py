#!/usr/bin/env python3
"""A forkpool exec: worker in Python, standard library only.

forkpool runs it as `forkpool 'exec:python3 -u forkpool_worker.py' MODE`
and speaks the framed protocol of doc/PROTOCOL.md ("External workers")
with it over its standard input and output: it says HELLO, then reads
JOB frames and answers each with one RESULT frame, in order.

As a module, serve(handle) is the whole worker: handle(job) gets a Job
and returns bytes (the result) or raises JobError (an error result).
Anything the handler prints must go to sys.stderr: standard output is
the protocol's.

    import forkpool_worker
    forkpool_worker.serve(lambda job: job.payload.upper())

As a program its modes are those of forkpool's builtins, for tests and
examples: echo, fnv, cpu ITER, sleep [MS], crash (CRASH kills it with
SIGSEGV, FLAKY does so at attempt 1, GARBAGE at attempt 1 writes bytes
that are not a frame), and fail MESSAGE (refuses to start).
"""
import os
import signal
import struct
import sys
import time

VERSION = 1
HELLO, JOB, RESULT, ERROR, HEARTBEAT = 1, 2, 3, 4, 5
STATUS_OK, STATUS_ERROR = 0, 1
F_KEYED = 2
HEADER = struct.Struct('>2sBBHHIIQ')    # magic, version, type, flags, aux, arg, bodylen, id
FRAME_MAX = 16 * 1024 * 1024


class ProtocolError(Exception):
    pass


class JobError(Exception):
    """Raised by a handler: the job fails with this message."""


class Raw(bytes):
    """Returned by a handler, written as it is in place of the RESULT frame:
    for testing how forkpool takes a broken worker."""


class Job:
    __slots__ = ('id', 'attempt', 'timeout_ms', 'key', 'payload')

    def __init__(self, ident, attempt, timeout_ms, key, payload):
        self.id, self.attempt, self.timeout_ms = ident, attempt, timeout_ms
        self.key, self.payload = key, payload


def encode(kind, ident=0, payload=b'', key=b'', flags=0, aux=0, arg=0):
    body = struct.pack('>I', len(key)) + key + struct.pack('>I', len(payload)) + payload
    return HEADER.pack(b'FP', VERSION, kind, flags, aux, arg, len(body), ident) + body


def decode(buf, start=0, frame_max=FRAME_MAX):
    """The frame at buf[start:]: (frame, end), or (None, start) if it is not
    all there yet. A frame is (type, flags, aux, arg, id, key, payload)."""
    if len(buf) - start < HEADER.size:
        return None, start
    magic, version, kind, flags, aux, arg, bodylen, ident = HEADER.unpack_from(buf, start)
    if magic != b'FP':
        raise ProtocolError('bad magic')
    if version != VERSION:
        raise ProtocolError('unsupported protocol version')
    if bodylen < 8 or HEADER.size + bodylen > frame_max:
        raise ProtocolError('bad body length %d' % bodylen)
    end = start + HEADER.size + bodylen
    if len(buf) < end:
        return None, start
    p = start + HEADER.size
    keylen, = struct.unpack_from('>I', buf, p)
    if keylen > bodylen - 8:
        raise ProtocolError('key length exceeds the body')
    key = bytes(buf[p + 4:p + 4 + keylen])
    paylen, = struct.unpack_from('>I', buf, p + 4 + keylen)
    if paylen != bodylen - 8 - keylen:
        raise ProtocolError('key and payload lengths do not add up to the body')
    payload = bytes(buf[p + 8 + keylen:end])
    return (kind, flags, aux, arg, ident, key, payload), end


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def serve(handle, fd_in=0, fd_out=1):
    """Says HELLO, then answers every JOB until end of input. Jobs are read
    as many as there are, so that forkpool can keep many in flight; each
    result is written as soon as its job is done, since forkpool takes the
    oldest job not answered for the one running (for its --timeout)."""
    write_all(fd_out, encode(HELLO, arg=os.getpid()))
    buf = bytearray()
    while True:
        chunk = os.read(fd_in, 1 << 16)
        if not chunk:
            return
        buf += chunk
        pos = 0
        while True:
            frame, pos2 = decode(buf, pos)
            if frame is None:
                break
            pos = pos2
            kind, flags, aux, arg, ident, key, payload = frame
            if kind != JOB:
                raise ProtocolError('unexpected message type %d' % kind)
            try:
                result, status = handle(Job(ident, aux, arg, key, payload)), STATUS_OK
            except JobError as e:
                result, status = str(e).encode(), STATUS_ERROR
            write_all(fd_out, result if isinstance(result, Raw) else
                      encode(RESULT, ident, result, aux=status))
        del buf[:pos]


def start_failed(message):
    """The worker cannot start: forkpool stops with this message."""
    write_all(1, encode(ERROR, payload=message.encode()))
    sys.exit(1)


# --- the modes of the program -------------------------------------------------

FNV_OFFSET, FNV_PRIME, MASK = 0xcbf29ce484222325, 0x100000001b3, (1 << 64) - 1


def fnv1a(data, h=FNV_OFFSET, repeat=1):
    for _ in range(repeat):
        for b in data:
            h = ((h ^ b) * FNV_PRIME) & MASK
    return h


def crash(job):
    if b'CRASH' in job.payload or (job.attempt == 1 and b'FLAKY' in job.payload):
        os.kill(os.getpid(), signal.SIGSEGV)
    if job.attempt == 1 and b'GARBAGE' in job.payload:
        return Raw(b'this is not a forkpool frame....')
    return job.payload


def sleeper(ms):
    def handle(job):
        t = ms
        if t is None:
            fields = job.payload.split()
            t = int(fields[-1]) if fields and fields[-1].isdigit() else 0
        time.sleep(t / 1000)
        return job.payload
    return handle


def number(args, usage):
    try:
        return int(args[0])
    except (IndexError, ValueError):
        start_failed('usage: ' + usage)


def main(argv):
    mode, args = (argv[1], argv[2:]) if len(argv) > 1 else ('echo', [])
    if mode == 'echo':
        handle = lambda job: job.payload
    elif mode == 'fnv':
        handle = lambda job: b'%016x' % fnv1a(job.payload)
    elif mode == 'cpu':
        n = number(args, 'cpu ITER')
        handle = lambda job: b'%016x' % fnv1a(job.payload, repeat=n)
    elif mode == 'sleep':
        handle = sleeper(number(args, 'sleep [MS]') if args else None)
    elif mode == 'crash':
        signal.signal(signal.SIGSEGV, signal.SIG_DFL)
        handle = crash
    elif mode == 'fail':
        start_failed(' '.join(args) or 'told to fail')
    else:
        start_failed('unknown mode %s (echo, fnv, cpu ITER, sleep [MS], crash, fail)' % mode)
    try:
        serve(handle)
    except ProtocolError as e:
        sys.stderr.write('forkpool_worker: protocol error: %s\n' % e)
        sys.exit(76)


if __name__ == '__main__':
    main(sys.argv)
