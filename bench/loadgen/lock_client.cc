#include <cstdio>
#include <cstdlib>
#include "bench/loadgen/lock_client.h"

#include <memory>
#include <string_view>

#include "protocol/resp_writer.h"

namespace lockerd::bench {
namespace {

constexpr const char* kReleaseScript =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
constexpr const char* kExtendScript =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) "
    "else return 0 end";
// etcd sessions outlive a benchmark run; holds end with unlock.
constexpr int kEtcdLeaseSeconds = 600;

std::string Command(std::initializer_list<std::string_view> args) {
  std::string out;
  protocol::RespWriter writer(&out);
  writer.WriteArrayHeader(args.size());
  for (const std::string_view arg : args) writer.WriteBulk(arg);
  return out;
}

std::string Base64(std::string_view in) {
  static constexpr char kDigits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out += kDigits[(v >> shift) & 63];
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kDigits[(v >> 18) & 63];
    out += kDigits[(v >> 12) & 63];
    out += i + 1 < in.size() ? kDigits[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// The string value of "field" in a flat JSON object ("" when absent).
std::string JsonString(std::string_view json, std::string_view field) {
  const std::string needle = "\"" + std::string(field) + "\":\"";
  const size_t at = json.find(needle);
  if (at == std::string_view::npos) return "";
  const size_t start = at + needle.size();
  return std::string(json.substr(start, json.find('"', start) - start));
}

// With LOADGEN_VERBOSE set, error replies are printed (the first 20).
bool IsErrorReported(const Reply& reply) {
  static int reported = 0;
  if (!reply.IsError()) return false;
  if (std::getenv("LOADGEN_VERBOSE") != nullptr && reported < 20) {
    ++reported;
    std::fprintf(stderr, "error reply: %s\n", reply.text.c_str());
  }
  return true;
}

class LockerdClient final : public LockClient {
 public:
  LockerdClient(Connection* conn, int ttl_ms, int wait_ms)
      : conn_(conn), ttl_(std::to_string(ttl_ms)), wait_(std::to_string(wait_ms)) {}

  void Acquire(const std::string& key, const std::string& owner, bool wait, Acquired done) override {
    std::string lock = wait ? Command({"LOCK", key, owner, ttl_, "WAIT", wait_}) : Command({"LOCK", key, owner, ttl_});
    conn_->Send(std::move(lock), [owner, done = std::move(done)](const Reply& reply) {
      done(reply.type == Reply::Type::kInteger ? 1 : IsErrorReported(reply) ? -1 : 0, owner);
    });
  }
  void Release(const std::string& key, const std::string& owner, Done done) override {
    conn_->Send(Command({"RELEASE", key, owner}), [done = std::move(done)](const Reply& reply) {
      done(reply.type == Reply::Type::kInteger && reply.integer == 1 ? 1 : IsErrorReported(reply) ? -1 : 0);
    });
  }
  void Extend(const std::string& key, const std::string& owner, Done done) override {
    conn_->Send(Command({"EXTEND", key, owner, ttl_}), [done = std::move(done)](const Reply& reply) {
      done(reply.type == Reply::Type::kInteger ? 1 : IsErrorReported(reply) ? -1 : 0);
    });
  }
  void Ping(Done done) override {
    conn_->Send(Command({"PING"}), [done = std::move(done)](const Reply& reply) { done(IsErrorReported(reply) ? -1 : 1); });
  }
  bool CanWait() const override { return true; }

 private:
  Connection* conn_;
  std::string ttl_;
  std::string wait_;
};

// redis-server (one connection) and Redlock (one per server): every step
// goes to all servers and counts as done on a majority.
class RedisClient final : public LockClient {
 public:
  RedisClient(std::vector<Connection*> conns, int ttl_ms) : conns_(std::move(conns)), ttl_(std::to_string(ttl_ms)) {}

  void Prepare(std::function<void()> ready) override {
    auto left = std::make_shared<size_t>(2 * conns_.size());
    for (Connection* conn : conns_) {
      conn->Send(Command({"SCRIPT", "LOAD", kReleaseScript}), [this, left, ready](const Reply& reply) {
        release_sha_ = reply.text;
        if (--*left == 0) ready();
      });
      conn->Send(Command({"SCRIPT", "LOAD", kExtendScript}), [this, left, ready](const Reply& reply) {
        extend_sha_ = reply.text;
        if (--*left == 0) ready();
      });
    }
  }

  void Acquire(const std::string& key, const std::string& owner, bool, Acquired done) override {
    // Like node-redlock: a lost attempt is released everywhere at once, so
    // the partial holds do not block the key until they expire.
    OnAll(Command({"SET", key, owner, "NX", "PX", ttl_}),
          [](const Reply& reply) { return reply.type == Reply::Type::kSimple; },
          [this, key, owner, done = std::move(done)](size_t oks, size_t errors) {
            if (oks >= Majority()) return done(1, owner);
            if (oks == 0) return done(errors == conns_.size() ? -1 : 0, owner);
            Release(key, owner, [done, owner](Outcome) { done(0, owner); });
          });
  }
  void Release(const std::string& key, const std::string& owner, Done done) override {
    OnAll(Command({"EVALSHA", release_sha_, "1", key, owner}),
          [](const Reply& reply) { return reply.type == Reply::Type::kInteger && reply.integer == 1; },
          [this, done = std::move(done)](size_t oks, size_t errors) {
            done(oks >= Majority() ? 1 : errors > 0 ? -1 : 0);
          });
  }
  void Extend(const std::string& key, const std::string& owner, Done done) override {
    OnAll(Command({"EVALSHA", extend_sha_, "1", key, owner, ttl_}),
          [](const Reply& reply) { return reply.type == Reply::Type::kInteger && reply.integer == 1; },
          [this, done = std::move(done)](size_t oks, size_t errors) {
            done(oks >= Majority() ? 1 : errors > 0 ? -1 : 0);
          });
  }
  void Ping(Done done) override {
    conns_.front()->Send(Command({"PING"}),
                         [done = std::move(done)](const Reply& reply) { done(reply.IsError() ? -1 : 1); });
  }
  bool CanWait() const override { return false; }

 private:
  size_t Majority() const { return conns_.size() / 2 + 1; }

  // Sends `command` to every server; `then(oks, errors)` once all answered.
  void OnAll(const std::string& command, bool (*ok)(const Reply&), std::function<void(size_t, size_t)> then) {
    struct Tally {
      size_t answers = 0, oks = 0, errors = 0;
    };
    auto tally = std::make_shared<Tally>();
    auto shared_then = std::make_shared<std::function<void(size_t, size_t)>>(std::move(then));
    for (Connection* conn : conns_) {
      conn->Send(command, [this, tally, ok, shared_then](const Reply& reply) {
        ++tally->answers;
        if (ok(reply)) ++tally->oks;
        if (reply.IsError()) ++tally->errors;
        if (tally->answers == conns_.size()) (*shared_then)(tally->oks, tally->errors);
      });
    }
  }

  std::vector<Connection*> conns_;
  std::string ttl_;
  std::string release_sha_;
  std::string extend_sha_;
};

class EtcdClient final : public LockClient {
 public:
  explicit EtcdClient(Connection* conn) : conn_(conn) {}

  void Prepare(std::function<void()> ready) override {
    conn_->Post("/v3/lease/grant", "{\"TTL\":" + std::to_string(kEtcdLeaseSeconds) + "}",
                [this, ready = std::move(ready)](const Reply& reply) {
                  lease_ = JsonString(reply.text, "ID");
                  ready();
                });
  }
  void Acquire(const std::string& key, const std::string&, bool, Acquired done) override {
    conn_->Post("/v3/lock/lock", "{\"name\":\"" + Base64(key) + "\",\"lease\":\"" + lease_ + "\"}",
                [done = std::move(done)](const Reply& reply) {
                  const std::string handle = JsonString(reply.text, "key");
                  done(!reply.IsError() && !handle.empty() ? 1 : -1, handle);
                });
  }
  void Release(const std::string&, const std::string& handle, Done done) override {
    conn_->Post("/v3/lock/unlock", "{\"key\":\"" + handle + "\"}",
                [done = std::move(done)](const Reply& reply) { done(reply.IsError() ? -1 : 1); });
  }
  void Extend(const std::string&, const std::string&, Done done) override { done(-1); }
  bool CanWait() const override { return true; }
  bool CanTryOnce() const override { return false; }  // etcd's lock always waits.
  bool CanExtend() const override { return false; }   // Keep-alive is a gRPC stream.
  bool CanPing() const override { return false; }

 private:
  Connection* conn_;
  std::string lease_;
};

}  // namespace

std::unique_ptr<LockClient> LockClient::Make(System system, std::vector<Connection*> connections, int ttl_ms,
                                             int wait_ms) {
  switch (system) {
    case System::kLockerd: return std::make_unique<LockerdClient>(connections.front(), ttl_ms, wait_ms);
    case System::kRedis:
    case System::kRedlock: return std::make_unique<RedisClient>(std::move(connections), ttl_ms);
    case System::kEtcd: return std::make_unique<EtcdClient>(connections.front());
  }
  return nullptr;
}

}  // namespace lockerd::bench
