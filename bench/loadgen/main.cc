// lockerd_loadgen: a load generator for lock services, on one libuv loop.
// It drives lockerd, redis-server, client-side Redlock over several
// redis-servers, or etcd's lock API with the same workloads, sending what
// each system's lock libraries send (see lock_client.h), so they compare
// fairly.
//
//   lockerd_loadgen --system lockerd --addr 127.0.0.1:6379 --workload pairs
//                   --clients 50 --pipeline 1 --seconds 5 [--rate 20000]
//
// Workloads:
//   pairs     acquire then release a random key (uncontended);
//   hot       acquire one of a few keys, release if won (contended);
//   hot-wait  the same, blocking until the key is free (LOCK ... WAIT);
//   extend    each client renews its own lease (leader heartbeats);
//   handoff   clients in pairs pass one key back and forth: the holder
//             releases while the other blocks in acquire; latency is from
//             the release being sent until the waiter holds the key;
//   ping      PING round trips (the link and server floor, no lock work);
//   fill      acquire --count distinct 16-byte keys for 16-byte owners with
//             a long time to live, then stop (for memory per lease).
// With --rate the load is open-loop: operations start on a schedule and
// latency counts from the scheduled start (no coordinated omission).
// Each client rides its own connection(s); with several addresses (and not
// Redlock) clients spread over them and move to the next when a link drops,
// so a run can go on while a member is killed.
//
// Prints one line of name=value pairs: ops_per_s, ok/refused/errors,
// operation latency percentiles (us), acquire latency percentiles (us),
// max_gap_us (the longest time without a successful acquire) and links_lost.
#include <uv.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/latency_histogram.h"
#include "bench/loadgen/connection.h"
#include "bench/loadgen/lock_client.h"

namespace lockerd::bench {
namespace {

enum class Workload { kPairs, kHot, kHotWait, kExtend, kHandoff, kFill, kPing };

struct Options {
  System system = System::kLockerd;
  std::vector<std::string> addresses;
  Workload workload = Workload::kPairs;
  int clients = 50;
  int pipeline = 1;
  double seconds = 5;
  double rate = 0;  // Operations per second in total; 0: as fast as possible.
  int keys = 100000;
  int hot_keys = 4;
  int ttl_ms = 5000;
  int wait_ms = 10000;
  long count = 1000000;     // fill: leases to create.
  int handoff_delay_ms = 5;  // handoff: the waiter's head start.
};

int64_t NowUs() { return static_cast<int64_t>(uv_hrtime() / 1000); }

// "<prefix><number>" padded with zeros to 16 bytes.
std::string Sixteen(char prefix, long number) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%c:%014ld", prefix, number);
  return buffer;
}

class Generator {
 public:
  explicit Generator(const Options& options) : options_(options), rng_(42) { uv_loop_init(&loop_); }

  int Run() {
    const size_t servers = options_.addresses.size();
    for (int client = 0; client < options_.clients; ++client) {
      std::vector<Connection*> conns;
      if (options_.system == System::kRedlock) {
        for (const std::string& address : options_.addresses) {
          connections_.push_back(std::make_unique<Connection>(&loop_, std::vector{address}, Framing::kResp));
          conns.push_back(connections_.back().get());
        }
      } else {
        // Client c starts at server c % n and fails over to the next.
        std::vector<std::string> order;
        for (size_t k = 0; k < servers; ++k) order.push_back(options_.addresses[(client + k) % servers]);
        const Framing framing = options_.system == System::kEtcd ? Framing::kHttp : Framing::kResp;
        connections_.push_back(std::make_unique<Connection>(&loop_, std::move(order), framing));
        conns.push_back(connections_.back().get());
      }
      clients_.push_back(LockClient::Make(options_.system, conns, options_.ttl_ms, options_.wait_ms));
    }
    if (const char* why = Unsupported()) {
      std::printf("unsupported=\"%s\"\n", why);
      return 3;
    }
    uv_prepare_init(&loop_, &prepare_);
    uv_prepare_start(&prepare_, [](uv_prepare_t*) { Connection::FlushAll(); });
    uv_unref(reinterpret_cast<uv_handle_t*>(&prepare_));
    auto left = std::make_shared<int>(options_.clients);
    for (auto& client : clients_) {
      client->Prepare([this, left] {
        if (--*left == 0) Prepared();
      });
    }
    uv_run(&loop_, UV_RUN_DEFAULT);
    Print();
    return 0;
  }

 private:
  struct Slot {
    int client = 0;
    int64_t next_start_us = 0;  // Open loop: when the next operation is due.
    uv_timer_t timer{};
    Generator* generator = nullptr;
    size_t index = 0;
  };
  struct Pair {
    int holder = 0;
    int waiter = 0;
    std::string key;
    std::string handle;  // The holder's.
    int64_t released_at = 0;
    uv_timer_t timer{};
    Generator* generator = nullptr;
  };

