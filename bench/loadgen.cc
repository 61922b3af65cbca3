// lockerd_loadgen: a load generator for lock servers that speak RESP, on one
// libuv loop. It drives lockerd (LOCK/RELEASE/EXTEND), redis-server with the
// equivalent commands (SET NX PX, release and extend as EVALSHA scripts, as
// lock libraries do), or client-side Redlock over several redis-servers
// (acquire on all, succeed on a majority, release on all, like
// node-redlock), with the same workloads, so the systems compare fairly.
//
//   lockerd_loadgen --target lockerd --addr 127.0.0.1:6379 --workload pairs
//                   --clients 50 --pipeline 1 --seconds 5 [--rate 20000]
//
// Workloads: pairs (LOCK then RELEASE of a random key), hot (LOCK of one of
// a few keys, then RELEASE), hot-wait (the same with LOCK ... WAIT; lockerd
// only), extend (each client renews its own lease: leader heartbeats).
// With --rate the load is open-loop: operations start on a schedule and
// latency counts from the scheduled start (no coordinated omission).
// Prints one line: ops_per_s, latency percentiles (us), errors.
#include <uv.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/latency_histogram.h"
#include "protocol/resp_writer.h"
#include "tests/support/resp_reply.h"

namespace {

using lockerd::bench::LatencyHistogram;
using lockerd::testing::Reply;

constexpr const char* kReleaseScript =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
constexpr const char* kExtendScript =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) "
    "else return 0 end";

enum class Target { kLockerd, kRedis, kRedlock };
enum class Workload { kPairs, kHot, kHotWait, kExtend };

struct Options {
  Target target = Target::kLockerd;
  std::vector<std::string> addresses;
  Workload workload = Workload::kPairs;
  int clients = 50;
  int pipeline = 1;
  double seconds = 5;
  double rate = 0;  // Operations per second in total; 0: as fast as possible.
  int keys = 100000;
  int hot_keys = 4;
  int ttl_ms = 5000;
};

int64_t NowUs() { return static_cast<int64_t>(uv_hrtime() / 1000); }

std::string Command(std::initializer_list<std::string_view> args) {
  std::string out;
  lockerd::protocol::RespWriter writer(&out);
  writer.WriteArrayHeader(args.size());
  for (const std::string_view arg : args) writer.WriteBulk(arg);
  return out;
}

// One TCP connection to one server: commands go out batched per loop turn,
// replies come back in order to the callbacks queued with the commands.
class Connection {
 public:
  using Callback = std::function<void(const Reply&)>;

  Connection(uv_loop_t* loop, const std::string& address) : loop_(loop) {
    const size_t colon = address.rfind(':');
    sockaddr_in addr{};
    uv_ip4_addr(address.substr(0, colon).c_str(), std::atoi(address.c_str() + colon + 1), &addr);
    uv_tcp_init(loop, &tcp_);
    tcp_.data = this;
    connect_.data = this;
    uv_tcp_connect(&connect_, &tcp_, reinterpret_cast<const sockaddr*>(&addr), [](uv_connect_t* req, int status) {
      auto* self = static_cast<Connection*>(req->data);
      if (status != 0) {
        std::fprintf(stderr, "connect failed: %s\n", uv_strerror(status));
        std::exit(2);
      }
      uv_tcp_nodelay(&self->tcp_, 1);
      uv_read_start(reinterpret_cast<uv_stream_t*>(&self->tcp_),
                    [](uv_handle_t*, size_t, uv_buf_t* buf) {
                      static char buffer[256 * 1024];
                      *buf = uv_buf_init(buffer, sizeof buffer);
                    },
                    [](uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
                      auto* conn = static_cast<Connection*>(stream->data);
                      if (nread < 0) {
                        std::fprintf(stderr, "connection lost: %s\n", uv_strerror(static_cast<int>(nread)));
                        std::exit(2);
                      }
                      conn->OnData(std::string_view(buf->base, static_cast<size_t>(nread)));
                    });
      self->connected_ = true;
      self->Flush();
    });
  }

  void Send(std::string command, Callback callback) {
    pending_ += command;
    callbacks_.push_back(std::move(callback));
    if (!scheduled_) {
      scheduled_ = true;
      flush_list().push_back(this);
    }
  }

  // Connections with queued commands, written once per loop turn.
  static std::vector<Connection*>& flush_list() {
    static std::vector<Connection*> list;
    return list;
  }

