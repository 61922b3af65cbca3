// How long a lease can live once its clients are gone: three real Nodes, a
// network that delays every message at random, and readers that only read
// the key through one-key scripts (what EVAL "return redis.call('EXISTS',
// KEYS[1])" does). Reading a lease never lengthens it, so whatever the
// readers and the delays do, no member may hold it past its ttl (stretched
// by the drift allowance) plus the time a late commit or learn of it can
// still be applied.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "cluster/lease_math.h"
#include "cluster/node.h"

namespace lockerd::cluster {
namespace {

constexpr int64_t kWallMs = 1'790'000'000'000;

class DelayedCluster {
 public:
  DelayedCluster(uint64_t seed, int64_t max_delay_ms) : rng_(seed), max_delay_ms_(max_delay_ms) {
    for (size_t i = 0; i < 3; ++i) {
      NodeOptions options;
      options.membership = cluster::Membership::Initial(3);
      options.self = static_cast<MemberId>(i);
      options.max_lease_ms = 5000;
      options.round_timeout_ms = 500;
      options.seed = seed * 31 + i;
      nodes_.push_back(std::make_unique<Node>(options));
    }
  }

  Time now() const { return {now_ms_, kWallMs + now_ms_}; }
  int64_t now_ms() const { return now_ms_; }
  Node& node(size_t i) { return *nodes_[i]; }

  // Messages to `member` are dropped while this is set (it missed them).
  void Deafen(std::optional<size_t> member) { deaf_ = member; }

  void Submit(size_t via, const WriteRequest& request) {
    nodes_[via]->Submit(request, now());
    Collect(via);
  }
  void SubmitTxn(size_t via, TxnRequest request) {
    nodes_[via]->SubmitTxn(std::move(request), now());
    Collect(via);
  }

  // One millisecond: every member's timers, then the messages due, in a
  // random order.
  void Step() {
    ++now_ms_;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      nodes_[i]->Tick(now());
      Collect(i);
    }
    for (bool any = true; any;) {
      any = false;
      std::vector<size_t> due;
      for (size_t i = 0; i < in_flight_.size(); ++i) {
        if (in_flight_[i].at_ms <= now_ms_) due.push_back(i);
      }
      if (due.empty()) break;
      const size_t pick = due[std::uniform_int_distribution<size_t>(0, due.size() - 1)(rng_)];
      const Message message = in_flight_[pick].message;
      in_flight_.erase(in_flight_.begin() + static_cast<long>(pick));
      nodes_[message.to]->Receive(message, now());
      Collect(message.to);
      any = true;
    }
  }

  std::vector<WriteResult> TakeResults() {
    std::vector<WriteResult> out;
    out.swap(results_);
    return out;
  }

  // The members holding `key` now.
  size_t Holding(const std::string& key) const {
    size_t count = 0;
    for (const auto& node : nodes_) count += node->table().FindHeld(key, now_ms_) != nullptr ? 1 : 0;
    return count;
  }

  int64_t Uniform(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng_); }

 private:
  struct InFlight {
    Message message;
    int64_t at_ms;
  };
  void Collect(size_t i) {
    std::vector<Message> outbox;
    nodes_[i]->TakeOutbox(&outbox);
    for (Message& message : outbox) {
      if (deaf_ && message.to == *deaf_ && message.from != message.to) continue;
      // Messages a member sends itself are not delayed by a network.
      int64_t delay = message.from == message.to ? 0 : Uniform(0, max_delay_ms_);
      if (message.from != message.to && Uniform(0, 99) < slow_percent) delay = Uniform(0, slow_ms);
      in_flight_.push_back({std::move(message), now_ms_ + delay});
    }
    std::vector<WriteResult> results;
    nodes_[i]->TakeResults(&results);
    results_.insert(results_.end(), results.begin(), results.end());
  }

  std::mt19937_64 rng_;
  int64_t max_delay_ms_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<InFlight> in_flight_;
  std::vector<WriteResult> results_;
  std::optional<size_t> deaf_;
  int64_t now_ms_ = 1000;
 public:
  int64_t slow_percent = 0, slow_ms = 0;
};

// A one-key script that only reads (EXISTS): it writes nothing.
TxnRequest ReadScript(uint64_t request_id, const std::string& key) {
  TxnRequest request;
  request.request_id = request_id;
  request.keys = {key};
  request.peek_first = true;
  request.body = [](const TxnView& view) { return std::vector<TxnWrite>(view.keys.size()); };
  return request;
}

