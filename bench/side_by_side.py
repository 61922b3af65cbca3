#!/usr/bin/env python3
"""Side-by-side benchmark of lock services, all started on this machine in
one run: lockerd alone and as 3 members, redis-server, client-side Redlock
over 3 redis-servers, and (when the etcd-server package is installed) a
3-member etcd. Every system gets the same load from bench/lockerd_loadgen,
which sends what each system's lock libraries send. Prints a table with
ratios against redis-server, checks the issue-5 targets, and writes
bench/RESULTS.md with a PNG chart (gnuplot).

  bench/side_by_side.py --build build [--seconds 5] [--leases 1000000]
                        [--out bench/RESULTS.md] [--quick]

--quick runs every scenario briefly (for the test suite: the runner keeps
working); its numbers are not worth reading.
"""
import argparse
import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --- Processes ---------------------------------------------------------------

class Processes:
    """Every process this run starts, stopped by PID at the end."""

    def __init__(self, work):
        self.work = work
        self.pids = []

    def start(self, name, args, env=None):
        log = open(os.path.join(self.work, name + ".log"), "w")
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                cwd=self.work, env=env, start_new_session=True)
        self.pids.append(proc)
        return proc

    def kill(self, proc, sig=signal.SIGKILL):
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop_all(self):
        for proc in self.pids:
            if proc.poll() is None:
                self.kill(proc, signal.SIGTERM)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(count):
    ports = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


def wait_until(check, timeout=20.0, what="a server"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if check():
                return
        except (OSError, subprocess.SubprocessError, ValueError):
            pass
        time.sleep(0.05)
    raise RuntimeError("timed out waiting for " + what)


def redis_cli(port, *args):
    out = subprocess.run(["redis-cli", "-p", str(port), *map(str, args)],
                         capture_output=True, text=True, timeout=10)
    return out.stdout.strip()


def info_field(port, field):
    for line in redis_cli(port, "INFO").splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    return ""


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# --- Systems -----------------------------------------------------------------

class System:
    def __init__(self, key, label, kind, addresses, procs):
        self.key = key          # Short id: lockerd1, lockerd3, redis, redlock, etcd.
        self.label = label
        self.kind = kind        # The loadgen's --system.
        self.addresses = addresses
        self.procs = procs      # One per member.


class Lab:
    def __init__(self, args, processes):
        self.args = args
        self.p = processes
        self.lockerd = os.path.join(args.build, "lockerd")
        self.commands = {}  # A lockerd member's process -> (name, command), to restart it.

    def start_lockerd(self, name, members=1, extra=()):
        ports = free_ports(members)
        procs = []
        cluster = ",".join("127.0.0.1:%d" % p for p in ports)
        for i, port in enumerate(ports):
            data = os.path.join(self.p.work, "%s-%d" % (name, i))
            os.makedirs(data, exist_ok=True)
            cmd = [self.lockerd, "--port", str(port), "--dir", data, "--loglevel", "warning", *extra]
            if members > 1:
                cmd += ["--cluster", cluster, "--cluster-secret", "bench"]
            procs.append(self.p.start("%s-%d" % (name, i), cmd))
            self.commands[procs[-1]] = ("%s-%d" % (name, i), cmd)
        # Ready when its links are up and it votes (a new member first checks
        # that the cluster is new: CLUSTER-SAFETY.md, "Restarts").
        for port in ports:
            wait_until(lambda port=port: info_field(port, "cluster_reachable_members") == str(members) and
                       info_field(port, "member_state") == "ok", what="lockerd on port %d" % port)
        return ports, procs

    def restart_lockerd(self, proc):
        """Starts a stopped lockerd member again: same port, dir and settings."""
        name, cmd = self.commands[proc]
        restarted = self.p.start(name + "-again", cmd)
        self.commands[restarted] = (name, cmd)
        return restarted

    def start_redis(self, name, count=1, appendfsync_always=False):
        ports = free_ports(count)
        procs = []
        for i, port in enumerate(ports):
            durable = ["--appendonly", "yes", "--appendfsync", "always"] if appendfsync_always else \
                ["--appendonly", "no"]
            data = os.path.join(self.p.work, "%s-%d" % (name, i))
            os.makedirs(data, exist_ok=True)
            procs.append(self.p.start("%s-%d" % (name, i), [
                "redis-server", "--port", str(port), "--save", "", *durable,
                "--daemonize", "no", "--dir", data]))
        for port in ports:
            wait_until(lambda port=port: redis_cli(port, "PING") == "PONG", what="redis on %d" % port)
        return ports, procs

    def start_etcd(self):
        client_ports = free_ports(3)
        peer_ports = free_ports(3)
        cluster = ",".join("e%d=http://127.0.0.1:%d" % (i, p) for i, p in enumerate(peer_ports))
        procs = []
        for i in range(3):
            procs.append(self.p.start("etcd-%d" % i, [
                "etcd", "--name", "e%d" % i, "--data-dir", os.path.join(self.p.work, "etcd-%d" % i),
                "--listen-client-urls", "http://127.0.0.1:%d" % client_ports[i],
                "--advertise-client-urls", "http://127.0.0.1:%d" % client_ports[i],
                "--listen-peer-urls", "http://127.0.0.1:%d" % peer_ports[i],
                "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % peer_ports[i],
                "--initial-cluster", cluster, "--initial-cluster-state", "new",
                "--log-level", "error"]))
        endpoints = ",".join("127.0.0.1:%d" % p for p in client_ports)
        wait_until(lambda: etcd_leader(endpoints) is not None, what="an etcd leader")
        return client_ports, procs

    def systems(self):
        found = []
        ports, procs = self.start_lockerd("lockerd1")
        found.append(System("lockerd1", "lockerd, 1 member", "lockerd", ["127.0.0.1:%d" % ports[0]], procs))
        ports, procs = self.start_lockerd("lockerd3", 3)
        found.append(System("lockerd3", "lockerd, 3 members", "lockerd",
                            ["127.0.0.1:%d" % p for p in ports], procs))
        ports, procs = self.start_redis("redis")
        found.append(System("redis", "redis-server", "redis", ["127.0.0.1:%d" % ports[0]], procs))
        ports, procs = self.start_redis("redlock", 3)
        found.append(System("redlock", "Redlock, 3 redis", "redlock", ["127.0.0.1:%d" % p for p in ports], procs))
        if shutil.which("etcd") and not self.args.no_etcd:
            ports, procs = self.start_etcd()
            found.append(System("etcd", "etcd, 3 members", "etcd", ["127.0.0.1:%d" % p for p in ports], procs))
        return found


def etcd_leader(endpoints):
    """The index (0-2) of etcd's leader among `endpoints`, or None."""
    out = subprocess.run(["etcdctl", "--endpoints", endpoints, "endpoint", "status", "-w", "json"],
                         capture_output=True, text=True, timeout=10,
                         env=dict(os.environ, ETCDCTL_API="3"))
    if out.returncode != 0:
        return None
    for i, status in enumerate(json.loads(out.stdout)):
        head = status["Status"]
        if head["leader"] != 0 and head["leader"] == head["header"]["member_id"]:
            return i
    return None


# --- Load --------------------------------------------------------------------

def loadgen(args, system, workload, clients, seconds, extra=(), background=False):
    cmd = [os.path.join(args.build, "bench", "lockerd_loadgen"), "--system", system.kind,
           "--workload", workload, "--clients", str(clients), "--seconds", str(seconds), *map(str, extra)]
    for address in system.addresses:
        cmd += ["--addr", address]
    if background:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds * 4 + 120)
    return parse_loadgen(out.stdout, out.stderr)


