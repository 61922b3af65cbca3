// node: redlock 5 over ioredis, unchanged, pointed at one lockerd member.
const Redis = require('ioredis');
const Redlock = require('redlock5').default;  // npm install redlock@5.0.0-beta.2

async function main() {
  const client = new Redis({ port: Number(process.env.LOCKERD_PORT || 6379) });
  const redlock = new Redlock([client], { retryCount: 20, retryDelay: 50 });
  const lock = await redlock.acquire(['jobs:nightly-report'], 10000);
  const [, , , token] = await client.call('LOCKINFO', 'jobs:nightly-report');
  console.log('holding the lock, fencing token', token);
  await lock.extend(10000);
  await lock.release();
  client.disconnect();
}

main().catch((error) => { console.error(error); process.exit(1); });
