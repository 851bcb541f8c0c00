#!/usr/bin/env python3
"""A producer for a forkpool pool in Redis, written from doc/SCALING.md
alone, with redis-py (Debian: python3-redis).

As a module, Producer is the whole client:

    p = Producer("redis://:secret@redis.example:6379/jobs")
    # or, on a Redis Cluster (redis-py's RedisCluster), any nodes of it:
    # Producer("redis+cluster://:secret@10.0.0.1:6379,10.0.0.2:6379/jobs")
    p.submit(b"hello", key=b"user42")      # returns the job's ref
    for ref, status, result in p.results(timeout=30):
        ...
    p.close()

When the pool's supervisors read packed entries (its meta hash has
`packs`), up to 64 jobs of a partition go in one entry and come back in
one result entry; Producer(url, pack=1) sends one job per entry.

As a program it is a check of a running pool whose handler echoes its
payload (builtin:echo): it submits N keyed jobs "KEY SEQ", reads their
results from its reply stream, and checks that each job has exactly one
result, equal to its payload, and that each key's results come in the
order the jobs were submitted.  Exit status 0 when all holds.

    forkpool_producer.py URL [-n N] [-k KEYS] [-P PARTITIONS] [-t SEC]
        [--pack N | --no-pack]
"""
import argparse
import os
import socket
import sys
import time
import urllib.parse

import redis
from redis.cluster import ClusterNode, RedisCluster

FNV_OFFSET = 2166136261
FNV_PRIME = 16777619
PACK_MAX = 1024         # jobs in a packed entry, at most
PACK_BYTES = 65536      # a pack's payloads, keys and refs, at most


def fnv1a32(data):
    """FNV-1a, 32 bits, of bytes: the partition hash."""
    h = FNV_OFFSET
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & 0xFFFFFFFF
    return h


def netstring(s):
    return b"%d:%s," % (len(s), s)


def netstrings(data, n):
    """Exactly n netstrings of data, or None if it is not that."""
    out = []
    while data and len(out) < n:
        count, colon, rest = data.partition(b":")
        if not colon or not count.isdigit() or len(count) > 9 or \
                (len(count) > 1 and count[:1] == b"0"):
            return None
        size = int(count)
        if len(rest) < size + 1 or rest[size:size + 1] != b",":
            return None
        out.append(rest[:size])
        data = rest[size + 1:]
    return out if not data and len(out) == n else None


def as_bytes(v):
    return v if isinstance(v, bytes) else str(v).encode()


class PoolLost(Exception):
    """Redis came back without the pool: its jobs are gone."""


def parse_url(url):
    """redis://[[USER]:PASSWORD@]HOST[:PORT]/POOL[?db=N],
    redis+unix://[[USER]:PASSWORD@]/PATH/POOL[?db=N] or
    redis+cluster://[[USER]:PASSWORD@]HOST:PORT[,HOST:PORT...]/POOL:
    (kwargs, pool); a cluster's seeds are in kwargs["startup_nodes"]."""
    u = urllib.parse.urlsplit(url)
    kw = {}
    if u.query:
        q = urllib.parse.parse_qs(u.query, strict_parsing=True)
        kw["db"] = int(q["db"][0])
    # The netloc by hand: a cluster's names several hosts.
    userinfo, at, hosts = u.netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    if colon:
        kw["password"] = urllib.parse.unquote(password)
        if user:
            kw["username"] = urllib.parse.unquote(user)
    elif at and user:
        kw["password"] = urllib.parse.unquote(user)
    path, _, pool = u.path.rpartition("/")
    if u.scheme == "redis+unix":
        kw["unix_socket_path"] = path
    elif u.scheme == "redis":
        kw["host"] = u.hostname
        kw["port"] = u.port or 6379
    elif u.scheme == "redis+cluster":
        if kw.get("db", 0) != 0:
            raise ValueError("a cluster has only database 0")
        kw.pop("db", None)
        seeds = []
        for hp in hosts.split(","):
            host, _, port = hp.rpartition(":")
            if not host or not port:
                raise ValueError("a cluster node is HOST:PORT: " + hp)
            seeds.append(ClusterNode(host.strip("[]"), int(port)))
        kw["startup_nodes"] = seeds
    else:
        raise ValueError("not a Redis URL: " + u.scheme)
    if not pool:
        raise ValueError("the URL names no pool")
    return kw, pool


