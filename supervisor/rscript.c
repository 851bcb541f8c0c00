/*
 * The Lua scripts of the Redis source.  Each runs atomically in Redis, so
 * that a check and the step it guards cannot be split by another
 * supervisor: a partition is read only while nobody holds any of its
 * entries, an entry is acknowledged only by the consumer that holds it,
 * and a dead consumer's entries of a partition change hands all at once.
 * They are sent with EVAL: Redis caches them by their digest, and a
 * restarted Redis needs nothing loaded again.
 */
#include "redis.h"

/*
 * Pieces the scripts of a single Redis and of a Redis Cluster share.
 *
 * before(a, b): entry id a sorts before b, as Redis sorts them.
 */
#define LUA_BEFORE \
"local function num_less(a, b)\n" \
"  if #a ~= #b then return #a < #b end\n" \
"  return a < b\n" \
"end\n" \
"local function before(a, b)\n" \
"  local am, as = string.match(a, '^(%d+)-(%d+)$')\n" \
"  local bm, bs = string.match(b, '^(%d+)-(%d+)$')\n" \
"  if am ~= bm then return num_less(am, bm) end\n" \
"  return num_less(as, bs)\n" \
"end\n"

/*
 * resume(s, g, me, claim, sum): the n entries pending in stream s (sum:
 * its XPENDING summary) for consumer me, read again from its history,
 * after taking them all over if any is another's, which needs a claim
 * time and every one of them idle that long.  Returns the entries, their
 * deliveries and the previous owners, or nil.
 */
#define LUA_RESUME \
"local function resume(s, g, me, claim, sum)\n" \
"  local n, others = sum[1], {}\n" \
"  for _, c in ipairs(sum[4]) do\n" \
"    if c[1] ~= me then others[#others + 1] = c[1] end\n" \
"  end\n" \
"  if #others > 0 then\n" \
"    if claim == 0 or\n" \
"      #redis.call('XPENDING', s, g, 'IDLE', claim, '-', '+', n) ~= n\n" \
"    then return nil end\n" \
"    redis.call('XAUTOCLAIM', s, g, me, claim, '0-0', 'COUNT', n,\n" \
"      'JUSTID')\n" \
"  end\n" \
"  local r = redis.call('XREADGROUP', 'GROUP', g, me, 'COUNT', n,\n" \
"    'STREAMS', s, '0')\n" \
"  local d = redis.call('XPENDING', s, g, '-', '+', n, me)\n" \
"  local dv = {}\n" \
"  for i, e in ipairs(d) do dv[i] = e[4] end\n" \
"  return r[1][2], dv, table.concat(others, ' ')\n" \
"end\n"

/*
 * holding(s, g, me, held, id, out): whether me still holds entry id of
 * stream s, held the ids an XPENDING over the batch's range listed (an
 * id not there is asked about alone; one finished already in this batch
 * is marked 2).  If not, out gets 0 (not pending) or the holder's name.
 */
#define LUA_HOLDING \
"local function holding(s, g, me, held, id, out)\n" \
"  local h = held[id]\n" \
"  if h == 2 then\n" \
"    out[#out + 1] = 0\n" \
"    return false\n" \
"  elseif not h then\n" \
"    local p = redis.call('XPENDING', s, g, id, id, 1)\n" \
"    if #p == 0 then out[#out + 1] = 0 return false\n" \
"    elseif p[1][2] ~= me then out[#out + 1] = p[1][2] return false end\n" \
"  end\n" \
"  held[id] = 2\n" \
"  return true\n" \
"end\n"

/* with_entry(f, s, id): f, then the fields of entry id of stream s. */
#define LUA_WITH_ENTRY \
"local function with_entry(f, s, id)\n" \
"  local e = redis.call('XRANGE', s, id, id)\n" \
"  if #e == 1 and e[1][2] then\n" \
"    for _, v in ipairs(e[1][2]) do f[#f + 1] = v end\n" \
"  end\n" \
"  return f\n" \
"end\n"

/*
 * acked(s, g, q, last): acknowledges the ids q of stream s, and takes
 * them out of it: trimmed up to the oldest entry still pending (or past
 * last, if none is), those after it deleted by id (see the finish
 * script).
 */
