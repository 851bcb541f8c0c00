#!/usr/bin/env python3
"""Packed entries seen from outside a producer, for tests/redis-pack-prod.sh,
with redis-py (Debian: python3-redis).

    redis-pack-prod.py SOCKET dump POOL
        Each entry of the pool's partition streams, a line each, in
        order: "entry pN packed|plain JOBS keyed|unkeyed high|normal
        reply|noreply"; then each job, in order: "job pN KEY PAYLOAD",
        KEY "-" for none.  A packed entry that breaks the format (counts
        that are not JOBS, a key in another partition, payload, key or
        ref in it) is a line "bad pN ID: WHY".

    redis-pack-prod.py SOCKET serve POOL
        A stand-in supervisor: reads the partition streams with
        XREADGROUP and answers each packed entry with one packed result
        entry: status ok with the payload as result, or, for a payload
        starting "fail", error after 2 attempts with result "boom".  A
        plain entry is answered plain, with status rejected ("not
        packed").  Before the first packed result it writes a malformed
        one with the same refs (a reader must skip it).  Stops on
        SIGTERM.
"""
import signal
import sys

import redis

FNV_OFFSET = 2166136261
FNV_PRIME = 16777619


def fnv1a32(data):
    h = FNV_OFFSET
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & 0xFFFFFFFF
    return h


def netstrings(data):
    """The strings of data, or None if it is not all netstrings."""
    out = []
    while data:
        n, colon, rest = data.partition(b":")
        if not colon or not n.isdigit() or (len(n) > 1 and n[:1] == b"0") \
                or len(rest) < int(n) + 1 or rest[int(n):int(n) + 1] != b",":
            return None
        out.append(rest[:int(n)])
        data = rest[int(n) + 1:]
    return out


def netstring(s):
    return b"%d:%s," % (len(s), s)


def fields_of(flat):
    return [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]


def streams(r, pool):
    meta = "forkpool:{%s}:meta" % pool
    parts = int(r.hget(meta, "partitions"))
    return parts, ["forkpool:{%s}:p%d" % (pool, i) for i in range(parts)]


def unpack(fields):
    """(jobs, why): jobs as (key or None, payload, ref) of an entry."""
    f = dict(fields)
    if len(f) != len(fields):
        return None, "a field twice"
    if b"jobs" not in f:
        return [(f.get(b"key"), f.get(b"payload"), f.get(b"ref"))], None
    for bad in (b"payload", b"key", b"ref"):
        if bad in f:
            return None, "packed with " + bad.decode()
    n = int(f[b"jobs"])
    payloads = netstrings(f.get(b"payloads", b""))
    refs = netstrings(f.get(b"refs", b""))
    keys = netstrings(f[b"keys"]) if b"keys" in f else [None] * n
    if not 1 <= n <= 1024 or payloads is None or len(payloads) != n or \
            refs is None or len(refs) != n or keys is None or \
            len(keys) != n:
        return None, "counts"
    return list(zip(keys, payloads, refs)), None


def dump(r, pool):
    parts, names = streams(r, pool)
    jobs = []
    for i, name in enumerate(names):
        for eid, flat in r.xrange(name):
            fields = [(k, v) for k, v in flat.items()]
            f = flat
            got, why = unpack(fields)
            if got is None:
                print("bad p%d %s: %s" % (i, eid.decode(), why))
                continue
            for key, payload, ref in got:
                if key is not None and fnv1a32(key) % parts != i:
                    print("bad p%d %s: key %s belongs elsewhere"
                          % (i, eid.decode(), key.decode()))
            print("entry p%d %s %d %s %s %s" % (
                i, "packed" if b"jobs" in f else "plain", len(got),
                "keyed" if got[0][0] is not None else "unkeyed",
                "high" if f.get(b"priority") == b"high" else "normal",
                "reply" if b"reply" in f else "noreply"))
            jobs += ["job p%d %s %s" % (i, "-" if k is None else k.decode(),
                                        p.decode()) for k, p, _ in got]
    print("\n".join(jobs))


def serve(r, pool):
    parts, names = streams(r, pool)
    for name in names:
        try:
            r.xgroup_create(name, pool, id="0", mkstream=True)
        except redis.ResponseError:
            pass
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    spoiled = False
    while not stop:
        got = r.xreadgroup(pool, "standin", {n: ">" for n in names},
                           count=100, block=100)
        for name, entries in got or []:
            part = names.index(name.decode())
            for eid, f in entries:
                reply = f.get(b"reply", b"forkpool:{%s}:results" % pool
                              .encode())
                jobs, why = unpack([(k, v) for k, v in f.items()])
                if b"jobs" not in f or jobs is None:
                    r.xadd(reply, {"job": eid, "partition": part,
                                   "status": "rejected", "attempts": 1,
                                   "consumer": "standin",
                                   "result": why or "not packed",
                                   "ref": f.get(b"ref", b"")})
                else:
                    fail = [p.startswith(b"fail") for _, p, _ in jobs]
                    out = {"job": eid, "partition": part,
                           "consumer": "standin", "jobs": len(jobs),
                           "statuses": b"".join(
                               netstring(b"error" if x else b"ok")
                               for x in fail),
                           "attempts": b"".join(
                               netstring(b"2" if x else b"1")
                               for x in fail),
                           "results": b"".join(
                               netstring(b"boom" if x else p)
                               for x, (_, p, _) in zip(fail, jobs)),
                           "refs": f[b"refs"]}
                    if not spoiled:
                        bad = dict(out)
                        bad["statuses"] = netstring(b"ok")
                        bad["results"] = b"".join(
                            netstring(b"WRONG") for _ in jobs)
                        r.xadd(reply, bad)
                        spoiled = True
                    r.xadd(reply, out)
                r.xack(name, pool, eid)


def main():
    r = redis.Redis(unix_socket_path=sys.argv[1])
    if sys.argv[2] == "dump":
        dump(r, sys.argv[3])
    else:
        serve(r, sys.argv[3])


if __name__ == "__main__":
    main()
