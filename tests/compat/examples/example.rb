# ruby-redis: SET NX PX to take the lock, a script to release it.
require 'redis'

redis = Redis.new(port: Integer(ENV.fetch('LOCKERD_PORT', '6379')))
release = 'if redis.call("get",KEYS[1]) == ARGV[1] then return redis.call("del",KEYS[1]) else return 0 end'

if redis.set('jobs:nightly-report', 'worker-1', nx: true, px: 10_000)
  token = redis.call('LOCKINFO', 'jobs:nightly-report')[3]
  puts "holding the lock, fencing token #{token}"
  redis.eval(release, keys: ['jobs:nightly-report'], argv: ['worker-1'])
end