int64_t g_slow_percent = 0, g_slow_ms = 0;
struct LifetimeRun {
  int64_t granted_ms = -1;  // When the LOCK was answered.
  int64_t last_held_ms = -1;  // The last millisecond any member held the key.
  uint64_t reads = 0;
};

// A LOCK with `ttl_ms` through member 0 whose commit member 2 misses (so
// that the members' registers disagree), then `readers` clients reading the
// key through members 0, 1 (, 2) back to back until 4 ttls have passed.
LifetimeRun RunReaders(uint64_t seed, size_t readers, int64_t max_delay_ms, int64_t ttl_ms) {
  DelayedCluster cluster(seed, max_delay_ms);
  cluster.slow_percent = g_slow_percent; cluster.slow_ms = g_slow_ms;
  LifetimeRun run;
  const std::string key = "k";
  cluster.Deafen(2);
  WriteRequest lock;
  lock.request_id = 1;
  lock.op = WriteOp::kLock;
  lock.key = key;
  lock.owner = "gone";
  lock.ttl_ms = ttl_ms;
  cluster.Submit(0, lock);
  uint64_t next_id = 100;
  std::vector<uint64_t> reading(readers, 0);  // Request in flight per reader.
  std::vector<int64_t> next_read_ms(readers, -1);
  const int64_t end_ms = cluster.now_ms() + 4 * ttl_ms;
  while (cluster.now_ms() < end_ms) {
    cluster.Step();
    for (const WriteResult& result : cluster.TakeResults()) {
      if (result.request_id == 1) {
        EXPECT_EQ(result.outcome, WriteOutcome::kDone);
        run.granted_ms = cluster.now_ms();
        cluster.Deafen(std::nullopt);
        for (size_t r = 0; r < readers; ++r) next_read_ms[r] = cluster.now_ms() + cluster.Uniform(0, 5);
      }
      for (size_t r = 0; r < readers; ++r) {
        if (reading[r] == result.request_id) {
          reading[r] = 0;
          next_read_ms[r] = cluster.now_ms() + cluster.Uniform(0, 3);
        }
      }
    }
    for (size_t r = 0; r < readers; ++r) {
      if (reading[r] != 0 || next_read_ms[r] < 0 || cluster.now_ms() < next_read_ms[r]) continue;
      reading[r] = next_id++;
      ++run.reads;
      cluster.SubmitTxn(r % 3, ReadScript(reading[r], key));
    }
    if (cluster.Holding(key) > 0) run.last_held_ms = cluster.now_ms();
  }
  return run;
}

// No member may hold a lease longer than this after its LOCK was answered:
// its ttl on a clock up to the drift allowance slower, the time a commit or
// learn of it may still be applied late (L, the round timeout), and a few
// milliseconds of granularity.
int64_t LifetimeBoundMs(int64_t ttl_ms) {
  return static_cast<int64_t>(std::ceil(static_cast<double>(ttl_ms) * 1.01)) + 500 + 5;
}

TEST(LeaseLifetime, ReadersThroughTwoMembersNeverKeepALeaseAlive) {
  const int64_t ttl_ms = 1000;
  int failures = 0;
  int64_t worst_ms = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    const LifetimeRun run = RunReaders(seed, 2, /*max_delay_ms=*/40, ttl_ms);
    ASSERT_GE(run.granted_ms, 0) << "seed " << seed;
    const int64_t lived_ms = run.last_held_ms - run.granted_ms;
    worst_ms = std::max(worst_ms, lived_ms);
    if (lived_ms > LifetimeBoundMs(ttl_ms)) {
      ++failures;
      ADD_FAILURE() << "seed " << seed << ": held " << lived_ms << " ms after a " << ttl_ms
                    << " ms LOCK, through " << run.reads << " reads";
    }
  }
  EXPECT_EQ(failures, 0) << "worst " << worst_ms << " ms";
}