  const char* Unsupported() const {
    const LockClient& client = *clients_.front();
    const bool waits = options_.workload == Workload::kHotWait || options_.workload == Workload::kHandoff;
    if (waits && !client.CanWait()) return "no blocking acquire: clients poll with a retry delay";
    // Pairs on random keys rarely meet, so a blocking acquire serves them.
    if (options_.workload == Workload::kHot && !client.CanTryOnce()) return "acquire always blocks";
    if (options_.workload == Workload::kExtend && !client.CanExtend()) return "renewal is a keep-alive stream";
    if (options_.workload == Workload::kPing && !client.CanPing()) return "no PING";
    if (options_.workload == Workload::kHandoff && options_.clients % 2 != 0) return "handoff needs an even --clients";
    return nullptr;
  }

  void Prepared() {
    if (options_.workload == Workload::kExtend) return TakeLeaderKeys();
    if (options_.workload == Workload::kHandoff) return StartPairs();
    StartSlots();
  }

  void Begin() {
    start_us_ = NowUs();
    last_success_us_ = start_us_;
    end_at_us_ = start_us_ + static_cast<int64_t>(options_.seconds * 1e6);
    if (options_.workload == Workload::kFill) end_at_us_ = INT64_MAX;
  }

  void Finish() {
    if (finished_) return;
    finished_ = true;
    end_us_ = NowUs();
    max_gap_us_ = std::max(max_gap_us_, end_us_ - last_success_us_);
    uv_stop(&loop_);
  }

  void Count(Outcome outcome) {
    ++completed_;
    if (outcome > 0) ++succeeded_;
    if (outcome == 0) ++refused_;
    if (outcome < 0) ++errors_;
  }

  void Acquired(int64_t started) {
    const int64_t now = NowUs();
    acquire_.Record(now - started);
    max_gap_us_ = std::max(max_gap_us_, now - last_success_us_);
    last_success_us_ = now;
  }

  // --- Slot workloads: pairs, hot, hot-wait, extend, fill.

  void StartSlots() {
    Begin();
    slots_.resize(static_cast<size_t>(options_.clients) * static_cast<size_t>(options_.pipeline));
    won_by_client_.assign(static_cast<size_t>(options_.clients), 0);
    interval_us_ = options_.rate > 0 ? 1e6 * static_cast<double>(slots_.size()) / options_.rate : 0;
    for (size_t i = 0; i < slots_.size(); ++i) {
      Slot& slot = slots_[i];
      slot.client = static_cast<int>(i) % options_.clients;
      slot.index = i;
      slot.generator = this;
      slot.next_start_us = start_us_ + static_cast<int64_t>(interval_us_ * static_cast<double>(i) /
                                                            static_cast<double>(slots_.size()));
      uv_timer_init(&loop_, &slot.timer);
      slot.timer.data = &slot;
      Next(i);
    }
  }

  void Next(size_t i) {
    Slot& slot = slots_[i];
    const int64_t now = NowUs();
    if (now >= end_at_us_) return Finish();
    if (options_.workload == Workload::kFill && issued_ >= options_.count) {
      if (completed_ == static_cast<uint64_t>(options_.count)) Finish();
      return;
    }
    // Timers tick in milliseconds: an operation due within one starts now
    // (and is timed from now); a later one waits for a timer.
    if (options_.rate > 0 && slot.next_start_us - now >= 1000) {
      uv_timer_start(&slot.timer, [](uv_timer_t* timer) {
        auto* due = static_cast<Slot*>(timer->data);
        due->generator->Next(due->index);
      }, static_cast<uint64_t>((slot.next_start_us - now) / 1000), 0);
      return;
    }
    // Open loop: timed from when it was due, so a server that falls behind
    // is charged for the wait (no coordinated omission).
    const int64_t started = options_.rate > 0 ? std::min(slot.next_start_us, now) : now;
    slot.next_start_us += static_cast<int64_t>(interval_us_);
    ++issued_;
    Operation(slot.client, started, [this, i, started, client = slot.client](Outcome outcome) {
      operation_.Record(NowUs() - started);
      Count(outcome);
      if (outcome > 0) ++won_by_client_[static_cast<size_t>(client)];
      Next(i);
    });
  }

