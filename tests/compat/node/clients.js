// The node client libraries of the compatibility matrix, each driven through
// its own public API, unmodified, against lockerd. Run by tests/compat/matrix.py.
//
//   node clients.js features <library> <host:port>
//     prints one JSON line per feature: {"client", "feature", "ok", "detail"}
//   node clients.js contend <library> <host:port> <seconds> <marker-file>
//     takes and releases the lock "compat:contend" in a loop for <seconds>;
//     while holding it, it owns <marker-file> (created with O_EXCL), so two
//     holders at once show up as a failed create. Prints one JSON line:
//     {"acquired": n, "violations": n}
'use strict';

const fs = require('fs');

const [mode, library, endpoint, ...rest] = process.argv.slice(2);
const [host, portText] = endpoint.split(':');
const port = Number(portText);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function report(feature, ok, detail) {
  process.stdout.write(JSON.stringify({ client: library, feature, ok, detail: String(detail || '') }) + '\n');
}

async function check(feature, body) {
  try {
    report(feature, true, await body());
  } catch (error) {
    report(feature, false, (error && error.message) || error);
  }
}

function expect(condition, what) {
  if (!condition) throw new Error(what);
}

function ioredis() {
  const Redis = require('ioredis');
  return new Redis({ host, port, maxRetriesPerRequest: 2, enableOfflineQueue: true });
}

// A lock library behind one interface: acquire(key, ttl) -> handle or null,
// extend(handle, ttl), release(handle).
function lockApi(name, client) {
  if (name === 'no-lock') {
    // The matrix's self-test: "acquires" without asking anyone, so the
    // contention check must report violations.
    return { acquire: async () => ({}), extend: async (lock) => lock, release: async () => {} };
  }
  if (name === 'redlock4') {
    const Redlock = require('redlock4');
    const redlock = new Redlock([client], { retryCount: 40, retryDelay: 10, retryJitter: 10 });
    redlock.on('clientError', () => {});
    return {
      acquire: (keys, ttl) => redlock.lock(keys, ttl).catch((error) => {
        if (error.name === 'LockError') return null;
        throw error;
      }),
      extend: (lock, ttl) => lock.extend(ttl),
      release: (lock) => lock.unlock(),
    };
  }
  if (name === 'redlock5' || name === 'sesamecare-redlock') {
    const Redlock = name === 'redlock5' ? require('redlock5').default : require('@sesamecare-oss/redlock').Redlock;
    const redlock = new Redlock([client], { retryCount: 40, retryDelay: 10, retryJitter: 10 });
    redlock.on('error', () => {});
    return {
      acquire: (keys, ttl) => redlock.acquire(keys, ttl).catch((error) => {
        if (error.name === 'ExecutionError' || error.name === 'ResourceLockedError') return null;
        throw error;
      }),
      extend: (lock, ttl) => lock.extend(ttl),
      release: (lock) => lock.release(),
      redlock,
    };
  }
  if (name === 'redis-semaphore') {
    const { Mutex } = require('redis-semaphore');
    return {
      acquire: async (keys, ttl) => {
        const mutex = new Mutex(client, keys[0], {
          lockTimeout: ttl, acquireTimeout: 2000, retryInterval: 5, refreshInterval: 0,
        });
        return (await mutex.tryAcquire()) ? mutex : null;
      },
      extend: (mutex) => mutex.refresh ? mutex.refresh() : mutex.acquire(),
      release: (mutex) => mutex.release(),
    };
  }
  throw new Error('unknown lock library ' + name);
}

async function lockFeatures(name) {
  const client = ioredis();
  const api = lockApi(name, client);
  const key = `compat:${name}:${process.pid}`;
  // redis-semaphore keeps a Mutex named k under the key "mutex:k".
  const stored = (k) => (name === 'redis-semaphore' ? 'mutex:' + k : k);
  let lock = null;
  await check('acquire', async () => {
    lock = await api.acquire([key], 5000);
    expect(lock, 'acquire returned nothing');
    const info = await client.call('LOCKINFO', stored(key));
    expect(info && info[1] === (lock.value || lock.identifier), `LOCKINFO says ${JSON.stringify(info)}`);
    return `fencing token ${info[3]} (LOCKINFO)`;
  });
  await check('acquire while held is refused', async () => {
    const other = lockApi(name, ioredis());
    const second = await Promise.race([other.acquire([key], 5000), sleep(1500).then(() => null)]);
    expect(!second, 'a second holder got the lock');
  });
  await check('extend', async () => {
    expect(lock, 'no lock to extend');
    if (name === 'redis-semaphore') {
      // Mutex refreshes itself: a short lockTimeout outlives itself while held.
      const { Mutex } = require('redis-semaphore');
      const mutex = new Mutex(client, key + ':refresh', { lockTimeout: 600, refreshInterval: 150 });
      await mutex.acquire();
      await sleep(1500);
      const owner = await client.get(stored(key + ':refresh'));
      const alive = mutex.isAcquired;
      await mutex.release();
      expect(alive && owner === mutex.identifier, 'the refreshed lock ran out');
      return 'refreshInterval kept a 600 ms lock for 1.5 s';
    }
    const before = Number(await client.pttl(key));
    await sleep(50);
    lock = await api.extend(lock, 20000);
    const after = Number(await client.pttl(key));
    expect(after > before && after > 15000, `pttl ${before} -> ${after}`);
    return `pttl ${before} -> ${after}`;
  });
  await check('release', async () => {
    expect(lock, 'no lock to release');
    await api.release(lock);
    expect((await client.exists(stored(key))) === 0, 'key still held after release');
  });
  if (api.redlock) {
    await check('multi-resource acquire and release', async () => {
      const keys = [key + ':a', key + ':b', key + ':c'];
      const multi = await api.acquire(keys, 5000);
      expect(multi, 'acquire of three resources failed');
      const held = await client.exists(...keys);
      await api.release(multi);
      const after = await client.exists(...keys);
      expect(held === 3 && after === 0, `held ${held}, after release ${after}`);
    });
    await check('using() with automatic extension', async () => {
      let ran = false;
      await api.redlock.using([key + ':using'], 1000, async (signal) => {
        await sleep(1500);
        expect(!signal.aborted, 'the lock was lost while in use');
        ran = true;
      });
      expect(ran, 'routine did not run');
      return 'held 1.5 s on a 1 s lease';
    });
  }
  client.disconnect();
}