def parse_loadgen(stdout, stderr):
    result = {}
    for name, value in re.findall(r'(\w+)=("[^"]*"|\S+)', stdout):
        result[name] = value.strip('"')
    if not result:
        result["unsupported"] = "failed: " + (stderr.strip().splitlines() or ["no output"])[-1]
    return result


def redis_benchmark(port, pipeline, requests, command):
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-n", str(requests), "-c", "50", "-r", "100000",
                          "-P", str(pipeline), "-q", *command], capture_output=True, text=True, timeout=600)
    found = re.findall(r"([0-9.]+) requests per second", out.stdout)
    return float(found[-1]) if found else 0.0


# --- The run -------------------------------------------------------------------

SCENARIOS = [
    # (id, title, workload, clients, extra, systems)
    ("ping", "PING round trip (the floor), 1 client", "ping", 1, (), ["lockerd1", "redis"]),
    ("pairs1", "LOCK+RELEASE pairs, 1 client", "pairs", 1, (), None),
    ("pairs32", "LOCK+RELEASE pairs, 32 clients", "pairs", 32, (), None),
    ("hot", "try-lock on 4 hot keys, 32 clients", "hot", 32, ("--hot-keys", 4), None),
    ("hotwait", "blocking lock on 4 hot keys, 32 clients", "hot-wait", 32, ("--hot-keys", 4), None),
    ("hot1", "try-lock on 1 key, 50 clients (does every client win?)", "hot", 50, ("--hot-keys", 1),
     ["lockerd1", "lockerd3", "redis", "redlock"]),
    ("script32", "SET NX PX + EVALSHA release pairs (what lock libraries send), 32 clients",
     "pairs-script", 32, (), ["lockerd1", "lockerd3", "redis"]),
    ("extend", "EXTEND heartbeats, 32 leaders", "extend", 32, (), None),
    ("handoff", "hand-off to a blocked waiter, 1 pair", "handoff", 2, (), None),
]


def run_scenarios(args, systems, results):
    for sid, title, workload, clients, extra, only in SCENARIOS:
        print("== " + title, flush=True)
        for system in systems:
            if only and system.key not in only:
                continue
            seconds = args.seconds
            if system.kind == "etcd":
                seconds = max(seconds, 3)  # Slow: fewer operations per second to count.
            if workload == "pairs-script":
                # The redis load (SET NX PX, release by EVALSHA) against any
                # system: lockerd runs the release script through the cluster.
                scripted = System(system.key, system.label, "redis", system.addresses, system.procs)
                r = loadgen(args, scripted, "pairs", clients, seconds, extra)
            else:
                r = loadgen(args, system, workload, clients, seconds, extra)
            if "unsupported" not in r:
                r["workload"] = workload
            results[(sid, system.key)] = r
            print("  %-20s %s" % (system.label, summary(r)), flush=True)


def summary(r):
    if "unsupported" in r:
        return "n/a (%s)" % r["unsupported"]
    line = "%9s ops/s  p50 %6s us  p99 %6s us  p999 %6s us  errors %s" % (
        r["ops_per_s"], r["p50_us"], r["p99_us"], r["p999_us"], r["errors"])
    if r.get("least_wins_of_a_client") is not None and r.get("workload") == "hot":
        line += "  least wins of a client %s" % r["least_wins_of_a_client"]
    return line


