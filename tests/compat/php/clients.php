<?php
// The PHP clients of the compatibility matrix, Debian's packages unmodified:
// phpredis (php-redis), malkusch/lock's PHPRedisMutex (php-malkusch-lock) and
// Symfony Lock's RedisStore (php-symfony-lock). Run by tests/compat/matrix.py
// against lockerd and against redis-server:
//
//   php clients.php features <library> <host:port>
//     one JSON line per feature: {"client", "feature", "ok", "detail"}; a
//     failed feature also says how many of its keys were left held ("held").
//   php clients.php contend <library> <host:port> <seconds> <marker-file>
//     takes and releases the lock "compat:contend:<library>" in a loop; while holding
//     it, owns <marker-file> (created exclusively). Prints one JSON line:
//     {"acquired": n, "violations": n} (and "error" when a call failed).
declare(strict_types=1);

require_once '/usr/share/php/Malkusch/Lock/autoload.php';
require_once '/usr/share/php/Symfony/Component/Lock/autoload.php';

use malkusch\lock\exception\TimeoutException;
use malkusch\lock\mutex\PHPRedisMutex;
use Symfony\Component\Lock\LockFactory;
use Symfony\Component\Lock\Store\RedisStore;

const RELEASE = 'if redis.call("get",KEYS[1]) == ARGV[1] then return redis.call("del",KEYS[1]) else return 0 end';

[, $mode, $library, $endpoint] = $argv;
[$host, $port] = explode(':', $endpoint);

function connect(): Redis
{
    global $host, $port;
    $redis = new Redis();
    $redis->connect($host, (int) $port, 2.0);
    return $redis;
}

// Every message of an exception and of those it wraps.
function messages(Throwable $error): string
{
    $parts = [];
    for (; $error !== null; $error = $error->getPrevious()) {
        $parts[] = get_class($error) . ': ' . rtrim($error->getMessage(), "\0");
    }
    return implode(' <- ', $parts);
}

function expect(bool $condition, string $what): void
{
    if (!$condition) {
        throw new RuntimeException($what);
    }
}

// Runs one feature and prints its row; $keys are those it may leave held.
function check(string $feature, array $keys, callable $body): void
{
    global $library;
    $row = ['client' => $library, 'feature' => $feature];
    try {
        $row['detail'] = (string) ($body() ?? '');
        $row['ok'] = true;
    } catch (Throwable $error) {
        $row['ok'] = false;
        $row['detail'] = messages($error);
        $row['held'] = $keys ? connect()->exists(...$keys) : 0;
    }
    echo json_encode($row), "\n";
}

function phpredisFeatures(Redis $redis): void
{
    $key = 'compat:phpredis:' . getmypid();
    check('connect, PING, SET NX PX, GET, DEL', [$key], function () use ($redis, $key) {
        expect($redis->ping() === true, 'PING');
        expect($redis->set($key, 'me', ['nx', 'px' => 5000]) === true, 'SET NX refused');
        expect($redis->set($key, 'me', ['nx', 'px' => 5000]) === false, 'a second SET NX with the same value succeeded');
        expect($redis->get($key) === 'me', 'GET');
        expect($redis->del($key) === 1, 'DEL');
    });
    check('eval, evalSha and script(load) of a release script', [$key], function () use ($redis, $key) {
        $redis->set($key, 'me', ['nx', 'px' => 5000]);
        $sha = $redis->script('load', RELEASE);
        expect($redis->evalSha($sha, [$key, 'other'], 1) === 0, 'released by a stranger');
        expect($redis->eval(RELEASE, [$key, 'me'], 1) === 1, 'not released by the owner');
    });
    check('pipeline (multi(Redis::PIPELINE))', [$key . ':0', $key . ':1'], function () use ($redis, $key) {
        $replies = $redis->multi(Redis::PIPELINE)
            ->set($key . ':0', 'me', ['nx', 'px' => 5000])->set($key . ':1', 'me', ['nx', 'px' => 5000])
            ->del($key . ':0', $key . ':1')->exec();
        expect($replies === [true, true, 2], 'replies ' . json_encode($replies));
    });
    check('transaction (multi(), exec(): MULTI/EXEC)', [$key . ':tx'], function () use ($key) {
        $redis = connect();  // Its own connection: a refused MULTI leaves none behind.
        $transaction = $redis->multi();
        expect($transaction !== false, 'multi() answered false: ' . $redis->getLastError());
        $replies = $transaction->set($key . ':tx', 'me', ['nx', 'px' => 5000])->pttl($key . ':tx')->exec();
        expect(is_array($replies) && $replies[0] === true, 'exec: ' . json_encode($replies) . ' ' . $redis->getLastError());
        $redis->del($key . ':tx');
    });
}

