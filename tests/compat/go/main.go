// The Go clients of the compatibility matrix (Debian's redigo, go-redis v5
// and redisc), each driven through its own API, unmodified. Run by
// tests/compat/matrix.py against lockerd and against redis-server:
//
//	compat-go features <library> <host:port>
//	  prints one JSON line per feature: {"client", "feature", "ok", "detail"};
//	  a failed feature also says how many of its keys were left held ("held").
//	compat-go contend <library> <host:port> <seconds> <marker-file>
//	  takes and releases the lock "compat:contend:<library>" in a loop for <seconds>;
//	  while holding it, it owns <marker-file> (created with O_EXCL). Prints
//	  {"acquired": n, "violations": n} (and "error" when a call failed).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"
)

// releaseScript deletes the key only while it still holds the caller's value.
const releaseScript = `if redis.call("get",KEYS[1]) == ARGV[1] then return redis.call("del",KEYS[1]) else return 0 end`

// A client of one library: its features, and its way to take a lock.
type client interface {
	features(r *reporter)
	acquire(key, value string, ttl time.Duration) (bool, error)
	release(key, value string) error
	// held counts which of keys exist (what a failed feature left behind).
	held(keys ...string) int
}

type reporter struct {
	library string
	client  client
}

// check runs one feature and prints its JSON line; keys are those the
// feature may leave held when it fails.
func (r *reporter) check(feature string, keys []string, body func() (string, error)) {
	row := map[string]interface{}{"client": r.library, "feature": feature}
	detail, err := body()
	row["ok"] = err == nil
	row["detail"] = detail
	if err != nil {
		row["detail"] = err.Error()
		row["held"] = r.client.held(keys...)
	}
	printJSON(row)
}

// releasedOne: the release script of a lock held answers 1.
func releasedOne(released int, err error) error {
	if err != nil {
		return err
	}
	return expect(released == 1, "the release script answered %d for a lock this process held", released)
}

func printJSON(value interface{}) {
	line, _ := json.Marshal(value)
	fmt.Println(string(line))
}

func expect(condition bool, what string, args ...interface{}) error {
	if condition {
		return nil
	}
	return fmt.Errorf(what, args...)
}

func newClient(library, endpoint string) (client, error) {
	switch library {
	case "redigo":
		return newRedigo(endpoint)
	case "go-redis-v5":
		return newGoRedis(endpoint), nil
	case "redisc":
		return newRedisc(endpoint)
	}
	return nil, fmt.Errorf("unknown library %q", library)
}

func contend(c client, key string, seconds int, marker string) {
	value := strconv.Itoa(os.Getpid())
	acquired, violations := 0, 0
	var lastErr error
	for end := time.Now().Add(time.Duration(seconds) * time.Second); time.Now().Before(end); {
		ok, err := c.acquire(key, value, 3*time.Second)
		if err != nil {
			lastErr = err
			break
		}
		if !ok {
			time.Sleep(2 * time.Millisecond)
			continue
		}
		acquired++
		if file, err := os.OpenFile(marker, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err != nil {
			violations++ // Someone else is inside.
		} else {
			file.Close()
		}
		time.Sleep(2 * time.Millisecond)
		os.Remove(marker)
		if err := c.release(key, value); err != nil {
			lastErr = err
			break
		}
	}
	out := map[string]interface{}{"acquired": acquired, "violations": violations}
	if lastErr != nil {
		out["error"] = lastErr.Error()
	}
	printJSON(out)
}

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: compat-go features|contend <library> <host:port> [seconds marker]")
		os.Exit(2)
	}
	mode, library, endpoint := os.Args[1], os.Args[2], os.Args[3]
	c, err := newClient(library, endpoint)
	if err != nil {
		printJSON(map[string]interface{}{"client": library, "feature": "connect", "ok": false, "detail": err.Error()})
		os.Exit(1)
	}
	if mode == "contend" && len(os.Args) == 6 {
		seconds, _ := strconv.Atoi(os.Args[4])
		contend(c, "compat:contend:"+library, seconds, os.Args[5])
		return
	}
	c.features(&reporter{library: library, client: c})
}