def lock_benchmark(system, pipeline, requests):
    """redis-benchmark taking locks on `system`: LOCK, or SET NX PX on redis."""
    port = int(system.addresses[0].rsplit(":", 1)[1])
    if system.kind == "redis":
        command = ["SET", "key:__rand_int__", "owner", "NX", "PX", "5000"]
    else:
        command = ["LOCK", "key:__rand_int__", "owner", "5000"]
    return redis_benchmark(port, pipeline, requests, command)


def run_redis_benchmark(args, systems, results):
    print("== redis-benchmark: LOCK vs SET NX PX, 50 clients, -r 100000", flush=True)
    requests = 20000 if args.quick else 300000
    for pipeline in (1, 16):
        for system in systems:
            if system.key not in ("lockerd1", "lockerd3", "redis"):
                continue
            # Pipelined runs go about five times faster: five times the requests.
            rps = lock_benchmark(system, pipeline, requests * (1 if pipeline == 1 else 5))
            results[("rb%d" % pipeline, system.key)] = rps
            print("  P=%-2d %-20s %10.0f requests/s" % (pipeline, system.label, rps), flush=True)


def run_restart(args, lab, systems, results):
    """A clean restart (SIGTERM, then a start on the same dir) of one member
    of three under load: the longest gap without an acquire, and how long
    after the stop the member votes again (member_state ok, links up)."""
    print("== clean restart of one member under load (pairs, 16 clients)", flush=True)
    seconds = 2 if args.quick else 6
    for system in systems:
        if system.key != "lockerd3":
            continue
        victim = 1
        port = int(system.addresses[victim].rsplit(":", 1)[1])
        proc = loadgen(args, system, "pairs", 16, seconds, background=True)
        time.sleep(seconds / 3)
        stopped = time.time()
        lab.p.kill(system.procs[victim], signal.SIGTERM)
        system.procs[victim] = lab.restart_lockerd(system.procs[victim])
        wait_until(lambda: info_field(port, "member_state") == "ok" and
                   info_field(port, "cluster_reachable_members") == "3", what="the restarted member")
        back_ms = (time.time() - stopped) * 1000
        stdout, stderr = proc.communicate(timeout=seconds * 4 + 120)
        r = parse_loadgen(stdout, stderr)
        r["back_ms"] = back_ms
        results[("restart", system.key)] = r
        print("  %-20s restarted member %d: longest gap without an acquire %s ms, votes again %.0f ms "
              "after the stop (%s ops/s, errors %s)" % (
                  system.label, victim, ms(r.get("max_gap_us")), back_ms, r.get("ops_per_s"),
                  r.get("errors")), flush=True)


def run_failover(args, lab, systems, results):
    print("== kill -9 of one member under load (pairs, 16 clients)", flush=True)
    seconds = 2 if args.quick else 6
    for system in systems:
        if system.key not in ("lockerd3", "etcd"):
            continue
        victim = len(system.procs) - 1
        if system.kind == "etcd":
            leader = etcd_leader(",".join(system.addresses))
            victim = leader if leader is not None else victim
        proc = loadgen(args, system, "pairs", 16, seconds, background=True)
        time.sleep(seconds / 3)
        lab.p.kill(system.procs[victim])
        stdout, stderr = proc.communicate(timeout=seconds * 4 + 120)
        r = parse_loadgen(stdout, stderr)
        results[("failover", system.key)] = r
        print("  %-20s killed member %d%s: longest gap without an acquire %s ms (%s ops/s, errors %s)" % (
            system.label, victim, " (the leader)" if system.kind == "etcd" else "",
            ms(r.get("max_gap_us")), r.get("ops_per_s"), r.get("errors")), flush=True)


DURABLE_LOADS = [
    # (id, title, workload, clients)
    ("pairs1", "LOCK+RELEASE pairs, 1 client", "pairs", 1),
    ("pairs32", "LOCK+RELEASE pairs, 32 clients", "pairs", 32),
]


