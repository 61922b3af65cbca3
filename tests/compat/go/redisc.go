package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/mna/redisc"
)

// redisc: the Redis Cluster client over redigo. Its slot map comes from
// CLUSTER SLOTS; a standalone server refuses that, and redisc then sends
// every command to a start node.
type rediscClient struct {
	cluster *redisc.Cluster
}

func newRedisc(endpoint string) (client, error) {
	cluster := &redisc.Cluster{
		StartupNodes: []string{endpoint},
		DialOptions:  []redis.DialOption{redis.DialConnectTimeout(2 * time.Second)},
		CreatePool: func(address string, options ...redis.DialOption) (*redis.Pool, error) {
			return &redis.Pool{MaxIdle: 2, Dial: func() (redis.Conn, error) {
				return redis.Dial("tcp", address, options...)
			}}, nil
		},
	}
	return &rediscClient{cluster}, nil
}

// conn is a connection that follows MOVED and ASK redirections.
func (c *rediscClient) conn() redis.Conn {
	conn, err := redisc.RetryConn(c.cluster.Get(), 3, 50*time.Millisecond)
	if err != nil {
		return errorConn{err}
	}
	return conn
}

func (c *rediscClient) acquire(key, value string, ttl time.Duration) (bool, error) {
	conn := c.conn()
	defer conn.Close()
	reply, err := redis.String(conn.Do("SET", key, value, "NX", "PX", ttl.Milliseconds()))
	if err == redis.ErrNil {
		return false, nil
	}
	return reply == "OK", err
}

func (c *rediscClient) release(key, value string) error {
	conn := c.conn()
	defer conn.Close()
	return releasedOne(redis.Int(redigoRelease.Do(conn, key, value)))
}

func (c *rediscClient) held(keys ...string) int {
	conn := c.conn()
	defer conn.Close()
	count, err := redis.Int(conn.Do("EXISTS", redis.Args{}.AddFlat(keys)...))
	if err != nil {
		return -1
	}
	return count
}

func (c *rediscClient) features(r *reporter) {
	key := fmt.Sprintf("compat:redisc:%d", time.Now().UnixNano())
	r.check("cluster mode: Refresh (CLUSTER SLOTS) fails as on a standalone Redis", nil, func() (string, error) {
		err := c.cluster.Refresh()
		if err == nil {
			return "", fmt.Errorf("Refresh found a slot map")
		}
		refusal := "ERR This instance has cluster support disabled"
		return refusal, expect(strings.Contains(err.Error(), refusal), "Refresh: %v", err)
	})
	r.check("commands go to the start node (SET NX PX, GET, release script)", []string{key}, func() (string, error) {
		if ok, err := c.acquire(key, "me", 5*time.Second); !ok || err != nil {
			return "", fmt.Errorf("SET NX: %v %v", ok, err)
		}
		if ok, err := c.acquire(key, "you", 5*time.Second); ok || err != nil {
			return "", fmt.Errorf("a second SET NX answered %v %v", ok, err)
		}
		conn := c.conn()
		defer conn.Close()
		if value, err := redis.String(conn.Do("GET", key)); value != "me" {
			return "", fmt.Errorf("GET: %q %v", value, err)
		}
		released, err := redis.Int(redigoRelease.Do(conn, key, "me"))
		return "", expect(released == 1 && err == nil, "release: %d %v", released, err)
	})
}

// errorConn is what conn() hands out when redisc cannot give a connection.
type errorConn struct{ err error }

func (e errorConn) Close() error                                   { return nil }
func (e errorConn) Err() error                                     { return e.err }
func (e errorConn) Do(string, ...interface{}) (interface{}, error) { return nil, e.err }
func (e errorConn) Send(string, ...interface{}) error              { return e.err }
func (e errorConn) Flush() error                                   { return e.err }
func (e errorConn) Receive() (interface{}, error)                  { return nil, e.err }
