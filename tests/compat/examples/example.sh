# redis-cli: lockerd's commands, and a Lua script with --eval.
p=${LOCKERD_PORT:-6379}
token=$(redis-cli -p "$p" LOCK jobs:nightly-report worker-1 10000)   # the fencing token
echo "holding the lock, fencing token $token"
redis-cli -p "$p" EXTEND jobs:nightly-report worker-1 10000
redis-cli -p "$p" LOCK jobs:nightly-report worker-2 10000 WAIT 100  # (nil): still held
redis-cli -p "$p" RELEASE jobs:nightly-report worker-1