def run_durable(args, lab, systems, results):
    """Systems that answer only what is on disk: lockerd with appendonly yes
    (1 and 3 members), redis-server with appendonly yes and appendfsync
    always, and etcd (durable by design) when installed; each beside the
    same run's lockerd without the log. Then kill -9 under load of one
    member and of every member of the durable 3-member cluster: the longest
    gap without an acquire."""
    print("== durable: every answer synced first (lockerd appendonly yes, redis appendfsync always, etcd)",
          flush=True)
    durable = []
    ports, procs = lab.start_lockerd("aof1", 1, ["--appendonly", "yes"])
    durable.append(System("aof1", "lockerd aof, 1 member", "lockerd", ["127.0.0.1:%d" % ports[0]], procs))
    ports, procs = lab.start_lockerd("aof3", 3, ["--appendonly", "yes"])
    durable.append(System("aof3", "lockerd aof, 3 members", "lockerd",
                          ["127.0.0.1:%d" % p for p in ports], procs))
    ports, procs = lab.start_redis("redis-aof", appendfsync_always=True)
    durable.append(System("redis-aof", "redis, fsync always", "redis", ["127.0.0.1:%d" % ports[0]], procs))
    durable += [s for s in systems if s.key == "etcd"]
    for sid, title, workload, clients in DURABLE_LOADS:
        print("  -- " + title, flush=True)
        for system in durable:
            seconds = max(args.seconds, 3) if system.kind == "etcd" else args.seconds
            r = loadgen(args, system, workload, clients, seconds)
            results[("durable-" + sid, system.key)] = r
            print("  %-22s %s" % (system.label, summary(r)), flush=True)
    # redis-benchmark at P=16 (the comparison): both pay a sync per
    # batch of what they answer.
    requests = 20000 if args.quick else 100000
    for system in durable:
        if system.key not in ("aof1", "redis-aof"):
            continue
        rps = lock_benchmark(system, 16, requests)
        results[("durable-rb16", system.key)] = rps
        print("  redis-benchmark P=16, 50 clients: %-22s %10.0f requests/s" % (system.label, rps), flush=True)
    aof1_port = int(durable[0].addresses[0].rsplit(":", 1)[1])
    results["durable-sync"] = {"last_us": info_field(aof1_port, "aof_last_sync_us"),
                               "longest_us": info_field(aof1_port, "aof_longest_sync_us"),
                               "syncs": info_field(aof1_port, "aof_syncs")}
    print("  fdatasync on this disk (lockerd aof, 1 member): last %s us, longest %s us, %s syncs" % (
        results["durable-sync"]["last_us"], results["durable-sync"]["longest_us"],
        results["durable-sync"]["syncs"]), flush=True)
    run_compaction(args, lab, results)
    aof3 = durable[1]
    seconds = 2 if args.quick else 6
    for label, victims in (("one member", [2]), ("every member", [0, 1, 2])):
        proc = loadgen(args, aof3, "pairs", 16, seconds, background=True)
        time.sleep(seconds / 3)
        killed = time.time()
        for victim in victims:
            lab.p.kill(aof3.procs[victim])
        for victim in victims:
            aof3.procs[victim] = lab.restart_lockerd(aof3.procs[victim])
        for address in aof3.addresses:
            port = int(address.rsplit(":", 1)[1])
            wait_until(lambda port=port: info_field(port, "member_state") == "ok" and
                       info_field(port, "cluster_reachable_members") == "3", what="a restarted member")
        back_ms = (time.time() - killed) * 1000
        stdout, stderr = proc.communicate(timeout=seconds * 4 + 120)
        r = parse_loadgen(stdout, stderr)
        r["back_ms"] = back_ms
        results[("durable-crash", label)] = r
        print("  kill -9 of %s of lockerd aof, 3 members, and restart: longest gap without an acquire "
              "%s ms, all voting %.0f ms after the kill (%s ops/s, errors %s)" % (
                  label, ms(r.get("max_gap_us")), back_ms, r.get("ops_per_s"), r.get("errors")), flush=True)


def run_compaction(args, lab, results):
    """The log's compaction under load: one member with the log holding many
    leases, LOCK+RELEASE pairs from 32 clients, compacting from 16 MB; the
    same with compaction off. The loop's share of a compaction (the longest
    snapshot part, the last step) and the longest loop stall in each run."""
    leases = 20000 if args.quick else 100000
    seconds = 3 if args.quick else 8
    for label, percentage in (("compacting", "100"), ("not compacting", "0")):
        ports, procs = lab.start_lockerd("aof-compact-" + percentage, 1, [
            "--appendonly", "yes", "--auto-aof-rewrite-min-size", "16mb",
            "--auto-aof-rewrite-percentage", percentage, "--max-lease-ms", "600000"])
        system = System("aof-compact", "lockerd aof", "lockerd", ["127.0.0.1:%d" % ports[0]], procs)
        loadgen(args, system, "fill", 50, 3600, ("--pipeline", 16, "--count", leases, "--ttl", 600000))
        redis_cli(ports[0], "CONFIG", "RESETSTAT")
        r = loadgen(args, system, "pairs", 32, seconds)
        wait_until(lambda: info_field(ports[0], "aof_rewrite_in_progress") == "0", what="the compaction")
        row = {"ops_per_s": r.get("ops_per_s"), "rewrites": info_field(ports[0], "aof_rewrites"),
               "longest_part_us": info_field(ports[0], "aof_last_rewrite_longest_part_us"),
               "finish_us": info_field(ports[0], "aof_last_rewrite_finish_us"),
               "rewrite_us": info_field(ports[0], "aof_last_rewrite_time_us"),
               "stall_us": info_field(ports[0], "loop_longest_stall_us"),
               "over_10ms": info_field(ports[0], "loop_stalls_over_10ms"),
               "longest_sync_us": info_field(ports[0], "aof_longest_sync_us")}
        results[("compaction", label)] = row
        print("  %d leases, pairs from 32 clients, log %s: %s pairs/s, %s compactions (each %s ms, the loop's "
              "longest part %s us, last step %s us); longest loop stall %.1f ms, over 10 ms: %s, longest "
              "sync %.1f ms" % (
                  leases, label, row["ops_per_s"], row["rewrites"], int(row["rewrite_us"] or 0) // 1000,
                  row["longest_part_us"], row["finish_us"], int(row["stall_us"] or 0) / 1000.0,
                  row["over_10ms"], int(row["longest_sync_us"] or 0) / 1000.0), flush=True)
        for proc in procs:
            lab.p.kill(proc, signal.SIGTERM)


