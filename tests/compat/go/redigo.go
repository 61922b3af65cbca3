package main

import (
	"fmt"
	"time"

	"github.com/gomodule/redigo/redis"
)

// redigo: a connection pool, plain commands, Script (EVALSHA, then EVAL on
// NOSCRIPT), pipelining with Send/Flush/Receive, and MULTI/EXEC.
type redigoClient struct {
	pool *redis.Pool
}

func newRedigo(endpoint string) (client, error) {
	pool := &redis.Pool{MaxIdle: 2, Dial: func() (redis.Conn, error) { return redis.Dial("tcp", endpoint) }}
	conn := pool.Get()
	defer conn.Close()
	_, err := conn.Do("PING")
	return &redigoClient{pool}, err
}

var redigoRelease = redis.NewScript(1, releaseScript)

func (c *redigoClient) acquire(key, value string, ttl time.Duration) (bool, error) {
	conn := c.pool.Get()
	defer conn.Close()
	reply, err := redis.String(conn.Do("SET", key, value, "NX", "PX", ttl.Milliseconds()))
	if err == redis.ErrNil {
		return false, nil
	}
	return reply == "OK", err
}

func (c *redigoClient) release(key, value string) error {
	conn := c.pool.Get()
	defer conn.Close()
	return releasedOne(redis.Int(redigoRelease.Do(conn, key, value)))
}

func (c *redigoClient) held(keys ...string) int {
	conn := c.pool.Get()
	defer conn.Close()
	args := redis.Args{}.AddFlat(keys)
	count, err := redis.Int(conn.Do("EXISTS", args...))
	if err != nil {
		return -1
	}
	return count
}

func (c *redigoClient) features(r *reporter) {
	key := fmt.Sprintf("compat:redigo:%d", time.Now().UnixNano())
	conn := c.pool.Get()
	defer conn.Close()
	r.check("SET NX PX, GET, DEL", []string{key}, func() (string, error) {
		if ok, err := c.acquire(key, "me", 5*time.Second); !ok || err != nil {
			return "", fmt.Errorf("SET NX: %v %v", ok, err)
		}
		if ok, err := c.acquire(key, "me", 5*time.Second); ok || err != nil {
			return "", fmt.Errorf("a second SET NX with the same value answered %v %v", ok, err)
		}
		if value, err := redis.String(conn.Do("GET", key)); value != "me" {
			return "", fmt.Errorf("GET: %q %v", value, err)
		}
		deleted, err := redis.Int(conn.Do("DEL", key))
		return "", expect(deleted == 1 && err == nil, "DEL: %d %v", deleted, err)
	})
	r.check("Script: EVALSHA, EVAL on NOSCRIPT", []string{key}, func() (string, error) {
		if _, err := conn.Do("SCRIPT", "FLUSH"); err != nil {
			return "", err
		}
		c.acquire(key, "me", 5*time.Second)
		stranger, err := redis.Int(redigoRelease.Do(conn, key, "other"))
		if err != nil || stranger != 0 {
			return "", fmt.Errorf("release by a stranger: %d %v", stranger, err)
		}
		owner, err := redis.Int(redigoRelease.Do(conn, key, "me"))
		return "", expect(owner == 1 && err == nil, "release by the owner: %d %v", owner, err)
	})
	r.check("pipelining (Send, Flush, Receive)", []string{key + ":0", key + ":1"}, func() (string, error) {
		for i := 0; i < 2; i++ {
			conn.Send("SET", fmt.Sprintf("%s:%d", key, i), "me", "NX", "PX", 5000)
		}
		for i := 0; i < 2; i++ {
			conn.Send("DEL", fmt.Sprintf("%s:%d", key, i))
		}
		if err := conn.Flush(); err != nil {
			return "", err
		}
		var replies []interface{}
		for i := 0; i < 4; i++ {
			reply, err := conn.Receive()
			if err != nil {
				return "", err
			}
			replies = append(replies, reply)
		}
		return "", expect(fmt.Sprint(replies) == "[OK OK 1 1]", "replies %v", replies)
	})
	r.check("MULTI/EXEC (Send MULTI, Do EXEC)", []string{key + ":tx"}, func() (string, error) {
		conn := c.pool.Get() // A fresh connection: a refused MULTI leaves none behind.
		defer conn.Close()
		conn.Send("MULTI")
		conn.Send("SET", key+":tx", "me", "NX", "PX", 5000)
		conn.Send("PTTL", key+":tx")
		replies, err := redis.Values(conn.Do("EXEC"))
		if err != nil {
			return "", err
		}
		if _, err := conn.Do("DEL", key+":tx"); err != nil {
			return "", err
		}
		return "", expect(len(replies) == 2 && replies[0] == "OK", "EXEC replies %v", replies)
	})
}
