#include "tests/faults/workload.h"

#include <hiredis/hiredis.h>

#include <chrono>
#include <memory>

namespace lockerd::faults {
namespace {

struct ContextFree {
  void operator()(redisContext* context) const { redisFree(context); }
};
using Context = std::unique_ptr<redisContext, ContextFree>;
struct ReplyFree {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

Context Connect(const Members& members, size_t member) {
  timeval timeout{1, 0};  // Longer than a round timeout: a reply or nothing.
  Context context(redisConnectWithTimeout(members.host(member).c_str(), members.port(member), timeout));
  if (context && context->err == 0) redisSetTimeout(context.get(), timeout);
  return context;
}

ReplyPtr Command(redisContext* context, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const auto& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  return ReplyPtr(static_cast<redisReply*>(
      redisCommandArgv(context, static_cast<int>(args.size()), argv.data(), lengths.data())));
}

void SleepUntil(int64_t until_us) {
  const int64_t left = until_us - NowUs();
  if (left > 0) std::this_thread::sleep_for(std::chrono::microseconds(left));
}

}  // namespace

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool GuardedStore::Write(const std::string& key, uint64_t token, int client, int64_t at_us) {
  std::lock_guard lock(mutex_);
  ++writes_;
  uint64_t& newest = newest_[key];
  if (token < newest) {
    rejections_.push_back({key, token, newest, client, at_us});
    return false;
  }
  newest = token;
  return true;
}

std::vector<GuardedStore::Rejection> GuardedStore::rejections() const {
  std::lock_guard lock(mutex_);
  return rejections_;
}

Workload::Workload(Members& members, size_t clients, size_t keys, uint64_t seed, double drift)
    : members_(members), clients_(clients), keys_(keys), seed_(seed), drift_(drift) {}

Workload::~Workload() { Stop(); }

void Workload::Start() {
  std::mt19937_64 rng(seed_);
  for (size_t i = 0; i < clients_; ++i) {
    threads_.emplace_back([this, i, seed = rng()] { Client(static_cast<int>(i), seed); });
  }
  checker_ = std::thread([this] { CheckReleases(); });
}

void Workload::Stop() {
  stop_ = true;
  for (auto& thread : threads_) thread.join();
  threads_.clear();
  if (checker_.joinable()) checker_.join();
}

void Workload::Client(int id, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const auto uniform = [&rng](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  std::vector<Context> contexts(members_.size());
  int serial = 0;
  while (!stop_) {
    const std::string key = "lock" + std::to_string(uniform(0, static_cast<int64_t>(keys_) - 1));
    const std::string owner = "client" + std::to_string(id) + "-" + std::to_string(serial++);
    const auto member = static_cast<size_t>(uniform(0, static_cast<int64_t>(members_.size()) - 1));
    Context& context = contexts[member];
    if (!context || context->err) context = Connect(members_, member);
    if (!context || context->err) {
      std::lock_guard lock(mutex_);
      attempts_.push_back({NowUs(), false, false});
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    const int64_t ttl_ms = uniform(300, 2500);
    const int64_t sent_us = NowUs();
    ReplyPtr reply = Command(context.get(), {"LOCK", key, owner, std::to_string(ttl_ms)});
    const int64_t reply_us = NowUs();
    const bool answered = reply && (reply->type == REDIS_REPLY_INTEGER || reply->type == REDIS_REPLY_NIL);
    const bool acquired = reply && reply->type == REDIS_REPLY_INTEGER;
    if (!reply) context.reset();  // A timeout or a dead member: reconnect next time.
    {
      std::lock_guard lock(mutex_);
      attempts_.push_back({sent_us, answered, acquired});
    }
    if (!acquired) {
      std::this_thread::sleep_for(std::chrono::milliseconds(uniform(5, 60)));
      continue;
    }
    const auto token = static_cast<uint64_t>(reply->integer);
    // The client's own deadline: ttl * (1 - drift) from when it sent.
    const auto deadline = [this](int64_t from_us, int64_t ttl) {
      return from_us + static_cast<int64_t>(static_cast<double>(ttl) * 1000.0 * (1.0 - drift_));
    };
    Hold hold{id, key, member, token, sent_us, reply_us, deadline(sent_us, ttl_ms)};
    // Work: write to the guarded resource now and then, while it holds; on
    // long holds, renew with EXTEND before the deadline.
    const int64_t hold_for_us = uniform(50, 3000) * 1000;
    const int64_t stop_at = reply_us + hold_for_us;
    bool extended = false;
    while (!stop_ && NowUs() < std::min(stop_at, hold.end_us - 20'000)) {
      store_.Write(key, token, id, NowUs());
      const int64_t left_us = hold.end_us - NowUs();
      if (!extended && stop_at > hold.end_us && left_us < (hold.end_us - hold.sent_us) / 2) {
        extended = true;
        const int64_t extend_ttl = uniform(500, 2500);
        const int64_t extend_sent = NowUs();
        ReplyPtr renewed = Command(context.get(), {"EXTEND", key, owner, std::to_string(extend_ttl)});
        if (!renewed) context.reset();
        if (renewed && renewed->type == REDIS_REPLY_INTEGER) {
          // A new stretch of holding from the renewal's reply.
          hold.end_us = std::min(hold.end_us, NowUs());
          {
            std::lock_guard lock(mutex_);
            holds_.push_back(hold);
          }
          hold.sent_us = extend_sent;
          hold.start_us = NowUs();
          hold.end_us = deadline(extend_sent, extend_ttl);
        }
        if (!context) break;
      }
      SleepUntil(std::min(NowUs() + uniform(5, 40) * 1000, hold.end_us - 20'000));
    }
    // Stops using the lock, then releases it.
    hold.end_us = std::min(hold.end_us, NowUs());
    {
      std::lock_guard lock(mutex_);
      holds_.push_back(hold);
    }
    if (!context) continue;
    ReplyPtr released = Command(context.get(), {"RELEASE", key, owner});
    if (!released) context.reset();
    if (released && released->type == REDIS_REPLY_INTEGER && released->integer == 1) {
      std::lock_guard lock(mutex_);
      checks_due_.push_back({key, token, NowUs(), 0, 0});
    }
  }
}

void Workload::CheckReleases() {
  // About 300 ms after a RELEASE was acknowledged (time for the chosen value
  // to reach every member), the released token must not be held on a
  // majority of the members.
  while (true) {
    ReleaseCheck check;
    {
      std::lock_guard lock(mutex_);
      if (checks_due_.empty()) {
        if (stop_) return;
      } else {
        check = checks_due_.front();
        checks_due_.erase(checks_due_.begin());
      }
    }
    if (check.acked_us == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    SleepUntil(check.acked_us + 300'000);
    for (size_t member = 0; member < members_.size(); ++member) {
      Context context = Connect(members_, member);
      if (!context || context->err) continue;
      ReplyPtr info = Command(context.get(), {"LOCKINFO", check.key});
      if (!info) continue;
      ++check.asked;
      if (info->type == REDIS_REPLY_ARRAY && info->elements == 6 &&
          info->element[3]->type == REDIS_REPLY_INTEGER &&
          static_cast<uint64_t>(info->element[3]->integer) == check.token) {
        ++check.still_held_on;
      }
    }
    std::lock_guard lock(mutex_);
    release_checks_.push_back(check);
  }
}

std::vector<Hold> Workload::holds() const {
  std::lock_guard lock(mutex_);
  return holds_;
}

std::vector<Attempt> Workload::attempts() const {
  std::lock_guard lock(mutex_);
  return attempts_;
}

std::vector<ReleaseCheck> Workload::release_checks() const {
  std::lock_guard lock(mutex_);
  return release_checks_;
}

}  // namespace lockerd::faults