def run_memory(args, lab, results):
    """RSS per held lease (16-byte keys and owners) on fresh servers, then the
    longest loop stall while they all expire at once (lockerd)."""
    print("== memory: %d leases with 16-byte keys and owners, on fresh servers" % args.leases, flush=True)
    ttl_ms = 8000 if args.leases >= 100000 else 2000
    for kind in ("lockerd", "redis"):
        if kind == "lockerd":
            ports, procs = lab.start_lockerd("memory-lockerd")
        else:
            ports, procs = lab.start_redis("memory-redis")
        system = System("memory", kind, kind, ["127.0.0.1:%d" % ports[0]], procs)
        before = rss_kb(procs[0].pid)
        r = loadgen(args, system, "fill", 50, 3600,
                    ("--pipeline", 16, "--count", args.leases, "--ttl", ttl_ms))
        filled = time.time()
        after = rss_kb(procs[0].pid)
        per_lease = (after - before) * 1024.0 / args.leases
        results[("memory", kind)] = {"bytes_per_lease": per_lease, "fill_ops_per_s": r.get("ops_per_s", "0"),
                                     "errors": r.get("errors", "?")}
        print("  %-8s %7.1f bytes per lease (RSS %d -> %d kB; filled at %s/s, errors %s)" % (
            kind, per_lease, before, after, r.get("ops_per_s"), r.get("errors")), flush=True)
        if kind == "lockerd":
            redis_cli(ports[0], "CONFIG", "RESETSTAT")
            wait_until(lambda: info_field(ports[0], "leases_held") == "0",
                       timeout=ttl_ms / 1000.0 + 60, what="the leases to expire")
            stall = int(info_field(ports[0], "loop_longest_stall_us") or 0)
            results[("expiry", "lockerd")] = {
                "stall_us": stall, "over_10ms": info_field(ports[0], "loop_stalls_over_10ms"),
                "expired_after_s": time.time() - filled}
            print("  all %d expired at once: longest loop stall %.2f ms, turns over 10 ms: %s" % (
                args.leases, stall / 1000.0, results[("expiry", "lockerd")]["over_10ms"]), flush=True)
        for proc in procs:
            lab.p.kill(proc, signal.SIGTERM)