# Writes the partition count, with the layout, when there is none yet, in
# one step, so that nobody sees a pool without its layout; reads both and
# the most jobs per entry the supervisors read (`packs`, if they do).
META_SCRIPT = """
if ARGV[1] ~= '' and
  redis.call('HSETNX', KEYS[1], 'partitions', ARGV[1]) == 1 and
  ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], 'version', ARGV[2])
end
return {redis.call('HGET', KEYS[1], 'partitions'),
  redis.call('HGET', KEYS[1], 'version'),
  redis.call('HGET', KEYS[1], 'packs')}
"""


class Pack:
    """The jobs of one partition waiting to go as one entry."""

    def __init__(self, keyed):
        self.keyed = keyed
        self.jobs = []          # (payload, key, ref)
        self.bytes = 0


class Producer:
    def __init__(self, url, partitions=None, pack=64):
        kw, self.pool = parse_url(url)
        # On a cluster each partition stream has a slot of its own
        # (layout 2); on a single Redis every key has the tag {POOL}.
        self.cluster = "startup_nodes" in kw
        if self.cluster:
            self.r = RedisCluster(socket_timeout=10, **kw)
        else:
            self.r = redis.Redis(socket_timeout=10, **kw)
        self.meta = "forkpool:{%s}:meta" % self.pool
        # The pool's partition count: the meta hash's; a producer that
        # names one writes it when there is none, and must agree.  The
        # layout (its version) must be the URL's.
        have, version, packs = self.r.eval(
            META_SCRIPT, 1, self.meta,
            "" if partitions is None else str(partitions),
            "2" if self.cluster else "")
        if have is None:
            raise RuntimeError("pool %s has no partition count yet"
                               % self.pool)
        version = (version or b"1").decode()
        if version != ("2" if self.cluster else "1"):
            raise RuntimeError(
                "pool %s is laid out for %s (version %s); use %s"
                % (self.pool, "a Redis Cluster" if version == "2"
                   else "a single Redis", version,
                   "redis+cluster://" if version == "2" else "redis://"))
        self.partitions = int(have)
        if partitions is not None and partitions != self.partitions:
            raise RuntimeError("pool %s has %d partitions, not %d"
                               % (self.pool, self.partitions, partitions))
        # The epoch: made by the first producer that finds none; gone if
        # Redis loses the pool.
        self.r.hsetnx(self.meta, "epoch", os.urandom(8).hex())
        self.epoch = self.r.hget(self.meta, "epoch")
        self.reply = "forkpool:{%s}:reply:%s.%d.%s" % (
            self.pool, socket.gethostname(), os.getpid(),
            os.urandom(4).hex())
        self.last = "0-0"       # a new reply stream: read from its start
        self.pending = set()
        self.next_ref = 1
        self.rr = 0
        # Jobs go packed only to supervisors that read packs, as many as
        # they say at most.
        try:
            packs = int(packs or 0)
        except ValueError:
            packs = 0
        self.pack = max(1, min(pack or 1, packs, PACK_MAX))
        self.packs = {}         # partition: Pack
        self.pipe = None
        self.piped = 0

    def check_epoch(self):
        if self.r.hget(self.meta, "epoch") != self.epoch:
            raise PoolLost("pool %s lost its jobs (its epoch is gone); "
                           "%d will never be answered"
                           % (self.pool, len(self.pending)))

    def stream(self, n):
        if self.cluster:
            return "forkpool:{%s:p%d}" % (self.pool, n)
        return "forkpool:{%s}:p%d" % (self.pool, n)

    def partition_of(self, key):
        if key is not None:
            return fnv1a32(key) % self.partitions
        if self.pack > 1:
            # Unkeyed jobs fill one partition's pack at a time.
            return self.rr % self.partitions
        self.rr += 1
        return self.rr % self.partitions

    def xadd(self, n, fields, window):
        if self.pipe is None:
            self.pipe = self.r.pipeline(transaction=False)
        self.pipe.xadd(self.stream(n), fields)
        self.piped += 1
        if self.piped % window == 0:
            self.pipe.execute()

    def send(self, n, window=1024):
        """Partition n's pack, as one entry (plain if it has one job)."""
        p = self.packs.pop(n, None)
        if p is None or not p.jobs:
            return
        if not p.keyed and n == self.rr % self.partitions:
            self.rr += 1
        if len(p.jobs) == 1:
            payload, key, ref = p.jobs[0]
            fields = {"payload": payload, "reply": self.reply, "ref": ref}
            if key is not None:
                fields["key"] = key
        else:
            fields = {"jobs": len(p.jobs),
                      "payloads": b"".join(netstring(j[0])
                                           for j in p.jobs)}
            if p.keyed:
                fields["keys"] = b"".join(netstring(j[1]) for j in p.jobs)
            fields["refs"] = b"".join(netstring(j[2]) for j in p.jobs)
            fields["reply"] = self.reply
        self.xadd(n, fields, window)

    def flush(self):
        """Sends every pack, and what the pipeline holds."""
        for n in list(self.packs):
            self.send(n)
        if self.pipe is not None:
            self.pipe.execute()

    def submit_many(self, jobs, window=1024):
        """jobs: (payload, key or None) pairs; XADDs pipelined in
        windows, up to self.pack jobs of a partition in one entry.
        Returns their refs; every job is in Redis on return."""
        refs = []
        for payload, key in jobs:
            payload = as_bytes(payload)
            key = None if key is None else as_bytes(key)
            ref = str(self.next_ref).encode()
            self.next_ref += 1
            self.pending.add(ref.decode())
            refs.append(ref.decode())
            n = self.partition_of(key)
            p = self.packs.get(n)
            size = len(netstring(payload)) + len(netstring(ref)) + \
                (len(netstring(key)) if key is not None else 0)
            # A job that may not join its partition's pack sends it first,
            # so that the partition's order is kept.
            if p is not None and (p.keyed != (key is not None) or
                                  p.bytes + size > PACK_BYTES):
                self.send(n, window)
                p = None
            if p is None:
                p = self.packs[n] = Pack(key is not None)
            p.jobs.append((payload, key, ref))
            p.bytes += size
            if len(p.jobs) >= self.pack or p.bytes >= PACK_BYTES:
                self.send(n, window)
        self.flush()
        return refs

    def submit(self, payload, key=None):
        return self.submit_many([(payload, key)])[0]

    def answers(self, f):
        """The (ref, status, result) of a result entry: one, or a packed
        result's n; none from a malformed one."""
        if b"jobs" not in f:
            return [(f.get(b"ref", b"").decode(),
                     f.get(b"status", b"").decode(), f.get(b"result", b""))]
        try:
            n = int(f[b"jobs"])
        except ValueError:
            return []
        if not 1 <= n <= PACK_MAX:
            return []
        cols = [netstrings(f.get(name, b""), n) for name in
                (b"refs", b"statuses", b"attempts", b"results")]
        if None in cols:
            return []
        return [(ref.decode(errors="replace"), status.decode(), result)
                for ref, status, _, result in zip(*cols)]

    def results(self, timeout=None):
        """Yields (ref, status, result) until every job is answered;
        raises TimeoutError after timeout seconds without a result."""
        quiet = time.monotonic()
        while self.pending:
            got = self.r.xread({self.reply: self.last}, count=512,
                               block=1000)
            if not got:
                self.check_epoch()
                if timeout is not None and \
                        time.monotonic() - quiet > timeout:
                    raise TimeoutError("%d jobs without a result"
                                       % len(self.pending))
                continue
            quiet = time.monotonic()
            for entry_id, f in got[0][1]:
                self.last = entry_id
                for ref, status, result in self.answers(f):
                    # One result per job: a second one is skipped.
                    if ref not in self.pending:
                        continue
                    self.pending.discard(ref)
                    yield ref, status, result

    def close(self):
        self.r.delete(self.reply)
        self.r.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("url")
    ap.add_argument("-n", type=int, default=1000, help="jobs")
    ap.add_argument("-k", type=int, default=17, help="keys")
    ap.add_argument("-P", type=int, default=None, help="partitions")
    ap.add_argument("-t", type=float, default=60, help="timeout, seconds")
    ap.add_argument("--pack", type=int, default=64,
                    help="jobs per entry, at most, if the pool reads packs")
    ap.add_argument("--no-pack", dest="pack", action="store_const", const=1,
                    help="one job per entry")
    a = ap.parse_args()
    p = Producer(a.url, a.P, a.pack)
    jobs = [(b"k%d %d" % (i % a.k, i), b"k%d" % (i % a.k))
            for i in range(1, a.n + 1)]
    refs = p.submit_many(jobs)
    want = dict(zip(refs, (j[0] for j in jobs)))
    seen, last, bad = set(), {}, 0
    for ref, status, result in p.results(timeout=a.t):
        if status != "ok" or result != want.get(ref) or ref in seen:
            print("job %s: %s %r" % (ref, status, result), file=sys.stderr)
            bad += 1
        seen.add(ref)
        key, seq = result.split()
        if last.get(key, 0) >= int(seq):
            print("key %s: %s after %d" % (key.decode(), seq.decode(),
                                           last[key]), file=sys.stderr)
            bad += 1
        last[key] = int(seq)
    p.close()
    print("%d jobs, %d results, %d keys, %d wrong"
          % (a.n, len(seen), len(last), bad))
    return 0 if bad == 0 and len(seen) == a.n else 1


if __name__ == "__main__":
    sys.exit(main())