async function nodeRedisFeatures() {
  const { createClient } = require('redis');
  for (const resp of [2, 3]) {
    const client = createClient({ socket: { host, port }, RESP: resp });
    client.on('error', () => {});
    await check(`connect and PING (RESP${resp})`, async () => {
      await client.connect();
      expect((await client.ping()) === 'PONG', 'no PONG');
    });
    const key = `compat:node-redis:${resp}:${process.pid}`;
    await check(`SET NX PX, GET, DEL (RESP${resp})`, async () => {
      expect((await client.set(key, 'me', { NX: true, PX: 5000 })) === 'OK', 'SET NX refused');
      expect((await client.set(key, 'you', { NX: true, PX: 5000 })) === null, 'second SET NX succeeded');
      expect((await client.get(key)) === 'me', 'GET is not the owner');
      expect((await client.del(key)) === 1, 'DEL did not release');
    });
    await check(`LOCK and fencing token (RESP${resp})`, async () => {
      const token = await client.sendCommand(['LOCK', key, 'me', '5000']);
      const info = await client.sendCommand(['LOCKINFO', key]);
      const owner = resp === 3 ? (info.owner ?? info.get?.('owner')) : info[1];
      expect(typeof token === 'number' && token > 0, `token ${token}`);
      expect(owner === 'me', `LOCKINFO owner ${JSON.stringify(info)}`);
      expect((await client.sendCommand(['RELEASE', key, 'me'])) === 1, 'RELEASE');
      return `token ${token}`;
    });
    await check(`EVAL release script (RESP${resp})`, async () => {
      await client.set(key, 'me', { NX: true, PX: 5000 });
      const script = 'if redis.call("get",KEYS[1]) == ARGV[1] then return redis.call("del",KEYS[1]) else return 0 end';
      expect((await client.eval(script, { keys: [key], arguments: ['other'] })) === 0, 'released by a stranger');
      expect((await client.eval(script, { keys: [key], arguments: ['me'] })) === 1, 'not released by the owner');
    });
    await client.quit().catch(() => {});
  }
}

async function ioredisFeatures() {
  const client = ioredis();
  await check('connect (ready check reads INFO loading:0) and PING', async () => {
    expect((await client.ping()) === 'PONG', 'no PONG');
    expect(client.status === 'ready', `status ${client.status}`);
  });
  const key = `compat:ioredis:${process.pid}`;
  await check('SET NX PX, GET, DEL', async () => {
    expect((await client.set(key, 'me', 'PX', 5000, 'NX')) === 'OK', 'SET NX refused');
    expect((await client.get(key)) === 'me', 'GET');
    expect((await client.del(key)) === 1, 'DEL');
  });
  await check('defineCommand (EVALSHA, EVAL on NOSCRIPT)', async () => {
    await client.script('FLUSH');
    client.defineCommand('releaseIf', {
      numberOfKeys: 1,
      lua: 'if redis.call("get",KEYS[1]) == ARGV[1] then return redis.call("del",KEYS[1]) else return 0 end',
    });
    await client.set(key, 'me', 'PX', 5000, 'NX');
    expect((await client.releaseIf(key, 'me')) === 1, 'not released');
    expect((await client.releaseIf(key, 'me')) === 0, 'released twice');
  });
  await check('pipeline of LOCK commands', async () => {
    const results = await client.pipeline()
      .call('LOCK', key + ':1', 'me', 5000).call('LOCK', key + ':2', 'me', 5000)
      .call('RELEASE', key + ':1', 'me').call('RELEASE', key + ':2', 'me').exec();
    expect(results.every(([error]) => !error), 'an error in the pipeline');
    expect(results[0][1] > 0 && results[2][1] === 1, JSON.stringify(results));
  });
  client.disconnect();
}

async function contend(name, seconds, marker) {
  const client = ioredis();
  const api = lockApi(name, client);
  const end = Date.now() + seconds * 1000;
  let acquired = 0;
  let violations = 0;
  while (Date.now() < end) {
    const lock = await api.acquire(['compat:contend'], 3000);
    if (!lock) continue;
    acquired++;
    try {
      fs.closeSync(fs.openSync(marker, 'wx'));
    } catch (error) {
      violations++;  // Someone else is inside.
    }
    await sleep(2);
    try { fs.unlinkSync(marker); } catch (error) { /* it was not ours */ }
    await api.release(lock).catch(() => {});
  }
  process.stdout.write(JSON.stringify({ acquired, violations }) + '\n');
  client.disconnect();
}

async function main() {
  if (mode === 'contend') return contend(library, Number(rest[0]), rest[1]);
  if (library === 'node-redis') return nodeRedisFeatures();
  if (library === 'ioredis') return ioredisFeatures();
  return lockFeatures(library);
}

main().then(() => process.exit(0), (error) => {
  report('run', false, error && error.stack);
  process.exit(1);
});