#define LUA_ACKED \
"local function acked(s, g, q, last)\n" \
"  redis.call('XACK', s, g, unpack(q))\n" \
"  local sum = redis.call('XPENDING', s, g)\n" \
"  local m = sum[2]\n" \
"  if not m then\n" \
"    local ms, sq = string.match(last, '^(%d+)-(%d+)$')\n" \
"    if #sq < 14 then m = ms .. '-' .. (tonumber(sq) + 1)\n" \
"    else m = last end\n" \
"  end\n" \
"  redis.call('XTRIM', s, 'MINID', m)\n" \
"  local d = {}\n" \
"  for _, id in ipairs(q) do\n" \
"    if not before(id, m) then d[#d + 1] = id end\n" \
"  end\n" \
"  if #d > 0 then redis.call('XDEL', s, unpack(d)) end\n" \
"end\n"

/*
 * packed(id, pt, me, a): a packed entry's item, from ARGV[a] on: n,
 * statuses, attempts, results, refs ("" for none), the result's stream
 * (or kind), the count of dead letters, then each: its field count and
 * fields.  Returns the result's fields, that stream, the dead letters
 * and where the next item starts.
 */
#define LUA_PACKED \
"local function packed(id, pt, me, a)\n" \
"  local f = {'job', id, 'partition', pt, 'consumer', me, 'jobs',\n" \
"    ARGV[a], 'statuses', ARGV[a + 1], 'attempts', ARGV[a + 2],\n" \
"    'results', ARGV[a + 3]}\n" \
"  if ARGV[a + 4] ~= '' then\n" \
"    f[#f + 1] = 'refs'\n" \
"    f[#f + 1] = ARGV[a + 4]\n" \
"  end\n" \
"  local dl, b = {}, a + 7\n" \
"  for i = 1, tonumber(ARGV[a + 6]) do\n" \
"    local nf, d = tonumber(ARGV[b]), {}\n" \
"    for j = 1, nf do d[j] = ARGV[b + j] end\n" \
"    dl[i] = d\n" \
"    b = b + 1 + nf\n" \
"  end\n" \
"  return f, ARGV[a + 5], dl, b\n" \
"end\n"

/*
 * KEYS: meta, lease, the partition streams (none on a Redis Cluster,
 * where they are in other slots).  ARGV: group, partitions, token, lease
 * ms, layout, most jobs of a packed entry.  Checks that the pool is laid
 * out as this supervisor lays it out and has this many partitions (or
 * says so in meta), takes the consumer's lease, and makes every stream
 * and its consumer group.  It says in meta that this supervisor reads
 * packed entries of up to that many jobs (PACK_MAX, or fewer when its
 * ledger holds fewer), so that producers may send them.
 * Returns {"ok"}, {"layout", version}, {"partitions", N}, {"lease", ms
 * left} or {"error", why}.
 */
const char script_setup[] =
"local p = redis.call('HGET', KEYS[1], 'partitions')\n"
"local v = redis.call('HGET', KEYS[1], 'version')\n"
"if v and v ~= ARGV[5] then return {'layout', v} end\n"
"if p and p ~= ARGV[2] then return {'partitions', p} end\n"
"if not p then\n"
"  redis.call('HSET', KEYS[1], 'partitions', ARGV[2], 'version', ARGV[5])\n"
"end\n"
"redis.call('HSET', KEYS[1], 'packs', ARGV[6])\n"
"local l = redis.call('GET', KEYS[2])\n"
"if l and l ~= ARGV[3] then\n"
"  return {'lease', tostring(redis.call('PTTL', KEYS[2]))}\n"
"end\n"
"redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])\n"
"for i = 3, #KEYS do\n"
"  local r = redis.pcall('XGROUP', 'CREATE', KEYS[i], ARGV[1], '0',\n"
"    'MKSTREAM')\n"
"  if type(r) == 'table' and r.err and not string.find(r.err, 'BUSYGROUP')\n"
"  then return {'error', KEYS[i] .. ': ' .. r.err} end\n"
"end\n"
"return {'ok'}\n";

