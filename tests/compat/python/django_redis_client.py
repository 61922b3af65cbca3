#!/usr/bin/python3
"""django-redis (Debian's python3-django-redis), unmodified, as Django's cache:
Celery's documented one-task-at-a-time recipe (cache.add with a value every
worker shares) and cache.lock. Run by tests/compat/matrix.py against lockerd
and against redis-server:

  django_redis_client.py features django-redis <host:port>
    one JSON line per feature: {"client", "feature", "ok", "detail"}; a
    failed feature also says how many of its keys were left held ("held").
  django_redis_client.py contend django-redis <host:port> <seconds> <marker-file>
    takes and releases the lock "compat:contend:django-redis" in a loop; while holding it,
    owns <marker-file> (created with O_EXCL). Prints one JSON line:
    {"acquired": n, "violations": n} (and "error" when a call failed).
"""

import json
import os
import sys
import time

import django
from django.conf import settings

# Celery's recipe passes app.oid, which forked workers share: every worker
# adds the same value.
SHARED_OID = "celery-app-oid"
CONTENDED = "compat:contend:django-redis"


def setup(endpoint):
    settings.configure(CACHES={"default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://%s/0" % endpoint,
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
    }})
    django.setup()
    from django.core.cache import cache
    return cache


def expect(condition, what):
    if not condition:
        raise AssertionError(what)


def check(cache, feature, keys, body):
    """Runs one feature and prints its row; keys are those it may leave held."""
    row = {"client": "django-redis", "feature": feature, "ok": True, "detail": ""}
    try:
        row["detail"] = body() or ""
    except Exception as error:  # A failed feature, whatever raised it.
        row.update(ok=False, detail="%s: %s" % (type(error).__name__, error),
                   held=sum(cache.has_key(key) for key in keys))
    print(json.dumps(row), flush=True)


def features(cache):
    key = "compat:django:%d" % os.getpid()

    def add():
        expect(cache.add(key, SHARED_OID, 10), "add")
        expect(not cache.add(key, SHARED_OID, 10), "a second add with the same value succeeded")
        expect(cache.get(key) == SHARED_OID, "get")
        expect(cache.delete(key), "delete")
    check(cache, "add() with a shared value (Celery's task lock), get, delete", [key], add)

    def lock():
        held = cache.lock(key + ":lock", timeout=5)
        expect(held.acquire(blocking=False), "acquire")
        rival = cache.lock(key + ":lock", timeout=5)
        expect(not rival.acquire(blocking_timeout=0.2), "a second holder got the lock")
        expect(held.extend(5), "extend")
        held.release()
        expect(not cache.has_key(key + ":lock"), "still held after release")
    check(cache, "lock(): acquire, a rival waits, extend, release", [key + ":lock"], lock)

    def forever():
        expect(cache.set(key + ":forever", "v", timeout=None), "set")
        cache.delete(key + ":forever")
    check(cache, "set(timeout=None): a value without a ttl", [key + ":forever"], forever)


def contend(cache, seconds, marker):
    acquired = violations = 0
    out = {}
    end = time.time() + seconds
    try:
        while time.time() < end:
            if not cache.add(CONTENDED, SHARED_OID, 3):
                time.sleep(0.002)
                continue
            acquired += 1
            try:
                os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                violations += 1  # Someone else is inside.
            time.sleep(0.002)
            try:
                os.unlink(marker)
            except FileNotFoundError:
                pass
            expect(cache.delete(CONTENDED), "delete found nothing to delete")
    except Exception as error:  # Reported, as the other clients do.
        out["error"] = "%s: %s" % (type(error).__name__, error)
    print(json.dumps(dict(acquired=acquired, violations=violations, **out)))


def main():
    mode, _, endpoint = sys.argv[1:4]
    cache = setup(endpoint)
    if mode == "contend":
        contend(cache, int(sys.argv[4]), sys.argv[5])
    else:
        features(cache)


if __name__ == "__main__":
    main()