function malkuschFeatures(Redis $redis): void
{
    $name = 'compat-malkusch-' . getmypid();
    $key = 'lock_' . $name;  // Its key: "lock_" and the mutex's name.
    check('synchronized() holds the lock while the code runs', [$key], function () use ($redis, $name, $key) {
        $mutex = new PHPRedisMutex([$redis], $name, 2);
        $inside = $mutex->synchronized(fn () => [$redis->exists($key), $redis->pttl($key)]);
        expect($inside[0] === 1 && $inside[1] > 2000, 'inside: EXISTS ' . $inside[0] . ', PTTL ' . $inside[1]);
        expect($redis->exists($key) === 0, 'still held after synchronized() returned');
        return 'PTTL ' . $inside[1] . ' inside';
    });
    check('a second mutex waits, then times out (TimeoutException)', [$key], function () use ($redis, $name) {
        $outer = new PHPRedisMutex([$redis], $name, 3);
        return $outer->synchronized(function () use ($name) {
            $rival = new PHPRedisMutex([connect()], $name, 1);
            try {
                $rival->synchronized(fn () => null);
            } catch (TimeoutException $timeout) {
                return 'timed out after 1 s';
            }
            throw new RuntimeException('a second holder ran');
        });
    });
}

function symfonyFeatures(Redis $redis): void
{
    $resource = 'compat:symfony:' . getmypid();  // RedisStore's key is the resource.
    $factory = new LockFactory(new RedisStore($redis));
    $lock = $factory->createLock($resource, 10);
    check('acquire, isAcquired', [$resource], function () use ($lock) {
        expect($lock->acquire() === true, 'acquire');
        expect($lock->isAcquired(), 'isAcquired');
    });
    check('acquire while held is refused', [$resource], function () use ($factory, $resource) {
        expect($factory->createLock($resource, 10)->acquire() === false, 'a second holder got the lock');
    });
    check('refresh, release', [$resource], function () use ($lock, $redis, $resource) {
        $lock->refresh(20);
        $left = $lock->getRemainingLifetime();
        expect($left > 15, 'remaining lifetime ' . $left);
        $lock->release();
        expect(!$lock->isAcquired() && $redis->exists($resource) === 0, 'still held after release');
    });
}

// One library's way to take and give back a lock, for the contention loop.
function locker(string $library, Redis $redis): array
{
    $token = bin2hex(random_bytes(8));
    $name = 'compat:contend:' . $library;
    if ($library === 'phpredis') {
        return [function (callable $body) use ($redis, $token, $name) {
            if (!$redis->set($name, $token, ['nx', 'px' => 3000])) {
                return null;
            }
            $held = $body();
            // phpredis answers a script's error with false, not an exception.
            $released = $redis->eval(RELEASE, [$name, $token], 1);
            expect($released === 1, 'release answered ' . json_encode($released) . ': ' . $redis->getLastError());
            return $held;
        }];
    }
    if ($library === 'malkusch-lock') {
        $mutex = new PHPRedisMutex([$redis], $name, 1);
        return [function (callable $body) use ($mutex) {
            try {
                return $mutex->synchronized($body);
            } catch (TimeoutException $timeout) {
                return null;
            }
        }];
    }
    $factory = new LockFactory(new RedisStore($redis));
    return [function (callable $body) use ($factory, $name) {
        $lock = $factory->createLock($name, 3);
        if (!$lock->acquire()) {
            return null;
        }
        $held = $body();
        $lock->release();
        return $held;
    }];
}

function contend(string $library, int $seconds, string $marker): void
{
    [$withLock] = locker($library, connect());
    $acquired = $violations = 0;
    $out = [];
    $end = microtime(true) + $seconds;
    try {
        while (microtime(true) < $end) {
            $held = $withLock(function () use (&$acquired, &$violations, $marker) {
                $acquired++;
                $file = @fopen($marker, 'x');
                if ($file === false) {
                    $violations++;  // Someone else is inside.
                } else {
                    fclose($file);
                }
                usleep(2000);
                @unlink($marker);
                return true;
            });
            // A pause either way: malkusch/lock's waiter backs off, and
            // would never win against a holder that takes the lock again at once.
            usleep($held === null ? 2000 : 5000);
        }
    } catch (Throwable $error) {
        $out['error'] = messages($error);
    }
    echo json_encode(['acquired' => $acquired, 'violations' => $violations] + $out), "\n";
}

if ($mode === 'contend') {
    contend($library, (int) $argv[4], $argv[5]);
    exit(0);
}
$redis = connect();
['phpredis' => 'phpredisFeatures', 'malkusch-lock' => 'malkuschFeatures',
 'symfony-lock' => 'symfonyFeatures'][$library]($redis);