/*
 * KEYS: partition streams this supervisor holds nothing of.  ARGV: group,
 * consumer, claim idle ms (0: no claim this time), budget, batch, the most
 * entries it may resume or take over, then the partition of each key.
 * For each stream:
 *   - nothing pending: while the budget lasts, read up to batch new
 *     entries (the gate: at most one consumer holds entries of a
 *     partition at a time);
 *   - pending, all this consumer's: they are from an earlier life (or a
 *     reply that was lost), read them again from the consumer's history;
 *   - pending of another consumer: when claiming, and when every one of
 *     them has been idle for the claim time, take them all over.
 * Pending entries go all at once or not at all, as long as the most
 * allows: a budget of entries may be one packed entry, too few for them.
 * Returns {partition, entries, deliveries (1, or one per entry),
 * previous owners ("" for new entries)} for each stream read.
 */
const char script_take[] =
LUA_RESUME
"local g, me = ARGV[1], ARGV[2]\n"
"local claim, budget = tonumber(ARGV[3]), tonumber(ARGV[4])\n"
"local batch, most = tonumber(ARGV[5]), tonumber(ARGV[6])\n"
"local out = {}\n"
"for k = 1, #KEYS do\n"
"  if budget <= 0 and most <= 0 then break end\n"
"  local s = KEYS[k]\n"
"  local sum = redis.call('XPENDING', s, g)\n"
"  local n = sum[1]\n"
"  if n == 0 and budget > 0 then\n"
"    local r = redis.call('XREADGROUP', 'GROUP', g, me, 'COUNT',\n"
"      math.min(batch, budget), 'STREAMS', s, '>')\n"
"    if r then\n"
"      out[#out + 1] = tonumber(ARGV[6 + k])\n"
"      out[#out + 1] = r[1][2]\n"
"      out[#out + 1] = 1\n"
"      out[#out + 1] = ''\n"
"      budget = budget - #r[1][2]\n"
"    end\n"
"  elseif n > 0 and n <= most then\n"
"    local e, dv, from = resume(s, g, me, claim, sum)\n"
"    if e then\n"
"      out[#out + 1] = tonumber(ARGV[6 + k])\n"
"      out[#out + 1] = e\n"
"      out[#out + 1] = dv\n"
"      out[#out + 1] = from\n"
"      budget, most = budget - #e, most - #e\n"
"    end\n"
"  end\n"
"end\n"
"return out\n";

/*
 * KEYS: the dead-letter stream, the pool's results stream, the partition
 * streams of the batch (S of them), then for each job the stream its
 * result goes to.  ARGV: group, consumer, reply ttl ms, S, then 4 per
 * stream: partition, first id, last id (of its jobs here), the most
 * entries this consumer may hold between them; then 8 per job, grouped by
 * stream and in queue order within one: the stream's place (1 to S),
 * entry id, status, attempts, result, ref, dead-letter reason ("" for
 * none), and "r" for a reply stream or "p" for the pool's results.  A
 * packed entry's item is its place, its id, "P", then as LUA_PACKED
 * reads it, "r" or "p" in the place of the stream: its dead letters and
 * its one result entry are added as a plain entry's are.
 *
 * One XPENDING per stream, over the range of its jobs and for this
 * consumer, says which entries it still holds: only those are finished
 * (an id it did not list, past the count, is asked about alone).
 * For each, its result is added (a dead letter too if there is a reason,
 * with the entry's fields); then one XACK per stream takes them all, in
 * the same script, and they leave the stream.  Deleting entries one by
 * one costs Redis a search of their node each, so the stream is trimmed
 * instead up to its oldest pending entry (or past the batch's last, if
 * none is left): every entry before it was read, in order, and is no
 * longer pending, so it is finished.  Only the entries finished after it
 * are deleted by id, which leaves the stream just as deleting each would.
 * A reply stream that cannot take the result (not a stream) sends it to
 * the pool's results.  Returns for each
 * job 1 (done), 0 (not pending: finished before) or the name of the
 * consumer that holds it now.
 */
