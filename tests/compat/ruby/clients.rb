# ruby-redis (the Debian package), plain commands against lockerd. Run by
# tests/compat/matrix.py: ruby clients.rb <port>; one JSON line per feature.
require 'json'
require 'redis'

PORT = Integer(ARGV.fetch(0))
RELEASE = 'if redis.call("get",KEYS[1]) == ARGV[1] then return redis.call("del",KEYS[1]) else return 0 end'

def check(feature)
  detail = yield
  puts JSON.generate(client: 'ruby-redis', feature: feature, ok: true, detail: detail.to_s)
rescue StandardError => e
  puts JSON.generate(client: 'ruby-redis', feature: feature, ok: false, detail: "#{e.class}: #{e.message}")
end

def expect(condition, what)
  raise what unless condition
end

redis = Redis.new(host: '127.0.0.1', port: PORT)
key = "compat:ruby:#{Process.pid}"

check('connect and PING') { expect(redis.ping == 'PONG', 'no PONG') }
check('SET NX PX, GET, DEL') do
  expect(redis.set(key, 'me', nx: true, px: 5000) == true, 'SET NX refused')
  expect(redis.set(key, 'you', nx: true, px: 5000) == false, 'second SET NX succeeded')
  expect(redis.get(key) == 'me', 'GET')
  expect(redis.del(key) == 1, 'DEL')
end
check('LOCK, LOCKINFO and RELEASE (call)') do
  token = redis.call('LOCK', key, 'me', 5000)
  info = redis.call('LOCKINFO', key)
  expect(info[1] == 'me' && info[3] == token, "LOCKINFO #{info.inspect}")
  expect(redis.call('RELEASE', key, 'me') == 1, 'RELEASE')
  "token #{token}"
end
check('EVAL and EVALSHA release script') do
  redis.set(key, 'me', nx: true, px: 5000)
  sha = redis.script(:load, RELEASE)
  expect(redis.evalsha(sha, keys: [key], argv: ['other']) == 0, 'released by a stranger')
  expect(redis.eval(RELEASE, keys: [key], argv: ['me']) == 1, 'not released by the owner')
end
check('pipelined') do
  replies = redis.pipelined do |pipe|
    3.times { |i| pipe.call('LOCK', "#{key}:#{i}", 'me', 5000) }
    3.times { |i| pipe.call('RELEASE', "#{key}:#{i}", 'me') }
  end
  expect(replies[0..2].all? { |t| t.is_a?(Integer) && t > 0 } && replies[3..5] == [1, 1, 1], replies.inspect)
end