// Two members whose copies of one lease end at different times (one applied
// the commit 50 ms after the other), a third that takes no commit (its
// promises arrive, its commits are lost or refused as older than L), and
// two readers polling through the first two. Each read through the member
// still holding finds the third member behind, so it writes the lease back
// with its time left inflated for the members that lack it; the member
// whose copy had just ended took that as a new copy ending 40 ms (the
// read's promise-to-commit delay) after the reader's, and the two then took
// turns reviving each other for as long as anyone read: a 500 ms lease was
// still held after 3 s. A copy that ended stays ended.
TEST(LeaseLifetime, CopiesThatEndAtDifferentTimesDoNotReviveEachOther) {
  std::vector<std::unique_ptr<Node>> nodes;
  for (size_t i = 0; i < 3; ++i) {
    NodeOptions options;
    options.membership = cluster::Membership::Initial(3);
    options.self = static_cast<MemberId>(i);
    options.max_lease_ms = 1000;
    options.round_timeout_ms = 100;
    options.seed = 7 + i;
    nodes.push_back(std::make_unique<Node>(options));
  }
  int64_t now_ms = 1000;
  const auto now = [&] { return Time{now_ms, kWallMs + now_ms}; };
  std::vector<Message> in_flight;
  std::vector<WriteResult> results;
  const auto collect = [&](size_t i) {
    std::vector<Message> outbox;
    nodes[i]->TakeOutbox(&outbox);
    for (Message& message : outbox) {
      const bool commit = std::holds_alternative<Accept>(message.body) || std::holds_alternative<Learn>(message.body);
      if (message.to == 2 && commit) continue;  // Member 2 takes no commit.
      in_flight.push_back(std::move(message));
    }
    nodes[i]->TakeResults(&results);
  };
  // Delivers every message in flight that `pick` accepts, and what they
  // lead to, until none is left.
  const auto deliver = [&](const std::function<bool(const Message&)>& pick) {
    for (bool progress = true; progress;) {
      progress = false;
      for (size_t i = 0; i < in_flight.size(); ++i) {
        if (!pick(in_flight[i])) continue;
        const Message message = in_flight[i];
        in_flight.erase(in_flight.begin() + static_cast<long>(i));
        nodes[message.to]->Receive(message, now());
        collect(message.to);
        progress = true;
        break;
      }
    }
  };
  const auto advance = [&](int64_t ms) {
    for (int64_t i = 0; i < ms; ++i) {
      ++now_ms;
      for (size_t n = 0; n < 3; ++n) {
        nodes[n]->Tick(now());
        collect(n);
      }
    }
  };
  const auto is_accept_to = [](size_t to) {
    return [to](const Message& m) { return std::holds_alternative<Accept>(m.body) && m.to == to; };
  };
  const auto not_accept = [](const Message& m) { return !std::holds_alternative<Accept>(m.body); };
  const auto holds = [&](size_t n) { return nodes[n]->table().FindHeld("k", now_ms) != nullptr; };

  // The lease: 500 ms through member 0, whose copy starts at once; member
  // 1 applies the commit 50 ms later.
  WriteRequest lock;
  lock.request_id = 1;
  lock.op = WriteOp::kLock;
  lock.key = "k";
  lock.owner = "gone";
  lock.ttl_ms = 500;
  nodes[0]->Submit(lock, now());
  collect(0);
  deliver(not_accept);
  advance(50);
  deliver([](const Message&) { return true; });
  ASSERT_EQ(results.size(), 1u);
  ASSERT_EQ(results[0].outcome, WriteOutcome::kDone);
  const int64_t answered_ms = now_ms;
  ASSERT_TRUE(holds(0) && holds(1) && !holds(2));

  // Readers through members 0 and 1: whenever one member's copy has ended
  // and the other's has not, the one still holding reads, and its
  // write-back reaches the other 40 ms after the promises.
  uint64_t next_id = 100;
  int64_t last_held_ms = now_ms;
  while (now_ms < answered_ms + 3000) {
    advance(1);
    const bool h0 = holds(0);
    const bool h1 = holds(1);
    if (h0 || h1 || holds(2)) last_held_ms = now_ms;
    if (h0 == h1) continue;
    const size_t reader = h0 ? 0 : 1;
    TxnRequest read;
    read.request_id = next_id++;
    read.keys = {"k"};
    read.peek_first = true;
    read.body = [](const TxnView& view) { return std::vector<TxnWrite>(view.keys.size()); };
    nodes[reader]->SubmitTxn(std::move(read), now());
    collect(reader);
    // The peek disagrees (member 2 is behind), the full round's promises
    // come from the reader and member 2: the write-back goes out.
    const auto to_reader_or_2 = [&](const Message& m) {
      return !std::holds_alternative<Accept>(m.body) && (m.to == reader || m.to == 2 || m.from == 2);
    };
    deliver(to_reader_or_2);
    advance(40);
    deliver(is_accept_to(1 - reader));
    deliver([](const Message&) { return true; });
  }
  EXPECT_LE(last_held_ms - answered_ms, 500 * 101 / 100 + 5)
      << "a lease of 500 ms, nobody renewing it, held " << (last_held_ms - answered_ms)
      << " ms after its LOCK was answered";
}

}  // namespace
}  // namespace lockerd::cluster