const char script_finish[] =
LUA_BEFORE
LUA_HOLDING
LUA_WITH_ENTRY
LUA_ACKED
LUA_PACKED
"local g, me, ttl, ns = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])\n"
"local held, acks, part = {}, {}, {}\n"
"for k = 1, ns do\n"
"  local b = 5 + 4 * (k - 1)\n"
"  local s = KEYS[2 + k]\n"
"  part[k] = ARGV[b]\n"
"  acks[k] = {}\n"
"  local h = {}\n"
"  for _, e in ipairs(redis.call('XPENDING', s, g, ARGV[b + 1],\n"
"    ARGV[b + 2], tonumber(ARGV[b + 3]), me)) do h[e[1]] = true end\n"
"  held[k] = h\n"
"end\n"
"local out, fresh = {}, {}\n"
"local function deliver(r, kind, ...)\n"
"  local x = false\n"
"  if kind == 'r' then\n"
"    x = redis.pcall('XADD', r, '*', ...)\n"
"    if type(x) == 'table' and x.err then x = false\n"
"    elseif not fresh[r] then\n"
"      redis.call('PEXPIRE', r, ttl)\n"
"      fresh[r] = true\n"
"    end\n"
"  end\n"
"  if not x then\n"
"    redis.call('XADD', KEYS[2], 'MAXLEN', '~', '1000000', '*', ...)\n"
"  end\n"
"end\n"
"local a, t = 5 + 4 * ns, 3 + ns\n"
"while a <= #ARGV do\n"
"  local k, id, st, att = tonumber(ARGV[a]), ARGV[a + 1], ARGV[a + 2],\n"
"    ARGV[a + 3]\n"
"  local res, ref, why, kind = ARGV[a + 4], ARGV[a + 5], ARGV[a + 6],\n"
"    ARGV[a + 7]\n"
"  local s, r, pt = KEYS[2 + k], KEYS[t], part[k]\n"
"  local f, dl, ok\n"
"  a, t = a + 8, t + 1\n"
"  if st == 'P' then\n"
"    f, kind, dl, a = packed(id, pt, me, a - 5)\n"
"  end\n"
"  ok = holding(s, g, me, held[k], id, out)\n"
"  if ok and f then\n"
"    for _, d in ipairs(dl) do\n"
"      redis.call('XADD', KEYS[1], '*', unpack(d))\n"
"    end\n"
"    deliver(r, kind, unpack(f))\n"
"  elseif ok then\n"
"    if why ~= '' then\n"
"      redis.call(unpack(with_entry({'XADD', KEYS[1], '*', 'job', id,\n"
"        'partition', pt, 'reason', why, 'consumer', me, 'attempts', att},\n"
"        s, id)))\n"
"    end\n"
"    if ref ~= '' then\n"
"      deliver(r, kind, 'job', id, 'partition', pt, 'status', st,\n"
"        'attempts', att, 'consumer', me, 'result', res, 'ref', ref)\n"
"    else\n"
"      deliver(r, kind, 'job', id, 'partition', pt, 'status', st,\n"
"        'attempts', att, 'consumer', me, 'result', res)\n"
"    end\n"
"  end\n"
"  if ok then\n"
"    local q = acks[k]\n"
"    q[#q + 1] = id\n"
"    out[#out + 1] = 1\n"
"  end\n"
"end\n"
"for k = 1, ns do\n"
"  if #acks[k] > 0 then\n"
"    acked(KEYS[2 + k], g, acks[k], ARGV[7 + 4 * (k - 1)])\n"
"  end\n"
"end\n"
"return out\n";

/*
 * KEYS: the lease, then streams this supervisor holds entries of.  ARGV:
 * group, consumer, token, lease ms.  Renews the lease (or takes it again
 * if it ran out), and makes every entry this consumer holds in those
 * streams look fresh (XCLAIM JUSTID: its delivery count stays), so that
 * nobody takes over a job that is only slow.  Returns {1 or 0 (the lease
 * is another's), then per stream the entries this consumer holds}.
 */