  void Flush() {
    scheduled_ = false;
    if (!connected_ || writing_ || pending_.empty()) return;
    inflight_.swap(pending_);
    pending_.clear();
    uv_buf_t buf = uv_buf_init(inflight_.data(), static_cast<unsigned>(inflight_.size()));
    write_.data = this;
    writing_ = true;
    uv_write(&write_, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, [](uv_write_t* req, int status) {
      auto* self = static_cast<Connection*>(req->data);
      self->writing_ = false;
      self->inflight_.clear();
      if (status != 0) std::exit(2);
      self->Flush();
    });
  }

 private:
  void OnData(std::string_view data) {
    input_.append(data);
    size_t offset = 0;
    while (offset < input_.size()) {
      size_t used = 0;
      auto reply = lockerd::testing::ParseReply(std::string_view(input_).substr(offset), &used);
      if (!reply) break;
      offset += used;
      Callback callback = std::move(callbacks_.front());
      callbacks_.pop_front();
      callback(*reply);
    }
    input_.erase(0, offset);
  }

  uv_loop_t* loop_;
  uv_tcp_t tcp_{};
  uv_connect_t connect_{};
  uv_write_t write_{};
  bool connected_ = false;
  bool writing_ = false;
  bool scheduled_ = false;
  std::string pending_;
  std::string inflight_;
  std::string input_;
  std::deque<Callback> callbacks_;
};

class Generator {
 public:
  explicit Generator(const Options& options) : options_(options), rng_(42) {
    uv_loop_init(&loop_);
  }

  void Run() {
    // Scripts for redis targets: loaded once per server, blocking, before.
    for (size_t server = 0; server < servers(); ++server) {
      connections_.push_back(std::make_unique<Connection>(&loop_, options_.addresses[server]));
    }
    if (options_.target != Target::kLockerd) LoadScripts();
    const int slots = options_.clients * options_.pipeline;
    slots_.resize(static_cast<size_t>(slots));
    // Each client gets its own connection(s).
    for (int client = 0; client < options_.clients; ++client) {
      std::vector<Connection*> conns;
      if (options_.target == Target::kRedlock) {
        for (size_t server = 0; server < servers(); ++server) {
          owned_.push_back(std::make_unique<Connection>(&loop_, options_.addresses[server]));
          conns.push_back(owned_.back().get());
        }
      } else {
        owned_.push_back(std::make_unique<Connection>(
            &loop_, options_.addresses[static_cast<size_t>(client) % servers()]));
        conns.push_back(owned_.back().get());
      }
      client_connections_.push_back(conns);
    }
    uv_prepare_init(&loop_, &prepare_);
    uv_prepare_start(&prepare_, [](uv_prepare_t*) {
      auto& list = Connection::flush_list();
      std::vector<Connection*> now;
      now.swap(list);
      for (Connection* conn : now) conn->Flush();
    });
    if (options_.workload == Workload::kExtend) {
      PrepareHeartbeats();
    } else {
      StartAll();
    }
    uv_run(&loop_, UV_RUN_DEFAULT);
  }

  void Print() const {
    const double elapsed = static_cast<double>(end_us_ - start_us_) / 1e6;
    std::printf("ops_per_s=%.0f ok=%llu refused=%llu errors=%llu p50_us=%llu p99_us=%llu p999_us=%llu max_us=%llu\n",
                static_cast<double>(completed_) / elapsed, static_cast<unsigned long long>(succeeded_),
                static_cast<unsigned long long>(refused_), static_cast<unsigned long long>(errors_),
                static_cast<unsigned long long>(histogram_.Percentile(0.5)),
                static_cast<unsigned long long>(histogram_.Percentile(0.99)),
                static_cast<unsigned long long>(histogram_.Percentile(0.999)),
                static_cast<unsigned long long>(histogram_.max()));
  }

 private:
  struct Slot {
    int client = 0;
    int64_t next_start_us = 0;  // Open loop: when the next operation is due.
    uv_timer_t timer{};
  };

  size_t servers() const { return options_.addresses.size(); }

  void LoadScripts() {
    int loaded = 0;
    for (auto& conn : connections_) {
      conn->Send(Command({"SCRIPT", "LOAD", kReleaseScript}), [this, &loaded](const Reply& reply) {
        release_sha_ = reply.text;
        ++loaded;
      });
      conn->Send(Command({"SCRIPT", "LOAD", kExtendScript}), [this, &loaded](const Reply& reply) {
        extend_sha_ = reply.text;
        ++loaded;
      });
    }
    while (loaded < static_cast<int>(2 * servers())) uv_run(&loop_, UV_RUN_ONCE);
  }