  void Operation(int client, int64_t started, LockClient::Done done) {
    LockClient& lock = *clients_[static_cast<size_t>(client)];
    switch (options_.workload) {
      case Workload::kPairs: return LockThenRelease(lock, RandomKey(), false, started, std::move(done));
      case Workload::kHot: return LockThenRelease(lock, HotKey(), false, started, std::move(done));
      case Workload::kHotWait: return LockThenRelease(lock, HotKey(), true, started, std::move(done));
      case Workload::kExtend: return lock.Extend(LeaderKey(client), LeaderOwner(client), std::move(done));
      case Workload::kFill: {
        const long n = issued_ - 1;
        return lock.Acquire(Sixteen('k', n), Sixteen('o', n), false, [this, started, done](Outcome outcome, std::string) {
          if (outcome > 0) Acquired(started);
          done(outcome);
        });
      }
      case Workload::kPing: return lock.Ping(std::move(done));
      case Workload::kHandoff: break;
    }
  }

  void LockThenRelease(LockClient& lock, const std::string& key, bool wait, int64_t started, LockClient::Done done) {
    lock.Acquire(key, Owner(), wait, [this, &lock, key, started, done](Outcome outcome, std::string handle) {
      if (outcome <= 0) return done(outcome);
      Acquired(started);
      lock.Release(key, handle, [done, key, handle](Outcome released) {
        if (released == 0 && std::getenv("LOADGEN_VERBOSE") != nullptr) {
          std::fprintf(stderr, "release found the lock not held: key %s owner %s\n", key.c_str(), handle.c_str());
        }
        done(released > 0 ? 1 : -1);
      });
    });
  }

  // --- extend: every client first takes its own leader key.

  std::string LeaderKey(int client) const { return run_ + "leader:" + std::to_string(client); }
  static std::string LeaderOwner(int client) { return "leader-" + std::to_string(client); }

  void TakeLeaderKeys() {
    auto left = std::make_shared<int>(options_.clients);
    for (int client = 0; client < options_.clients; ++client) {
      clients_[static_cast<size_t>(client)]->Acquire(
          LeaderKey(client), LeaderOwner(client), false, [this, left](Outcome outcome, std::string) {
            if (outcome <= 0) std::fprintf(stderr, "could not take a leader key\n");
            if (--*left == 0) StartSlots();
          });
    }
  }

  // --- handoff: pairs of clients pass a key back and forth.

  void StartPairs() {
    Begin();
    pairs_.resize(static_cast<size_t>(options_.clients / 2));
    for (size_t p = 0; p < pairs_.size(); ++p) {
      Pair& pair = pairs_[p];
      pair.generator = this;
      pair.holder = static_cast<int>(2 * p);
      pair.waiter = static_cast<int>(2 * p + 1);
      pair.key = run_ + "handoff:" + std::to_string(p);
      uv_timer_init(&loop_, &pair.timer);
      pair.timer.data = &pair;
      clients_[static_cast<size_t>(pair.holder)]->Acquire(pair.key, Owner(), true,
                                                          [this, &pair](Outcome outcome, std::string handle) {
                                                            if (outcome <= 0) return Count(outcome), Finish();
                                                            pair.handle = std::move(handle);
                                                            HandOff(pair);
                                                          });
    }
  }

  // The waiter asks; a moment later the holder releases.
  void HandOff(Pair& pair) {
    if (NowUs() >= end_at_us_) return Finish();
    pair.released_at = 0;
    clients_[static_cast<size_t>(pair.waiter)]->Acquire(
        pair.key, Owner(), true, [this, &pair](Outcome outcome, std::string handle) {
          const int64_t now = NowUs();
          Count(outcome);
          if (outcome <= 0 || pair.released_at == 0) return Finish();  // Lost, or won before the release.
          operation_.Record(now - pair.released_at);
          Acquired(now);
          std::swap(pair.holder, pair.waiter);
          pair.handle = std::move(handle);
          HandOff(pair);
        });
    uv_timer_start(&pair.timer, [](uv_timer_t* timer) {
      Pair& due = *static_cast<Pair*>(timer->data);
      due.released_at = NowUs();
      due.generator->clients_[static_cast<size_t>(due.holder)]->Release(due.key, due.handle, [](Outcome) {});
    }, static_cast<uint64_t>(options_.handoff_delay_ms), 0);
  }

  std::string Owner() { return Sixteen('o', static_cast<long>(serial_++)); }
  // Keys carry the run's id: holds left by an earlier run (which ends with
  // leases still held) do not block this one.
  std::string RandomKey() { return run_ + "key:" + std::to_string(std::uniform_int_distribution<int>(0, options_.keys - 1)(rng_)); }
  std::string HotKey() { return run_ + "hot:" + std::to_string(std::uniform_int_distribution<int>(0, options_.hot_keys - 1)(rng_)); }