const char script_heartbeat[] =
"local l = redis.call('GET', KEYS[1])\n"
"local out = {1}\n"
"if l == ARGV[3] then\n"
"  redis.call('PEXPIRE', KEYS[1], ARGV[4])\n"
"elseif not l then\n"
"  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])\n"
"else\n"
"  out[1] = 0\n"
"end\n"
"for k = 2, #KEYS do\n"
"  local p = redis.call('XPENDING', KEYS[k], ARGV[1], '-', '+', 4096,\n"
"    ARGV[2])\n"
"  local c = {'XCLAIM', KEYS[k], ARGV[1], ARGV[2], '0'}\n"
"  for _, e in ipairs(p) do c[#c + 1] = e[1] end\n"
"  if #p > 0 then\n"
"    c[#c + 1] = 'JUSTID'\n"
"    redis.call(unpack(c))\n"
"  end\n"
"  out[#out + 1] = #p\n"
"end\n"
"return out\n";

/*
 * On a Redis Cluster (doc/SCALING.md), a script may touch the keys of one
 * slot only, and a partition's stream is in a slot of its own, away from
 * the reply streams.  So a partition's scripts store results in its
 * outbox, a stream in the same slot, with the ack; the forward script
 * then copies them to their streams in the pool's slot, exactly once,
 * and the outbox is trimmed.
 *
 * KEYS: a partition stream, its outbox.  ARGV: group, consumer, claim
 * idle ms (0: no claim this time), budget, batch, partition, the most it
 * may resume or take over.  As the take script, for one stream, with a
 * budget for new entries of its own; returns {partition, the outbox's
 * entries (up to 1024), then if the stream was read: entries,
 * deliveries, previous owners}.
 */
const char script_ctake[] =
LUA_RESUME
"local g, me, s = ARGV[1], ARGV[2], KEYS[1]\n"
"local claim, budget = tonumber(ARGV[3]), tonumber(ARGV[4])\n"
"local batch, most = tonumber(ARGV[5]), tonumber(ARGV[7])\n"
"local out = {tonumber(ARGV[6]),\n"
"  redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1024)}\n"
"local sum = redis.call('XPENDING', s, g)\n"
"local n = sum[1]\n"
"if n == 0 and budget > 0 then\n"
"  local r = redis.call('XREADGROUP', 'GROUP', g, me, 'COUNT',\n"
"    math.min(batch, budget), 'STREAMS', s, '>')\n"
"  if r then\n"
"    out[3], out[4], out[5] = r[1][2], 1, ''\n"
"  end\n"
"elseif n > 0 and n <= most then\n"
"  out[3], out[4], out[5] = resume(s, g, me, claim, sum)\n"
"end\n"
"return out\n";

/*
 * KEYS: a partition stream, its outbox.  ARGV: group, consumer,
 * partition, first id, last id, the most entries this consumer may hold
 * between them, the dead-letter stream, then 7 per job, in queue order:
 * entry id, status, attempts, result, ref, dead-letter reason ("" for
 * none), and the stream its result goes to; a packed entry's item is
 * its id, "P", then as LUA_PACKED reads it.  As the finish script, for
 * one stream, but what it would add goes to the outbox, each entry with
 * a field "to" first that names its stream.  Returns for each job 1, 0 or
 * the holder's name, then the outbox's entries (up to 1024): those of a
 * consumer that died before forwarding them come first.
 */
const char script_cfinish[] =
LUA_BEFORE
LUA_HOLDING
LUA_WITH_ENTRY
LUA_ACKED
LUA_PACKED
"local g, me, s, o = ARGV[1], ARGV[2], KEYS[1], KEYS[2]\n"
"local pt, dead = ARGV[3], ARGV[7]\n"
"local held, q, out = {}, {}, {}\n"
"for _, e in ipairs(redis.call('XPENDING', s, g, ARGV[4], ARGV[5],\n"
"  tonumber(ARGV[6]), me)) do held[e[1]] = true end\n"
"local a = 8\n"
"while a <= #ARGV do\n"
"  local id, st, att = ARGV[a], ARGV[a + 1], ARGV[a + 2]\n"
"  local res, ref, why, to = ARGV[a + 3], ARGV[a + 4], ARGV[a + 5],\n"
"    ARGV[a + 6]\n"
"  local f, dl, ok\n"
"  a = a + 7\n"
"  if st == 'P' then\n"
"    f, to, dl, a = packed(id, pt, me, a - 5)\n"
"  end\n"
"  ok = holding(s, g, me, held, id, out)\n"
"  if ok and f then\n"
"    for _, d in ipairs(dl) do\n"
"      redis.call('XADD', o, '*', 'to', dead, unpack(d))\n"
"    end\n"
"    redis.call('XADD', o, '*', 'to', to, unpack(f))\n"
"  elseif ok then\n"
"    if why ~= '' then\n"
"      redis.call(unpack(with_entry({'XADD', o, '*', 'to', dead, 'job', id,\n"
"        'partition', pt, 'reason', why, 'consumer', me, 'attempts', att},\n"
"        s, id)))\n"
"    end\n"
"    if ref ~= '' then\n"
"      redis.call('XADD', o, '*', 'to', to, 'job', id, 'partition', pt,\n"
"        'status', st, 'attempts', att, 'consumer', me, 'result', res,\n"
"        'ref', ref)\n"
"    else\n"
"      redis.call('XADD', o, '*', 'to', to, 'job', id, 'partition', pt,\n"
"        'status', st, 'attempts', att, 'consumer', me, 'result', res)\n"
"    end\n"
"  end\n"
"  if ok then\n"
"    q[#q + 1] = id\n"
"    out[#out + 1] = 1\n"
"  end\n"
"end\n"
"if #q > 0 then acked(s, g, q, ARGV[5]) end\n"
"out[#out + 1] = redis.call('XRANGE', o, '-', '+', 'COUNT', 1024)\n"
"return out\n";

