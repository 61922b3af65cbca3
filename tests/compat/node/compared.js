// The node clients and lock libraries the compatibility matrix runs against
// lockerd AND against redis-server, each unmodified, through its own API.
// Run by tests/compat/matrix.py:
//
//   node compared.js features <library> <host:port>
//     one JSON line per feature: {"client", "feature", "ok", "detail"}; a
//     failed feature also says how many of its keys were left held ("held").
//   node compared.js contend <library> <host:port> <seconds> <marker-file>
//     takes and releases the lock "compat:contend:<library>" in a loop for <seconds>;
//     while holding it, owns <marker-file> (created with O_EXCL). Prints one
//     JSON line: {"acquired": n, "violations": n} (and "error" on a failure).
'use strict';

const fs = require('fs');
const { promisify } = require('util');

const [mode, library, endpoint, ...rest] = process.argv.slice(2);
const [host, portText] = endpoint.split(':');
const port = Number(portText);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const RELEASE = 'if redis.call("get",KEYS[1]) == ARGV[1] then return redis.call("del",KEYS[1]) else return 0 end';

function expect(condition, what) {
  if (!condition) throw new Error(what);
}

// A plain client that reads what a failed feature left held.
function ioredis6() {
  const Redis = require('ioredis6');
  return new Redis({ host, port, maxRetriesPerRequest: 2 });
}

async function nodeRedis(moduleName, options = {}) {
  const client = require(moduleName).createClient({ socket: { host, port }, ...options });
  client.on('error', () => {});
  await client.connect();
  return client;
}

// node-redis 3: callbacks, connected on creation.
async function nodeRedis3() {
  const client = require('redis3').createClient({ host, port });
  client.on('error', () => {});
  await new Promise((resolve, reject) => { client.once('ready', resolve); client.once('error', reject); });
  return client;
}

async function check(feature, keys, body) {
  const row = { client: library, feature, ok: true, detail: '' };
  try {
    row.detail = String((await body()) || '');
  } catch (error) {
    row.ok = false;
    row.detail = String((error && error.message) || error);
    // ioredis puts the replies that made EXEC fail beside its EXECABORT.
    for (const previous of (error && error.previousErrors) || []) row.detail += `; ${previous.message}`;
    const reader = ioredis6();
    row.held = keys.length ? await reader.exists(...keys).catch(() => -1) : 0;
    reader.disconnect();
  }
  process.stdout.write(JSON.stringify(row) + '\n');
}

// --- Plain clients ----------------------------------------------------------

async function redis6Features() {
  const client = await nodeRedis('redis');
  const key = `compat:redis6:${process.pid}`;
  await check('SET NX PX, GET, DEL', [key], async () => {
    expect((await client.set(key, 'me', { NX: true, PX: 5000 })) === 'OK', 'SET NX refused');
    expect((await client.set(key, 'me', { NX: true, PX: 5000 })) === null, 'a second SET NX with the same value succeeded');
    expect((await client.get(key)) === 'me', 'GET');
    expect((await client.del(key)) === 1, 'DEL');
  });
  await check('scriptLoad, evalSha of a release script', [key], async () => {
    await client.set(key, 'me', { NX: true, PX: 5000 });
    const sha = await client.scriptLoad(RELEASE);
    expect((await client.evalSha(sha, { keys: [key], arguments: ['other'] })) === 0, 'released by a stranger');
    expect((await client.evalSha(sha, { keys: [key], arguments: ['me'] })) === 1, 'not released by the owner');
  });
  await check('multi().exec() (MULTI/EXEC)', [key + ':tx'], async () => {
    const replies = await client.multi().set(key + ':tx', 'me', { NX: true, PX: 5000 }).pTTL(key + ':tx').exec();
    await client.del(key + ':tx');
    expect(replies[0] === 'OK', `EXEC replies ${JSON.stringify(replies)}`);
  });
  await client.quit();
}

