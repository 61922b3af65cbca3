package main

import (
	"fmt"
	"time"

	"gopkg.in/redis.v5"
)

// go-redis v5: SetNX, Script (EVALSHA, then EVAL on NOSCRIPT), Pipelined and
// TxPipelined (MULTI/EXEC).
type goRedisClient struct {
	redis *redis.Client
}

func newGoRedis(endpoint string) client {
	return &goRedisClient{redis.NewClient(&redis.Options{Addr: endpoint, MaxRetries: 1})}
}

var goRedisRelease = redis.NewScript(releaseScript)

func (c *goRedisClient) acquire(key, value string, ttl time.Duration) (bool, error) {
	return c.redis.SetNX(key, value, ttl).Result()
}

func (c *goRedisClient) release(key, value string) error {
	released, err := goRedisRelease.Run(c.redis, []string{key}, value).Result()
	count, _ := released.(int64)
	return releasedOne(int(count), err)
}

func (c *goRedisClient) held(keys ...string) int {
	count := 0
	for _, key := range keys {
		exists, err := c.redis.Exists(key).Result()
		if err != nil {
			return -1
		}
		if exists {
			count++
		}
	}
	return count
}

func (c *goRedisClient) features(r *reporter) {
	key := fmt.Sprintf("compat:go-redis:%d", time.Now().UnixNano())
	r.check("PING, SetNX, Get, Del", []string{key}, func() (string, error) {
		if err := c.redis.Ping().Err(); err != nil {
			return "", err
		}
		if ok, err := c.acquire(key, "me", 5*time.Second); !ok || err != nil {
			return "", fmt.Errorf("SetNX: %v %v", ok, err)
		}
		if ok, err := c.acquire(key, "me", 5*time.Second); ok || err != nil {
			return "", fmt.Errorf("a second SetNX with the same value answered %v %v", ok, err)
		}
		if value, err := c.redis.Get(key).Result(); value != "me" {
			return "", fmt.Errorf("Get: %q %v", value, err)
		}
		deleted, err := c.redis.Del(key).Result()
		return "", expect(deleted == 1 && err == nil, "Del: %d %v", deleted, err)
	})
	r.check("Script.Run (EVALSHA, EVAL on NOSCRIPT)", []string{key}, func() (string, error) {
		if err := c.redis.ScriptFlush().Err(); err != nil {
			return "", err
		}
		c.acquire(key, "me", 5*time.Second)
		stranger, err := goRedisRelease.Run(c.redis, []string{key}, "other").Result()
		if err != nil || stranger != int64(0) {
			return "", fmt.Errorf("release by a stranger: %v %v", stranger, err)
		}
		owner, err := goRedisRelease.Run(c.redis, []string{key}, "me").Result()
		return "", expect(owner == int64(1) && err == nil, "release by the owner: %v %v", owner, err)
	})
	r.check("Pipelined", []string{key + ":0", key + ":1"}, func() (string, error) {
		cmds, err := c.redis.Pipelined(func(pipe *redis.Pipeline) error {
			pipe.SetNX(key+":0", "me", 5*time.Second)
			pipe.SetNX(key+":1", "me", 5*time.Second)
			pipe.Del(key+":0", key+":1")
			return nil
		})
		if err != nil {
			return "", err
		}
		deleted := cmds[2].(*redis.IntCmd).Val()
		return "", expect(cmds[0].(*redis.BoolCmd).Val() && deleted == 2, "replies %v", cmds)
	})
	r.check("TxPipelined (MULTI/EXEC)", []string{key + ":tx"}, func() (string, error) {
		cmds, err := c.redis.TxPipelined(func(pipe *redis.Pipeline) error {
			pipe.SetNX(key+":tx", "me", 5*time.Second)
			pipe.PTTL(key + ":tx")
			return nil
		})
		if err != nil && len(cmds) > 0 {
			// EXEC's error alone hides why: say what the queued command got.
			return "", fmt.Errorf("%v (SetNX in the transaction: %v)", err, cmds[0].Err())
		} else if err != nil {
			return "", err
		}
		c.redis.Del(key + ":tx")
		return "", expect(cmds[0].(*redis.BoolCmd).Val(), "replies %v", cmds)
	})
}