/*
 * KEYS: the pool's forward hash, results stream, dead-letter stream,
 * then for each outbox entry the stream it goes to.  ARGV: reply ttl ms,
 * partition, then per entry, in outbox order: its id, its field count,
 * its fields (without "to").  The hash holds the last outbox id of each
 * partition forwarded: an entry not past it was forwarded before, by
 * this supervisor or another, and is skipped, so that each is added
 * once and a partition's in order.  A reply stream that cannot take the
 * result (not a stream) sends it to the pool's results.  Returns the
 * count forwarded.
 */
const char script_forward[] =
LUA_BEFORE
"local ttl, pt = ARGV[1], ARGV[2]\n"
"local last = redis.call('HGET', KEYS[1], pt)\n"
"local a, n, fresh = 3, 0, {}\n"
"for k = 4, #KEYS do\n"
"  local id, nf, f = ARGV[a], tonumber(ARGV[a + 1]), {}\n"
"  for i = 1, nf do f[i] = ARGV[a + 1 + i] end\n"
"  a = a + 2 + nf\n"
"  if not last or before(last, id) then\n"
"    local to = KEYS[k]\n"
"    local x = false\n"
"    if to == KEYS[3] then\n"
"      x = redis.call('XADD', to, '*', unpack(f))\n"
"    elseif to ~= KEYS[2] then\n"
"      x = redis.pcall('XADD', to, '*', unpack(f))\n"
"      if type(x) == 'table' and x.err then x = false\n"
"      elseif not fresh[to] then\n"
"        redis.call('PEXPIRE', to, ttl)\n"
"        fresh[to] = true\n"
"      end\n"
"    end\n"
"    if not x then\n"
"      redis.call('XADD', KEYS[2], 'MAXLEN', '~', '1000000', '*',\n"
"        unpack(f))\n"
"    end\n"
"    last, n = id, n + 1\n"
"  end\n"
"end\n"
"if n > 0 then redis.call('HSET', KEYS[1], pt, last) end\n"
"return n\n";

/*
 * KEYS: a partition stream this supervisor holds entries of.  ARGV:
 * group, consumer.  The heartbeat's refresh of one stream, on a Redis
 * Cluster, where the lease is elsewhere.  Returns the entries held.
 */
const char script_cheartbeat[] =
"local p = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 4096,\n"
"  ARGV[2])\n"
"if #p > 0 then\n"
"  local c = {'XCLAIM', KEYS[1], ARGV[1], ARGV[2], '0'}\n"
"  for _, e in ipairs(p) do c[#c + 1] = e[1] end\n"
"  c[#c + 1] = 'JUSTID'\n"
"  redis.call(unpack(c))\n"
"end\n"
"return #p\n";

/* KEYS: the lease.  ARGV: token.  Gives the lease up, if it is ours. */
const char script_release[] =
"if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
"  return redis.call('DEL', KEYS[1])\n"
"end\n"
"return 0\n";
