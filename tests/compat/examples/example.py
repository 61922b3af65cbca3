# redis-py: its own Lock, unchanged, and lockerd's LOCK with its fencing token.
import os

import redis

r = redis.Redis(port=int(os.environ.get("LOCKERD_PORT", "6379")))

# redis-py's Lock: a 10 s lease (a timeout is required: every lock is a lease).
with r.lock("jobs:nightly-report", timeout=10, blocking_timeout=5) as lock:
    info = r.execute_command("LOCKINFO", "jobs:nightly-report")
    token = info[3]  # [b"owner", owner, b"token", token, b"remaining_ms", ms]
    print("holding the lock, fencing token", token)
    lock.extend(10)  # renew while the job runs

# lockerd's own command: LOCK answers the fencing token (or None if held).
token = r.execute_command("LOCK", "jobs:cleanup", "worker-1", 10000)
assert token is not None
print("cleanup lock, fencing token", token)  # pass it to the storage you write to
r.execute_command("RELEASE", "jobs:cleanup", "worker-1")