def run_micro(args, results):
    print("== micro-benchmarks (Google Benchmark)", flush=True)
    binary = os.path.join(args.build, "bench", "lockerd_bench")
    pattern = "Parse|Writer|Insert|Lookup|Expire|EngineLockRelease|WakeNextWaiter|ClusterRound|ScriptRelease|NativeRelease"
    if args.quick:  # Leave out the million-lease ones: their set-up dominates.
        pattern = "Parse|Writer|/1000$|EngineLockRelease|WakeNextWaiter/100$|ClusterRound/1$|ScriptRelease"
    out = subprocess.run([binary, "--benchmark_filter=" + pattern, "--benchmark_format=json",
                          "--benchmark_min_time=%s" % ("0.01" if args.quick else "0.2")],
                         capture_output=True, text=True, timeout=1200)
    rows = []
    try:
        benchmarks = json.loads(out.stdout)["benchmarks"]
    except (ValueError, KeyError):
        print("  failed (exit %d): %s" % (out.returncode, out.stderr.strip()[-300:]), flush=True)
        benchmarks = []
        results["micro_failed"] = True
    for bench in benchmarks:
        ns = bench["real_time"] * {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[bench["time_unit"]]
        rows.append((bench["name"], ns, bench.get("items_per_second")))
        print("  %-40s %12.0f ns%s" % (bench["name"], ns, "  %.0f items/s" % bench["items_per_second"]
                                         if bench.get("items_per_second") else ""), flush=True)
    results["micro"] = rows


# --- Report --------------------------------------------------------------------

def num(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def ms(us):
    value = num(us)
    return "?" if value is None else "%.1f" % (value / 1000.0)


def machine():
    model = "unknown CPU"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return "%d cores, %s, Linux %s" % (os.cpu_count(), model, os.uname().release)


def version(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout
        return out.strip().splitlines()[0]
    except (OSError, IndexError):
        return "not installed"


def targets(results, systems):
    """(target, measured, goal, met) for each issue-5 target measurable here."""
    keys = {s.key for s in systems}
    rows = []

    def ratio(a, b):
        return a / b if a and b else None

    def add(name, measured, goal, met):
        rows.append((name, measured, goal, "met" if met else ("MISSED" if met is not None else "not measured")))

    for p, goal in ((1, 1.0), (16, 1.2)):
        r = ratio(results.get(("rb%d" % p, "lockerd1")), results.get(("rb%d" % p, "redis")))
        add("1 member LOCK vs redis SET NX PX, P=%d" % p, "%.2fx" % r if r else "?", ">= %.1fx" % goal,
            r >= goal if r else None)
    r = ratio(results.get(("rb16", "lockerd3")), results.get(("rb16", "redis")))
    add("3 members LOCK vs redis SET NX PX, P=16", "%.2fx" % r if r else "?", ">= 0.5x", r >= 0.5 if r else None)
    ours = num(results.get(("pairs32", "lockerd3"), {}).get("ops_per_s"))
    for peer, goal in (("redlock", 2.0), ("etcd", 50.0)):
        theirs = num(results.get(("pairs32", peer), {}).get("ops_per_s")) if peer in keys else None
        r = ratio(ours, theirs)
        add("3 members pairs/s vs %s, 32 clients" % peer, "%.1fx" % r if r else "?", ">= %gx" % goal,
            r >= goal if r else None)
    rtt = num(results.get(("ping", "redis"), {}).get("p50_us"))
    one = results.get(("pairs1", "lockerd3"), {})
    p50, p99 = num(one.get("lock_p50_us")), num(one.get("lock_p99_us"))
    if rtt is not None and p50 is not None:
        add("3 members LOCK p50, 1 client", "%d us" % p50, "<= 3 x %d us RTT + 30 = %d us" % (rtt, 3 * rtt + 30),
            p50 <= 3 * rtt + 30)
    if p99 is not None:
        add("3 members LOCK p99, 1 client", "%d us" % p99, "<= 200 us", p99 <= 200)
    gap = num(results.get(("failover", "lockerd3"), {}).get("max_gap_us"))
    if gap is not None:
        add("kill -9 of a member: longest gap without a LOCK", "%.1f ms" % (gap / 1000), "<= 100 ms", gap <= 100000)
    restart = results.get(("restart", "lockerd3"), {})
    gap = num(restart.get("max_gap_us"))
    if gap is not None:
        add("clean restart of a member: longest gap without a LOCK", "%.1f ms" % (gap / 1000), "<= 100 ms",
            gap <= 100000)
        add("clean restart of a member: votes again after the stop", "%.0f ms" % restart["back_ms"],
            "<= 1000 ms", restart["back_ms"] <= 1000)
    for key, goal in (("lockerd1", 300), ("lockerd3", 1000)):
        h = num(results.get(("handoff", key), {}).get("p50_us"))
        if h is not None:
            add("hand-off p50, %s" % key.replace("lockerd", "") + " member(s)", "%.2f ms" % (h / 1000),
                "<= %.1f ms" % (goal / 1000), h <= goal)
    mem_l = results.get(("memory", "lockerd"), {}).get("bytes_per_lease")
    mem_r = results.get(("memory", "redis"), {}).get("bytes_per_lease")
    if mem_l and mem_r:
        add("RSS per lease vs redis per key with expiry", "%.0f B vs %.0f B" % (mem_l, mem_r), "<= redis",
            mem_l <= mem_r)
    r = ratio(results.get(("durable-rb16", "aof1")), results.get(("durable-rb16", "redis-aof")))
    add("appendonly: 1 member LOCK vs redis appendfsync always SET NX PX, P=16", "%.2fx" % r if r else "?",
        ">= 0.5x", r >= 0.5 if r else None)
    ours = num(results.get(("durable-pairs32", "aof3"), {}).get("ops_per_s"))
    theirs = num(results.get(("durable-pairs32", "etcd"), {}).get("ops_per_s")) if "etcd" in keys else None
    r = ratio(ours, theirs)
    add("appendonly: 3 members pairs/s vs etcd, 32 clients", "%.1fx" % r if r else "?", ">= 10x",
        r >= 10 if r else None)
    ours = num(results.get(("durable-pairs1", "aof3"), {}).get("lock_p50_us"))
    theirs = num(results.get(("durable-pairs1", "etcd"), {}).get("lock_p50_us")) if "etcd" in keys else None
    if ours is not None and theirs:
        add("appendonly: 3 members LOCK p50 vs etcd's, 1 client", "%d vs %d us" % (ours, theirs), "<= 1/4",
            ours * 4 <= theirs)
    else:
        add("appendonly: 3 members LOCK p50 vs etcd's, 1 client", "?", "<= 1/4", None)
    for label, victims in (("one member", 1), ("every member", 3)):
        crash = results.get(("durable-crash", label), {})
        gap = num(crash.get("max_gap_us"))
        if gap is not None and crash.get("back_ms") is not None:
            goal_ms = crash["back_ms"] + 1000 if victims == 3 else 1000
            add("appendonly: kill -9 of %s, longest write gap" % label, "%.0f ms" % (gap / 1000),
                "<= %s" % ("restart + 1 s = %.0f ms" % goal_ms if victims == 3 else "1 s"),
                gap / 1000 <= goal_ms)
    compaction = results.get(("compaction", "compacting"), {})
    if compaction.get("rewrites") not in (None, "", "0"):
        step = max(int(compaction.get("longest_part_us") or 0), int(compaction.get("finish_us") or 0))
        add("appendonly: the loop's longest step of a compaction", "%.2f ms" % (step / 1000), "<= 10 ms",
            step <= 10000)
    stall = results.get(("expiry", "lockerd"), {}).get("stall_us")
    if stall is not None:
        add("longest loop stall while all leases expire", "%.2f ms" % (stall / 1000), "<= 10 ms", stall <= 10000)
    wake = {name: ns for name, ns, _ in results.get("micro", []) if name.startswith("BM_WakeNextWaiter/")}
    if "BM_WakeNextWaiter/100" in wake and "BM_WakeNextWaiter/10000" in wake:
        r = wake["BM_WakeNextWaiter/10000"] / wake["BM_WakeNextWaiter/100"]
        add("wake cost, 10,000 vs 100 waiters (O(1))", "%.2fx (%.1f vs %.1f us)" % (
            r, wake["BM_WakeNextWaiter/10000"] / 1000, wake["BM_WakeNextWaiter/100"] / 1000), "<= 2x", r <= 2)
    return rows


def write_chart(args, results, systems, png):
    if not shutil.which("gnuplot"):
        return False
    data = os.path.join(os.path.dirname(png), ".side_by_side.dat")
    with open(data, "w") as out:
        out.write("system pairs32 lock_p99_1 handoff_p50\n")
        for s in systems:
            pairs = num(results.get(("pairs32", s.key), {}).get("ops_per_s")) or 0
            p99 = num(results.get(("pairs1", s.key), {}).get("lock_p99_us")) or 0
            handoff = num(results.get(("handoff", s.key), {}).get("p50_us")) or 0
            out.write('"%s" %s %s %s\n' % (s.label, pairs, p99, handoff))
    script = """
set terminal png size 1200,460 font ",10"
set output '%s'
set multiplot layout 1,2 title "lock services on %s"
set style data histograms
set style fill solid 0.8 border -1
set boxwidth 0.7
set logscale y
set grid ytics
set xtics rotate by -20
set key off
set title "LOCK+RELEASE pairs/s, 32 clients (higher is better)"
plot '%s' using 2:xtic(1) lc rgb "#2f6fb0"
set title "acquire latency p99 with 1 client, us (lower is better)"
plot '%s' using 3:xtic(1) lc rgb "#c0504d"
unset multiplot
""" % (png, ", ".join(machine().split(", ")[:2]), data, data)
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    os.remove(data)
    return True


def write_report(args, results, systems, rows, chart):
    lines = []
    lines.append("# Side-by-side results")
    lines.append("")
    lines.append("Written by `bench/side_by_side.py` (run it with `./scripts/bench.sh`) on %s." %
                 datetime.datetime.now().strftime("%Y-%m-%d %H:%M"))
    lines.append("")
    lines.append("- Machine: %s; every server and the load generator share these cores (loopback)." % machine())
    lines.append("- Peers: %s; %s; Redlock = the generator acquires on all 3 redis-servers, wins on a "
                 "majority, releases on all (node-redlock's algorithm); etcd via its v3 JSON gateway "
                 "(`/v3/lock/lock`, `/v3/lock/unlock`), one lease per client." % (
                     version(["redis-server", "--version"]), version(["etcd", "--version"])))
    lines.append("- lockerd: commit %s. Each load runs %s s; latencies in microseconds "
                 "(HdrHistogram-style buckets)." % (version(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]),
                                                     args.seconds))
    if args.quick:
        lines.append("- **Quick run**: every load ran briefly; these numbers are a smoke test, not results.")
    lines.append("")
    lines.append("## Targets")
    lines.append("")
    lines.append("| target | measured | goal | |")
    lines.append("|---|---|---|---|")
    for name, measured, goal, verdict in rows:
        lines.append("| %s | %s | %s | %s |" % (name, measured, goal, verdict))
    lines.append("")
    if chart:
        lines.append("![throughput and latency per system](results.png)")
        lines.append("")
    lines.append("## Loads")
    lines.append("")
    lines.append("Ratios are ops/s against redis-server under the same load (for loads redis-server "
                 "cannot run, against lockerd with 1 member). ops/s counts operations: a pair, a "
                 "try, a renewal, a hand-off. `acq` columns time the acquire alone.")
    for sid, title, _, _, _, only in SCENARIOS:
        lines.append("")
        lines.append("### " + title)
        lines.append("")
        lines.append("| system | ops/s | ratio | p50 | p99 | p999 | max | acq p50 | acq p99 | errors | least wins of a client |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
        base = num(results.get((sid, "redis"), {}).get("ops_per_s")) or \
            num(results.get((sid, "lockerd1"), {}).get("ops_per_s"))
        for s in systems:
            r = results.get((sid, s.key))
            if r is None:
                continue
            if "unsupported" in r:
                lines.append("| %s | n/a: %s | | | | | | | | | |" % (s.label, r["unsupported"]))
                continue
            ops = num(r["ops_per_s"])
            least = r.get("least_wins_of_a_client", "") if r.get("workload") == "hot" else ""
            lines.append("| %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                s.label, ops, "%.2fx" % (ops / base) if base else "", r["p50_us"], r["p99_us"], r["p999_us"],
                r["max_us"], r["lock_p50_us"], r["lock_p99_us"], r["errors"], least))
    lines.append("")
    lines.append("### redis-benchmark, 50 clients, `-r 100000`: LOCK vs SET NX PX")
    lines.append("")
    lines.append("| pipeline | lockerd, 1 member | lockerd, 3 members (one member's port) | redis-server |")
    lines.append("|---|---|---|---|")
    for p in (1, 16):
        redis = results.get(("rb%d" % p, "redis")) or 0
        cells = []
        for key in ("lockerd1", "lockerd3"):
            v = results.get(("rb%d" % p, key)) or 0
            cells.append("%.0f/s (%.2fx)" % (v, v / redis if redis else 0))
        lines.append("| P=%d | %s | %s | %.0f/s |" % (p, cells[0], cells[1], redis))
    lines.append("")
    r = results.get(("restart", "lockerd3"))
    if r:
        lines.append("### Clean restart of one member under load (pairs, 16 clients)")
        lines.append("")
        lines.append("| system | longest gap without an acquire | votes again after the stop | ops/s | errors |")
        lines.append("|---|---|---|---|---|")
        lines.append("| lockerd, 3 members (a member) | %s ms | %.0f ms | %s | %s |" % (
            ms(r.get("max_gap_us")), r["back_ms"], r.get("ops_per_s"), r.get("errors")))
        lines.append("")
    lines.append("### kill -9 of one member under load (pairs, 16 clients)")
    lines.append("")
    lines.append("| system | longest gap without an acquire | ops/s over the run | errors |")
    lines.append("|---|---|---|---|")
    for key, label in (("lockerd3", "lockerd, 3 members (a member)"), ("etcd", "etcd, 3 members (the leader)")):
        r = results.get(("failover", key))
        if r:
            lines.append("| %s | %s ms | %s | %s |" % (label, ms(r.get("max_gap_us")), r.get("ops_per_s"),
                                                     r.get("errors")))
    lines.append("")
    lines.append("### Memory and mass expiry (%d leases, 16-byte keys and owners, fresh servers)" % args.leases)
    lines.append("")
    for kind in ("lockerd", "redis"):
        m = results.get(("memory", kind))
        if m:
            lines.append("- %s: %.0f bytes of RSS per lease (filled at %s/s)" % (
                kind, m["bytes_per_lease"], m["fill_ops_per_s"]))
    e = results.get(("expiry", "lockerd"))
    if e:
        lines.append("- lockerd, all leases expiring at once: longest event-loop stall %.2f ms "
                     "(INFO `loop_longest_stall_us`), turns over 10 ms: %s" % (e["stall_us"] / 1000, e["over_10ms"]))
    lines.append("")
    durable_keys = [("aof1", "lockerd appendonly yes, 1 member"), ("aof3", "lockerd appendonly yes, 3 members"),
                    ("redis-aof", "redis-server appendfsync always"), ("etcd", "etcd, 3 members")]
    if any(("durable-" + sid, key) in results for sid, _, _, _ in DURABLE_LOADS for key, _ in durable_keys):
        lines.append("### Durable: every answer on disk first")
        lines.append("")
        lines.append("| load | system | ops/s | p50 us | p99 us |")
        lines.append("|---|---|---|---|---|")
        for sid, title, _, _ in DURABLE_LOADS:
            for key, label in durable_keys:
                r = results.get(("durable-" + sid, key))
                if r and "unsupported" not in r:
                    lines.append("| %s | %s | %s | %s | %s |" % (title, label, r["ops_per_s"], r["p50_us"], r["p99_us"]))
        sync = results.get("durable-sync", {})
        lines.append("")
        lines.append("- fdatasync here (lockerd, 1 member): last %s us, longest %s us over %s syncs." % (
            sync.get("last_us"), sync.get("longest_us"), sync.get("syncs")))
        for label in ("one member", "every member"):
            r = results.get(("durable-crash", label))
            if r:
                lines.append("- kill -9 of %s of the durable 3-member cluster under load, then restart: longest "
                             "gap without an acquire %s ms; all voting %.0f ms after the kill." % (
                                 label, ms(r.get("max_gap_us")), r["back_ms"]))
        lines.append("")
    lines.append("### Micro-benchmarks")
    lines.append("")
    lines.append("| benchmark | ns per iteration | items/s |")
    lines.append("|---|---|---|")
    for name, ns, items in results.get("micro", []):
        lines.append("| %s | %.0f | %s |" % (name, ns, "%.0f" % items if items else ""))
    lines.append("")
    with open(args.out, "w") as out:
        out.write("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--leases", type=int, default=1000000)
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "RESULTS.md"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-etcd", action="store_true")
    parser.add_argument("--only", default="",
                        help="run only these sections (comma-separated: loads, redis-benchmark, restart, "
                             "failover, durable, memory, micro) and print them; writes no report")
    args = parser.parse_args()
    sections = ["loads", "redis-benchmark", "restart", "failover", "durable", "memory", "micro"]
    only = [name for name in args.only.split(",") if name]
    unknown = [name for name in only if name not in sections]
    if unknown:
        parser.error("--only: unknown section(s) %s; sections: %s" % (", ".join(unknown), ", ".join(sections)))
    args.build = os.path.abspath(args.build)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    if args.quick:
        args.seconds = min(args.seconds, 0.5)
        args.leases = min(args.leases, 20000)
    # A stopped run still stops what it started (the finally below).
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda number, frame: sys.exit(128 + number))
    work = tempfile.mkdtemp(prefix="lockerd-bench-")
    processes = Processes(work)
    results = {}
    systems = []
    try:
        lab = Lab(args, processes)
        print("Machine: " + machine(), flush=True)
        systems = lab.systems()
        runs = {
            "loads": lambda: run_scenarios(args, systems, results),
            "redis-benchmark": lambda: run_redis_benchmark(args, systems, results),
            "restart": lambda: run_restart(args, lab, systems, results),
            "failover": lambda: run_failover(args, lab, systems, results),
            "durable": lambda: run_durable(args, lab, systems, results),
            "memory": lambda: run_memory(args, lab, results),
            "micro": lambda: run_micro(args, results),
        }
        for name in sections:
            if not only or name in only:
                runs[name]()
    finally:
        processes.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    rows = targets(results, systems)
    print("\n== targets" + (" (of the sections run)" if only else ""))
    for name, measured, goal, verdict in rows:
        if only and verdict == "not measured":
            continue
        print("  %-52s %-26s %-30s %s" % (name, measured, goal, verdict))
    if only:
        return 0
    png = os.path.join(os.path.dirname(os.path.abspath(args.out)), "results.png")
    chart = write_chart(args, results, systems, png)
    write_report(args, results, systems, rows, chart)
    print("\nWrote %s%s" % (args.out, " and " + png if chart else ""))
    # A load that could not run at all is a broken runner (or server).
    failed = [key for key, r in results.items() if isinstance(r, dict) and
              str(r.get("unsupported", "")).startswith("failed")]
    if results.get("micro_failed"):
        failed.append("micro-benchmarks")
    if failed:
        print("FAILED loads: %s" % failed)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