async function ioredis6Features() {
  const client = ioredis6();
  const key = `compat:ioredis6:${process.pid}`;
  await check('SET NX PX, GET, DEL', [key], async () => {
    expect((await client.set(key, 'me', 'PX', 5000, 'NX')) === 'OK', 'SET NX refused');
    expect((await client.set(key, 'me', 'PX', 5000, 'NX')) === null, 'a second SET NX with the same value succeeded');
    expect((await client.get(key)) === 'me', 'GET');
    expect((await client.del(key)) === 1, 'DEL');
  });
  await check('defineCommand (EVALSHA, EVAL on NOSCRIPT)', [key], async () => {
    await client.script('FLUSH');
    client.defineCommand('releaseIf', { numberOfKeys: 1, lua: RELEASE });
    await client.set(key, 'me', 'PX', 5000, 'NX');
    expect((await client.releaseIf(key, 'other')) === 0, 'released by a stranger');
    expect((await client.releaseIf(key, 'me')) === 1, 'not released by the owner');
  });
  await check('pipeline()', [key + ':0', key + ':1'], async () => {
    const replies = await client.pipeline().set(key + ':0', 'me', 'PX', 5000, 'NX')
      .set(key + ':1', 'me', 'PX', 5000, 'NX').del(key + ':0', key + ':1').exec();
    expect(JSON.stringify(replies) === '[[null,"OK"],[null,"OK"],[null,2]]', JSON.stringify(replies));
  });
  await check('multi().exec() (MULTI/EXEC)', [key + ':tx'], async () => {
    const replies = await client.multi().set(key + ':tx', 'me', 'PX', 5000, 'NX').pttl(key + ':tx').exec();
    await client.del(key + ':tx');
    expect(replies[0][1] === 'OK', `EXEC replies ${JSON.stringify(replies)}`);
  });
  client.disconnect();
}

// --- Lock libraries ---------------------------------------------------------

// Each library behind one interface: acquire(name, ttl) -> handle or null,
// extend(handle, ttl) -> true when extended (absent if it has none),
// release(handle), stored(name) -> the key it keeps, close().
const LOCKS = {
  // The plain clients take the lock as Redis's docs say: SET NX PX with a
  // value of their own, released by the compare-and-delete script.
  async 'redis-6'() {
    const client = await nodeRedis('redis');
    return plainLock(
      (name, value, ttl) => client.set(name, value, { NX: true, PX: ttl }),
      (name, value) => client.eval(RELEASE, { keys: [name], arguments: [value] }),
      () => client.quit());
  },
  async 'ioredis-6'() {
    const client = ioredis6();
    return plainLock(
      (name, value, ttl) => client.set(name, value, 'PX', ttl, 'NX'),
      (name, value) => client.eval(RELEASE, 1, name, value),
      () => client.disconnect());
  },
  async 'redlock-universal'() {
    const { createLock, IoredisAdapter } = require('redlock-universal');
    const client = ioredis6();
    const adapter = new IoredisAdapter(client);
    const locks = new Map();  // A lock object per name, made with its ttl.
    const lockFor = (name, ttl) => locks.get(name) || locks.set(name, createLock({
      adapter, key: name, ttl, retryAttempts: 0,
    })).get(name);
    return {
      acquire: (name, ttl) => lockFor(name, ttl).acquire().then((handle) => handle, (error) => {
        if (error.name === 'LockAcquisitionError' && /already|held|locked/i.test(error.message)) return null;
        throw error;
      }),
      extend: (handle, ttl) => lockFor(handle.key).extend(handle, ttl),
      release: (handle) => lockFor(handle.key).release(handle),
      stored: (name) => name,
      close: () => client.disconnect(),
    };
  },
  async redislock() {
    const redislock = require('redislock');
    const client = await nodeRedis3();
    return {
      acquire: async (name, ttl) => {
        const lock = redislock.createLock(client, { timeout: ttl, retries: 0 });
        return lock.acquire(name).then(() => lock, (error) => {
          if (error.name === 'LockAcquisitionError' && /Could not acquire/.test(error.message)) return null;
          throw error;
        });
      },
      extend: (lock, ttl) => lock.extend(ttl).then(() => true),
      release: (lock) => lock.release(),
      stored: (name) => name,
      close: () => client.quit(),
    };
  },
  async 'node-redis-warlock'() {
    const client = await nodeRedis3();
    const warlock = require('node-redis-warlock')(client);
    const lock = promisify((name, ttl, cb) => warlock.lock(name, ttl, (error, unlock, id) => cb(error, unlock && { name, unlock, id })));
    return {
      acquire: (name, ttl) => lock(name, ttl).then((handle) => handle || null),
      extend: (handle, ttl) => warlock.touch(handle.name, handle.id, ttl).then((reply) => reply === 'OK'),
      release: (handle) => promisify(handle.unlock)(),
      stored: (name) => warlock.makeKey(name),
      close: () => client.quit(),
    };
  },
  async 'redis-lock'() {
    // redis-lock waits (retrying every retryDelay) until it gets the lock.
    const client = await nodeRedis('redis4');
    const lock = require('redis-lock')(client, 5);
    return {
      acquire: (name, ttl) => lock(name, ttl),
      release: (unlock) => unlock(),
      stored: (name) => `lock.${name}`,
      close: () => client.quit(),
    };
  },
  async '@redis-kit/lock'() {
    const { Redlock } = require('@redis-kit/lock');
    const client = await nodeRedis('redis');
    const redlock = new Redlock([client], { retryDelayMs: 5, maxRetryAttempts: 0 });
    return {
      acquire: (name, ttl) => redlock.acquire(name, ttl),
      extend: (lock, ttl) => lock.extend(ttl),
      release: (lock) => lock.release(),
      stored: (name) => name,
      close: () => client.quit(),
      redlock,
    };
  },
  async 'simple-redis-mutex'() {
    const { tryLock } = require('simple-redis-mutex');
    const client = await nodeRedis('redis');
    return {
      acquire: async (name, ttl) => {
        const [held, release] = await tryLock(client, name, { timeout: ttl });
        return held ? release : null;
      },
      extend: (release) => release.refreshTimeout().then(() => true),
      release: (release) => release(),
      stored: (name) => `@simple-redis-mutex:lock-${name}`,
      close: () => client.quit(),
    };
  },
};