  void StartAll() {
    start_us_ = NowUs();
    end_at_us_ = start_us_ + static_cast<int64_t>(options_.seconds * 1e6);
    const double interval_us =
        options_.rate > 0 ? 1e6 * static_cast<double>(slots_.size()) / options_.rate : 0;
    for (size_t i = 0; i < slots_.size(); ++i) {
      Slot& slot = slots_[i];
      slot.client = static_cast<int>(i) % options_.clients;
      slot.next_start_us = start_us_ + static_cast<int64_t>(interval_us * static_cast<double>(i) /
                                                            static_cast<double>(slots_.size()));
      uv_timer_init(&loop_, &slot.timer);
      slot.timer.data = this;
      Next(i);
    }
    interval_us_ = interval_us;
  }

  // Starts slot i's next operation, now or when it is due.
  void Next(size_t i) {
    Slot& slot = slots_[i];
    const int64_t now = NowUs();
    if (now >= end_at_us_) return Finish();
    // Timers tick in milliseconds: an operation due within one starts now
    // (and is timed from now); a later one waits for a timer.
    if (options_.rate > 0 && slot.next_start_us - now >= 1000) {
      index_of_timer_[&slot.timer] = i;
      uv_timer_start(&slot.timer, [](uv_timer_t* timer) {
        auto* self = static_cast<Generator*>(timer->data);
        self->Next(self->index_of_timer_[timer]);
      }, static_cast<uint64_t>((slot.next_start_us - now) / 1000), 0);
      return;
    }
    // Open loop: timed from when it was due, so a server that falls behind
    // is charged for the wait (no coordinated omission).
    const int64_t started = options_.rate > 0 ? std::min(slot.next_start_us, now) : now;
    slot.next_start_us += static_cast<int64_t>(interval_us_);
    Operation(slot.client, [this, i, started](int outcome) {
      histogram_.Record(NowUs() - started);
      ++completed_;
      if (outcome > 0) ++succeeded_;
      if (outcome == 0) ++refused_;
      if (outcome < 0) ++errors_;
      Next(i);
    });
  }

  void Finish() {
    if (finished_) return;
    finished_ = true;
    end_us_ = NowUs();
    uv_stop(&loop_);
  }

  std::string Owner(int client) { return "owner-" + std::to_string(client) + "-" + std::to_string(serial_++); }

  std::string RandomKey() {
    return "key:" + std::to_string(std::uniform_int_distribution<int>(0, options_.keys - 1)(rng_));
  }
  std::string HotKey() {
    return "hot:" + std::to_string(std::uniform_int_distribution<int>(0, options_.hot_keys - 1)(rng_));
  }

  // Runs one operation of the workload; `done(1)` acquired, `done(0)`
  // refused (held by another), `done(-1)` an error.
  void Operation(int client, std::function<void(int)> done) {
    switch (options_.workload) {
      case Workload::kPairs: return LockThenRelease(client, RandomKey(), false, std::move(done));
      case Workload::kHot: return LockThenRelease(client, HotKey(), false, std::move(done));
      case Workload::kHotWait: return LockThenRelease(client, HotKey(), true, std::move(done));
      case Workload::kExtend: return Extend(client, std::move(done));
    }
  }

  void LockThenRelease(int client, const std::string& key, bool wait, std::function<void(int)> done) {
    const std::string owner = Owner(client);
    const std::string ttl = std::to_string(options_.ttl_ms);
    auto& conns = client_connections_[static_cast<size_t>(client)];
    if (options_.target == Target::kLockerd) {
      std::string lock = wait ? Command({"LOCK", key, owner, ttl, "WAIT", "2000"})
                              : Command({"LOCK", key, owner, ttl});
      conns[0]->Send(std::move(lock), [this, conns, key, owner, done](const Reply& reply) {
        if (reply.type != Reply::Type::kInteger) return done(reply.IsError() ? -1 : 0);
        conns[0]->Send(Command({"RELEASE", key, owner}), [done](const Reply& released) {
          done(released.type == Reply::Type::kInteger ? 1 : -1);
        });
      });
      return;
    }
    // Redis and Redlock: SET NX PX on every server; a majority wins; release
    // everywhere with the script (Redlock releases after a failed attempt too).
    auto state = std::make_shared<std::pair<int, int>>(0, 0);  // (answers, oks)
    const int needed = static_cast<int>(conns.size() / 2 + 1);
    for (Connection* conn : conns) {
      conn->Send(Command({"SET", key, owner, "NX", "PX", ttl}),
                 [this, conns, key, owner, done, state, needed](const Reply& reply) {
                   ++state->first;
                   if (reply.type == Reply::Type::kSimple) ++state->second;
                   if (state->first < static_cast<int>(conns.size())) return;
                   const bool won = state->second >= needed;
                   if (!won && state->second == 0) return done(0);
                   auto releases = std::make_shared<int>(0);
                   for (Connection* c : conns) {
                     c->Send(Command({"EVALSHA", release_sha_, "1", key, owner}),
                             [done, releases, won, n = conns.size()](const Reply&) {
                               if (++*releases == static_cast<int>(n)) done(won ? 1 : 0);
                             });
                   }
                 });
    }
  }