  void Print() const {
    const double elapsed = static_cast<double>(std::max<int64_t>(end_us_ - start_us_, 1)) / 1e6;
    int losses = 0;
    for (const auto& conn : connections_) losses += conn->losses();
    auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
    std::printf(
        "ops_per_s=%.0f ok=%llu refused=%llu errors=%llu p50_us=%llu p99_us=%llu p999_us=%llu max_us=%llu "
        "lock_p50_us=%llu lock_p99_us=%llu lock_p999_us=%llu max_gap_us=%lld links_lost=%d "
        "least_wins_of_a_client=%llu\n",
        static_cast<double>(completed_) / elapsed, u(succeeded_), u(refused_), u(errors_),
        u(operation_.Percentile(0.5)), u(operation_.Percentile(0.99)), u(operation_.Percentile(0.999)),
        u(operation_.max()), u(acquire_.Percentile(0.5)), u(acquire_.Percentile(0.99)),
        u(acquire_.Percentile(0.999)), static_cast<long long>(max_gap_us_), losses,
        u(won_by_client_.empty() ? 0 : *std::min_element(won_by_client_.begin(), won_by_client_.end())));
  }

  Options options_;
  const std::string run_ = std::to_string(uv_os_getpid()) + ":";
  uv_loop_t loop_{};
  uv_prepare_t prepare_{};
  std::mt19937 rng_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<std::unique_ptr<LockClient>> clients_;
  std::vector<Slot> slots_;
  // Slot workloads: successful operations per client (does every client
  // make progress on a contended key?).
  std::vector<uint64_t> won_by_client_;
  std::vector<Pair> pairs_;
  double interval_us_ = 0;
  int64_t start_us_ = 0;
  int64_t end_at_us_ = 0;
  int64_t end_us_ = 0;
  int64_t last_success_us_ = 0;
  int64_t max_gap_us_ = 0;
  bool finished_ = false;
  uint64_t serial_ = 0;
  long issued_ = 0;
  uint64_t completed_ = 0;
  uint64_t succeeded_ = 0;
  uint64_t refused_ = 0;
  uint64_t errors_ = 0;
  LatencyHistogram operation_;
  LatencyHistogram acquire_;
};

[[noreturn]] void Usage() {
  std::fprintf(stderr,
               "usage: lockerd_loadgen --system lockerd|redis|redlock|etcd --addr host:port [--addr ...]\n"
               "         --workload pairs|hot|hot-wait|extend|handoff|fill|ping [--clients C] [--pipeline P]\n"
               "         [--seconds S] [--rate OPS] [--keys N] [--hot-keys N] [--ttl MS] [--wait MS]\n"
               "         [--count N] [--handoff-delay MS]\n");
  std::exit(2);
}

Options Parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--system") {
      if (value == "lockerd") options.system = System::kLockerd;
      else if (value == "redis") options.system = System::kRedis;
      else if (value == "redlock") options.system = System::kRedlock;
      else if (value == "etcd") options.system = System::kEtcd;
      else Usage();
    } else if (flag == "--addr") {
      options.addresses.push_back(value);
    } else if (flag == "--workload") {
      if (value == "pairs") options.workload = Workload::kPairs;
      else if (value == "hot") options.workload = Workload::kHot;
      else if (value == "hot-wait") options.workload = Workload::kHotWait;
      else if (value == "extend") options.workload = Workload::kExtend;
      else if (value == "handoff") options.workload = Workload::kHandoff;
      else if (value == "fill") options.workload = Workload::kFill;
      else if (value == "ping") options.workload = Workload::kPing;
      else Usage();
    } else if (flag == "--clients") {
      options.clients = std::max(1, std::atoi(value.c_str()));
    } else if (flag == "--pipeline") {
      options.pipeline = std::max(1, std::atoi(value.c_str()));
    } else if (flag == "--seconds") {
      options.seconds = std::atof(value.c_str());
    } else if (flag == "--rate") {
      options.rate = std::atof(value.c_str());
    } else if (flag == "--keys") {
      options.keys = std::max(1, std::atoi(value.c_str()));
    } else if (flag == "--hot-keys") {
      options.hot_keys = std::max(1, std::atoi(value.c_str()));
    } else if (flag == "--ttl") {
      options.ttl_ms = std::atoi(value.c_str());
    } else if (flag == "--wait") {
      options.wait_ms = std::atoi(value.c_str());
    } else if (flag == "--count") {
      options.count = std::atol(value.c_str());
    } else if (flag == "--handoff-delay") {
      options.handoff_delay_ms = std::atoi(value.c_str());
    } else {
      Usage();
    }
  }
  if (options.addresses.empty() || argc % 2 == 0) Usage();
  return options;
}

}  // namespace
}  // namespace lockerd::bench

int main(int argc, char** argv) {
  lockerd::bench::Generator generator(lockerd::bench::Parse(argc, argv));
  return generator.Run();
}