function plainLock(setNx, releaseIf, close) {
  const value = `${process.pid}:${Math.random()}`;
  return {
    acquire: async (name, ttl) => ((await setNx(name, value, ttl)) === 'OK' ? name : null),
    release: async (name) => expect((await releaseIf(name, value)) === 1, 'the release script answered 0 for a lock this process held'),
    stored: (name) => name,
    close,
  };
}

async function lockFeatures() {
  const api = await LOCKS[library]();
  const reader = ioredis6();
  const name = `compat:${library}:${process.pid}`;
  const key = api.stored(name);
  let handle = null;
  await check('acquire', [key], async () => {
    handle = await api.acquire(name, 5000);
    expect(handle, 'acquire returned nothing');
    const left = await reader.pttl(key);
    expect(left > 4000, `PTTL ${left} after acquire`);
  });
  if (!handle) {  // Nothing to go on with: the rows below need the lock.
    reader.disconnect();
    return api.close();
  }
  await check('acquire while held is refused', [key], async () => {
    const rival = await LOCKS[library]();
    // Some libraries wait for the lock: 1.5 s without it is a refusal.
    const second = await Promise.race([rival.acquire(name, 5000), sleep(1500).then(() => null)]);
    await rival.close();
    expect(!second, 'a second holder got the lock');
  });
  if (api.extend) {
    await check('extend', [key], async () => {
      expect(handle, 'no lock to extend');
      await sleep(300);
      const before = await reader.pttl(key);
      // simple-redis-mutex renews to the lock's own timeout; the rest to 20 s.
      expect(await api.extend(handle, 20000), 'extend answered false');
      const after = await reader.pttl(key);
      expect(after > before + 200, `PTTL ${before} -> ${after}`);
      return `PTTL ${before} -> ${after}`;
    });
  }
  await check('release', [key], async () => {
    expect(handle, 'no lock to release');
    await api.release(handle);
    expect((await reader.exists(key)) === 0, 'still held after release');
  });
  if (api.redlock) {
    await check('withLock() over two resources', [name + ':a', name + ':b'], async () => {
      const held = await api.redlock.withLock([name + ':a', name + ':b'], 5000,
        async () => reader.exists(name + ':a', name + ':b'));
      const after = await reader.exists(name + ':a', name + ':b');
      expect(held === 2 && after === 0, `held ${held}, after ${after}`);
    });
  }
  reader.disconnect();
  await api.close();
}

async function contend(seconds, marker) {
  const api = await LOCKS[library]();
  const end = Date.now() + seconds * 1000;
  let acquired = 0;
  let violations = 0;
  const out = {};
  try {
    while (Date.now() < end) {
      const lock = await api.acquire(`compat:contend:${library}`, 3000);
      if (!lock) {
        await sleep(2);
        continue;
      }
      acquired++;
      try {
        fs.closeSync(fs.openSync(marker, 'wx'));
      } catch (error) {
        violations++;  // Someone else is inside.
      }
      await sleep(2);
      try { fs.unlinkSync(marker); } catch (error) { /* it was not ours */ }
      await api.release(lock);
    }
  } catch (error) {
    out.error = String((error && error.message) || error);
  }
  process.stdout.write(JSON.stringify({ acquired, violations, ...out }) + '\n');
  await api.close();
}

async function main() {
  if (mode === 'contend') return contend(Number(rest[0]), rest[1]);
  if (library === 'redis-6') return redis6Features();
  if (library === 'ioredis-6') return ioredis6Features();
  return lockFeatures();
}

main().then(() => process.exit(0), (error) => {
  process.stdout.write(JSON.stringify({ client: library, feature: 'run', ok: false, detail: String(error && error.stack) }) + '\n');
  process.exit(1);
});