  void PrepareHeartbeats() {
    // Each client takes its own key once, then renews it as fast as it can.
    auto pending = std::make_shared<int>(options_.clients);
    for (int client = 0; client < options_.clients; ++client) {
      const std::string key = "leader:" + std::to_string(client);
      const std::string owner = "leader-" + std::to_string(client);
      std::string lock = options_.target == Target::kLockerd
                             ? Command({"LOCK", key, owner, std::to_string(options_.ttl_ms)})
                             : Command({"SET", key, owner, "PX", std::to_string(options_.ttl_ms)});
      for (Connection* conn : client_connections_[static_cast<size_t>(client)]) {
        conn->Send(lock, [] (const Reply&) {});
      }
      client_connections_[static_cast<size_t>(client)][0]->Send(Command({"PING"}), [this, pending](const Reply&) {
        if (--*pending == 0) StartAll();
      });
    }
  }

  void Extend(int client, std::function<void(int)> done) {
    const std::string key = "leader:" + std::to_string(client);
    const std::string owner = "leader-" + std::to_string(client);
    const std::string ttl = std::to_string(options_.ttl_ms);
    auto& conns = client_connections_[static_cast<size_t>(client)];
    if (options_.target == Target::kLockerd) {
      conns[0]->Send(Command({"EXTEND", key, owner, ttl}), [done](const Reply& reply) {
        done(reply.type == Reply::Type::kInteger ? 1 : -1);
      });
      return;
    }
    auto state = std::make_shared<std::pair<int, int>>(0, 0);
    for (Connection* conn : conns) {
      conn->Send(Command({"EVALSHA", extend_sha_, "1", key, owner, ttl}),
                 [done, state, n = conns.size()](const Reply& reply) {
                   ++state->first;
                   if (reply.type == Reply::Type::kInteger && reply.integer == 1) ++state->second;
                   if (state->first == static_cast<int>(n)) {
                     done(state->second >= static_cast<int>(n / 2 + 1) ? 1 : -1);
                   }
                 });
    }
  }

  Options options_;
  uv_loop_t loop_{};
  uv_prepare_t prepare_{};
  std::mt19937 rng_;
  std::vector<std::unique_ptr<Connection>> connections_;  // For script loading.
  std::vector<std::unique_ptr<Connection>> owned_;
  std::vector<std::vector<Connection*>> client_connections_;
  std::vector<Slot> slots_;
  std::map<uv_timer_t*, size_t> index_of_timer_;
  std::string release_sha_;
  std::string extend_sha_;
  double interval_us_ = 0;
  int64_t start_us_ = 0;
  int64_t end_at_us_ = 0;
  int64_t end_us_ = 0;
  bool finished_ = false;
  uint64_t serial_ = 0;
  uint64_t completed_ = 0;
  uint64_t succeeded_ = 0;
  uint64_t refused_ = 0;
  uint64_t errors_ = 0;
  LatencyHistogram histogram_;
};

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const std::string value = i + 1 < argc ? argv[i + 1] : "";
    if (flag == "--target") {
      options.target = value == "redis" ? Target::kRedis : value == "redlock" ? Target::kRedlock : Target::kLockerd;
    } else if (flag == "--addr") {
      options.addresses.push_back(value);
    } else if (flag == "--workload") {
      options.workload = value == "hot"        ? Workload::kHot
                         : value == "hot-wait" ? Workload::kHotWait
                         : value == "extend"   ? Workload::kExtend
                                               : Workload::kPairs;
    } else if (flag == "--clients") {
      options.clients = std::atoi(value.c_str());
    } else if (flag == "--pipeline") {
      options.pipeline = std::atoi(value.c_str());
    } else if (flag == "--seconds") {
      options.seconds = std::atof(value.c_str());
    } else if (flag == "--rate") {
      options.rate = std::atof(value.c_str());
    } else if (flag == "--keys") {
      options.keys = std::atoi(value.c_str());
    } else if (flag == "--ttl") {
      options.ttl_ms = std::atoi(value.c_str());
    } else {
      std::fprintf(stderr, "unknown argument %s\n", flag.c_str());
      return 2;
    }
    ++i;
  }
  if (options.addresses.empty()) {
    std::fprintf(stderr, "usage: lockerd_loadgen --target lockerd|redis|redlock --addr host:port ... "
                         "--workload pairs|hot|hot-wait|extend [--clients C] [--pipeline P] "
                         "[--seconds S] [--rate R]\n");
    return 2;
  }
  Generator generator(options);
  generator.Run();
  generator.Print();
  return 0;
}
