// The 10,000-connection load test (issue 7): the real lockerd binary, one
// member, with about 10,000 client connections open at once. Among them:
// - slow readers, which pipeline KEYS * (a ~15 KB reply each) from a socket
//   with a tiny receive buffer and never read, so their unread replies cross
//   the client-output-buffer-limit and the server closes them; each slot
//   reconnects a second later, so they keep coming while we measure;
// - slowloris clients, each sending one byte a second of a valid PING;
// - idle clients, connected and silent.
// Meanwhile well-behaved clients run LOCK + RELEASE pairs, as they did
// before the flood (the unloaded run). The test checks that their p99
// latency stays within 2x of the unloaded run (with an absolute floor for
// scheduler noise, see kLatencyFloorUs), that every one of their commands
// succeeded, that the slow readers were cut, and that lockerd's memory stays
// within a bound derived from the limits and comes back afterwards. When
// the loaded p99 is over the bound it measures the loaded run once more
// (other tenants of a shared machine come and go; a server problem fails
// both runs). It prints a table of what it measured and writes it to
// load-report.txt in its working directory.
//
// Threads: the flood runs on its own libuv loop and thread; the
// well-behaved clients run on the test's thread, on another loop, so that
// flood bookkeeping does not sit between a reply and its measurement. The
// two share only atomics and the stop flag.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/latency_histogram.h"
#include "tests/support/lockerd_cluster.h"
#include "tests/support/lockerd_process.h"

namespace lockerd::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The mix: kConnections in all, the good clients included.
constexpr int kConnections = 10'000;
constexpr int kGoodClients = 8;
constexpr int kSlowReaderSlots = 200;
constexpr int kSlowlorisClients = 2'000;
constexpr int kIdleClients = kConnections - kGoodClients - kSlowReaderSlots - kSlowlorisClients;
// lockerd's limits for the run: room for every connection plus the
// observer, and an output limit small enough that a slow reader is cut
// after a few unread KEYS replies (soft = hard: no grace period).
constexpr int kMaxClients = kConnections + 500;
constexpr size_t kOutputLimitBytes = 64 * 1024;
// File descriptors this process needs: one per connection, plus slack for
// the slow readers' reconnects, libuv, hiredis and logs.
constexpr rlim_t kFdsNeeded = kConnections + 1'000;

// Keys created before the run so that KEYS * answers ~15 KB.
constexpr int kKeysForBigReplies = 300;
constexpr int64_t kKeysTtlMs = 3'600'000;  // Outlives the run.
// Connects in flight at once while opening the flood: more would overflow
// the listen backlog (511) and cost SYN retransmits of a second.
constexpr int kConnectsInFlightMax = 128;
// A slow reader pipelines this many KEYS * per burst (~240 KB of replies,
// well past the 64 KB limit), and again every kSlowReaderBurstMs until its
// writes fail; a cut slot reconnects after kSlowReaderReconnectMs.
constexpr int kSlowReaderBurstCommands = 16;
constexpr uint64_t kSlowReaderBurstMs = 200;
constexpr int64_t kSlowReaderReconnectMs = 1000;
constexpr int kSlowReaderRcvbufBytes = 4096;
// Slowloris: one byte per client per second, sent by a 10 ms timer that
// serves a hundredth of them each tick.
constexpr uint64_t kSlowlorisTickMs = 10;
constexpr int kSlowlorisTicksPerSecond = 100;

// The well-behaved clients: a warm-up that is not measured, then a run.
constexpr auto kWarmup = milliseconds(1000);
constexpr auto kUnloadedRun = milliseconds(5000);
constexpr auto kLoadedRun = milliseconds(8000);
// The latency bound is max(2 x unloaded p99, unloaded p99 + this floor).
// The machine has 2 cores shared with other builds and tests: lockerd, the
// flood and these clients compete for them, and one descheduling of a few
// milliseconds lands in the p99 of a run of a few seconds no matter what
// the server does. A server-side problem (work per loop turn proportional
// to the connection count, re-parsing partial commands) costs far more than
// this floor, so it still fails the test.
constexpr int64_t kLatencyFloorUs = 2'000;

// Memory bounds, in KB of lockerd's VmRSS. During the flood: the RSS before
// plus, per connection, the Connection and its buffers (measured at about
// 3 KB; 8 KB allowed), plus for every slow reader slot one output buffer at
// its limit and the reply that crossed it (64 KB + 15 KB; 128 KB allowed),
// plus 32 MB of slack for the allocator. After: within 16 MB of before.
constexpr int64_t kPerConnectionKb = 8;
constexpr int64_t kPerSlowReaderKb = 128;
constexpr int64_t kRssSlackKb = 32 * 1024;
constexpr int64_t kRssReturnMarginKb = 16 * 1024;

// A number field of /proc/<pid>/status ("VmRSS" in KB, ...); -1 if absent.
int64_t StatusField(pid_t pid, std::string_view name) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.size() > name.size() && line.compare(0, name.size(), name) == 0 &&
        line[name.size()] == ':') {
      return std::stoll(line.substr(name.size() + 1));
    }
  }
  return -1;
}

int64_t RssKb(pid_t pid) { return StatusField(pid, "VmRSS"); }

sockaddr_in Loopback(int port) {
  sockaddr_in address{};
  uv_ip4_addr("127.0.0.1", port, &address);
  return address;
}

// One buffer for every read callback that only looks at the bytes.
void AllocShared(uv_handle_t*, size_t, uv_buf_t* buf) {
  static thread_local char buffer[64 * 1024];
  *buf = uv_buf_init(buffer, sizeof buffer);
}

// ---------------------------------------------------------------------------
// The flood: idle clients, slowloris clients and slow readers.

enum class Kind { kIdle, kSlowloris, kSlowReader };

class Flood;

struct FloodConn {
  uv_tcp_t tcp{};
  uv_connect_t connect{};
  uv_write_t write{};
  Flood* flood = nullptr;
  Kind kind = Kind::kIdle;
  int slot = -1;  // Slow readers: their slot.
  bool open = false;
  bool closing = false;
  bool writing = false;
  size_t slowloris_offset = 0;  // Next byte of the PING it trickles.
};

struct FloodCounts {
  std::atomic<int> open{0};
  std::atomic<int> peak_open{0};
  std::atomic<int> connect_failures{0};
  std::atomic<int> unexpected_closes{0};  // Idle or slowloris closed by the server.
  std::atomic<int> slow_readers_opened{0};
  std::atomic<int> slow_readers_cut{0};  // Their writes failed: the server closed them.
  std::atomic<bool> initial_open_done{false};
};

class Flood {
 public:
  explicit Flood(int port) : address_(Loopback(port)) {}

  void Start() { thread_ = std::thread([this] { Run(); }); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  const FloodCounts& counts() const { return counts_; }

 private:
  void Run() {
    uv_loop_init(&loop_);
    loop_.data = this;
    for (int i = 0; i < kIdleClients; ++i) to_open_.push_back(Kind::kIdle);
    for (int i = 0; i < kSlowlorisClients; ++i) to_open_.push_back(Kind::kSlowloris);
    for (int i = 0; i < kSlowReaderSlots; ++i) to_open_.push_back(Kind::kSlowReader);
    slot_conn_.assign(kSlowReaderSlots, nullptr);
    slot_cut_ms_.assign(kSlowReaderSlots, -1);
    for (uv_timer_t* timer : {&control_, &slowloris_timer_, &burst_timer_}) {
      uv_timer_init(&loop_, timer);
      timer->data = this;
    }
    uv_timer_start(&control_, [](uv_timer_t* t) { static_cast<Flood*>(t->data)->OnControl(); }, 0, 20);
    uv_timer_start(&slowloris_timer_, [](uv_timer_t* t) { static_cast<Flood*>(t->data)->OnSlowloris(); },
                   kSlowlorisTickMs, kSlowlorisTickMs);
    uv_timer_start(&burst_timer_, [](uv_timer_t* t) { static_cast<Flood*>(t->data)->OnBurst(); },
                   kSlowReaderBurstMs, kSlowReaderBurstMs);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }

  int64_t NowMs() { return static_cast<int64_t>(uv_now(&loop_)); }

  void OnControl() {
    if (stop_) return CloseAll();
    while (!to_open_.empty() && connecting_ < kConnectsInFlightMax) {
      Kind kind = to_open_.back();
      to_open_.pop_back();
      int slot = -1;
      if (kind == Kind::kSlowReader) slot = next_slot_++;
      Open(kind, slot);
    }
    if (to_open_.empty() && connecting_ == 0) counts_.initial_open_done = true;
  }

  void Open(Kind kind, int slot) {
    auto* conn = new FloodConn;
    conn->flood = this;
    conn->kind = kind;
    conn->slot = slot;
    conn->tcp.data = conn;
    conn->connect.data = conn;
    uv_tcp_init_ex(&loop_, &conn->tcp, AF_INET);
    if (kind == Kind::kSlowReader) {
      // A tiny receive window: the server's replies back up into its own
      // buffers instead of ours.
      uv_os_fd_t fd;
      uv_fileno(reinterpret_cast<uv_handle_t*>(&conn->tcp), &fd);
      const int bytes = kSlowReaderRcvbufBytes;
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
      slot_conn_[static_cast<size_t>(slot)] = conn;
    }
    ++connecting_;
    const int status = uv_tcp_connect(&conn->connect, &conn->tcp,
                                      reinterpret_cast<const sockaddr*>(&address_), OnConnect);
    if (status != 0) {
      --connecting_;
      ++counts_.connect_failures;
      CloseConn(conn);
    }
  }

  static void OnConnect(uv_connect_t* request, int status) {
    auto* conn = static_cast<FloodConn*>(request->data);
    Flood& flood = *conn->flood;
    --flood.connecting_;
    if (status != 0) {
      if (status != UV_ECANCELED) ++flood.counts_.connect_failures;
      return flood.CloseConn(conn);
    }
    conn->open = true;
    const int open = ++flood.counts_.open;
    if (open > flood.counts_.peak_open) flood.counts_.peak_open = open;
    auto* stream = reinterpret_cast<uv_stream_t*>(&conn->tcp);
    switch (conn->kind) {
      case Kind::kIdle:
      case Kind::kSlowloris:
        uv_read_start(stream, AllocShared, OnRead);
        if (conn->kind == Kind::kSlowloris) flood.slowloris_.push_back(conn);
        break;
      case Kind::kSlowReader:
        ++flood.counts_.slow_readers_opened;
        flood.SendBurst(conn);  // And never read.
        break;
    }
  }

  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t*) {
    auto* conn = static_cast<FloodConn*>(stream->data);
    if (nread >= 0) return;  // PONGs for the slowloris clients; nothing else comes.
    ++conn->flood->counts_.unexpected_closes;
    conn->flood->CloseConn(conn);
  }

  void OnSlowloris() {
    static constexpr std::string_view kPing = "*1\r\n$4\r\nPING\r\n";
    const size_t phase = static_cast<size_t>(slowloris_tick_++ % kSlowlorisTicksPerSecond);
    for (size_t i = phase; i < slowloris_.size(); i += kSlowlorisTicksPerSecond) {
      FloodConn* conn = slowloris_[i];
      if (conn->closing) continue;
      uv_buf_t buf = uv_buf_init(const_cast<char*>(kPing.data() + conn->slowloris_offset), 1);
      if (uv_try_write(reinterpret_cast<uv_stream_t*>(&conn->tcp), &buf, 1) == 1) {
        conn->slowloris_offset = (conn->slowloris_offset + 1) % kPing.size();
      }
    }
  }

  void SendBurst(FloodConn* conn) {
    static const std::string kBurst = [] {
      std::string burst;
      for (int i = 0; i < kSlowReaderBurstCommands; ++i) burst += "KEYS *\r\n";
      return burst;
    }();
    if (conn->writing || conn->closing) return;
    conn->writing = true;
    conn->write.data = conn;
    uv_buf_t buf = uv_buf_init(const_cast<char*>(kBurst.data()), static_cast<unsigned>(kBurst.size()));
    uv_write(&conn->write, reinterpret_cast<uv_stream_t*>(&conn->tcp), &buf, 1,
             [](uv_write_t* request, int status) {
               auto* c = static_cast<FloodConn*>(request->data);
               c->writing = false;
               if (status == UV_ECANCELED || c->closing) return;
               if (status < 0) {
                 ++c->flood->counts_.slow_readers_cut;
                 c->flood->CloseConn(c);
               }
             });
  }

  // Every kSlowReaderBurstMs: open slow readers pipeline more (a write
  // fails once the server has closed them); cut slots reconnect.
  void OnBurst() {
    if (stop_) return;
    const int64_t now_ms = NowMs();
    for (int slot = 0; slot < next_slot_; ++slot) {
      FloodConn* conn = slot_conn_[static_cast<size_t>(slot)];
      if (conn != nullptr && conn->open) {
        SendBurst(conn);
      } else if (conn == nullptr && slot_cut_ms_[static_cast<size_t>(slot)] >= 0 &&
                 now_ms - slot_cut_ms_[static_cast<size_t>(slot)] >= kSlowReaderReconnectMs &&
                 connecting_ < kConnectsInFlightMax) {
        Open(Kind::kSlowReader, slot);
      }
    }
  }

  void CloseConn(FloodConn* conn) {
    if (conn->closing) return;
    conn->closing = true;
    if (conn->open) --counts_.open;
    conn->open = false;
    if (conn->kind == Kind::kSlowReader && slot_conn_[static_cast<size_t>(conn->slot)] == conn) {
      slot_conn_[static_cast<size_t>(conn->slot)] = nullptr;
      slot_cut_ms_[static_cast<size_t>(conn->slot)] = NowMs();
    }
    const auto on_close = [](uv_handle_t* handle) { delete static_cast<FloodConn*>(handle->data); };
    // Ending the flood with a reset leaves no 10,000 sockets in TIME_WAIT
    // holding ephemeral ports that other tests on this machine need.
    if (!stop_ || uv_tcp_close_reset(&conn->tcp, on_close) != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(&conn->tcp), on_close);
    }
  }

  void CloseAll() {
    uv_walk(
        &loop_,
        [](uv_handle_t* handle, void* arg) {
          auto* flood = static_cast<Flood*>(arg);
          if (uv_is_closing(handle)) return;
          if (handle->type == UV_TCP) {
            flood->CloseConn(static_cast<FloodConn*>(handle->data));
          } else {
            uv_close(handle, nullptr);
          }
        },
        this);
    slowloris_.clear();
  }

  sockaddr_in address_;
  uv_loop_t loop_{};
  uv_timer_t control_{};
  uv_timer_t slowloris_timer_{};
  uv_timer_t burst_timer_{};
  std::vector<Kind> to_open_;
  std::vector<FloodConn*> slowloris_;
  std::vector<FloodConn*> slot_conn_;
  std::vector<int64_t> slot_cut_ms_;
  int next_slot_ = 0;
  int connecting_ = 0;
  uint64_t slowloris_tick_ = 0;
  std::atomic<bool> stop_{false};
  FloodCounts counts_;
  std::thread thread_;
};

// ---------------------------------------------------------------------------
// The well-behaved clients: closed loop, LOCK then RELEASE on their own key,
// every reply checked and timed.

struct GoodResult {
  bench::LatencyHistogram latency_us;
  uint64_t ok = 0;
  uint64_t bad = 0;  // Errors, nulls, wrong values, lost links.
  std::string first_bad;
  int64_t rss_max_kb = -1;  // lockerd's, sampled during the run.
};

class GoodClients {
 public:
  GoodClients(int port, pid_t server_pid) : address_(Loopback(port)), server_pid_(server_pid) {}

  GoodResult Run(milliseconds warmup, milliseconds duration) {
    uv_loop_init(&loop_);
    loop_.data = this;
    result_ = {};
    measuring_ = false;
    stopping_ = false;
    clients_.clear();
    for (int i = 0; i < kGoodClients; ++i) {
      auto client = std::make_unique<Client>();
      client->owner = this;
      client->key = "good:" + std::to_string(i);
      client->name = "worker-" + std::to_string(i);
      client->lock = "LOCK " + client->key + " " + client->name + " 10000\r\n";
      client->release = "RELEASE " + client->key + " " + client->name + "\r\n";
      uv_tcp_init(&loop_, &client->tcp);
      client->tcp.data = client.get();
      client->connect.data = client.get();
      uv_tcp_connect(&client->connect, &client->tcp, reinterpret_cast<const sockaddr*>(&address_),
                     OnConnect);
      clients_.push_back(std::move(client));
    }
    uv_timer_init(&loop_, &phase_timer_);
    uv_timer_init(&loop_, &rss_timer_);
    phase_timer_.data = this;
    rss_timer_.data = this;
    duration_ = duration;
    uv_timer_start(&phase_timer_, [](uv_timer_t* t) { static_cast<GoodClients*>(t->data)->OnPhase(); },
                   static_cast<uint64_t>(warmup.count()), 0);
    uv_timer_start(&rss_timer_, [](uv_timer_t* t) {
      auto* self = static_cast<GoodClients*>(t->data);
      self->result_.rss_max_kb = std::max(self->result_.rss_max_kb, RssKb(self->server_pid_));
    }, 0, 250);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
    return result_;
  }

 private:
  struct Client {
    GoodClients* owner = nullptr;
    uv_tcp_t tcp{};
    uv_connect_t connect{};
    uv_write_t write{};
    std::string key, name, lock, release;
    std::string input;
    bool locking = true;  // Which command is in flight.
    uint64_t sent_ns = 0;
  };

  void OnPhase() {
    if (!measuring_) {
      measuring_ = true;
      uv_timer_start(&phase_timer_, [](uv_timer_t* t) { static_cast<GoodClients*>(t->data)->OnPhase(); },
                     static_cast<uint64_t>(duration_.count()), 0);
      return;
    }
    // Stop sending; each client closes after its reply in flight.
    stopping_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&phase_timer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&rss_timer_), nullptr);
  }

  static void OnConnect(uv_connect_t* request, int status) {
    auto* client = static_cast<Client*>(request->data);
    if (status != 0) {
      client->owner->Bad(std::string("connect: ") + uv_strerror(status));
      return client->owner->CloseClient(client);
    }
    uv_tcp_nodelay(&client->tcp, 1);
    uv_read_start(reinterpret_cast<uv_stream_t*>(&client->tcp), AllocShared, OnRead);
    client->owner->SendNext(client);
  }

  void SendNext(Client* client) {
    if (stopping_) return CloseClient(client);
    const std::string& command = client->locking ? client->lock : client->release;
    uv_buf_t buf = uv_buf_init(const_cast<char*>(command.data()), static_cast<unsigned>(command.size()));
    client->sent_ns = uv_hrtime();
    // Commands are tiny and the client waits for each reply, so the socket
    // always has room; a partial write would be a broken link.
    const int written = uv_try_write(reinterpret_cast<uv_stream_t*>(&client->tcp), &buf, 1);
    if (written != static_cast<int>(command.size())) {
      Bad("write failed: " + std::string(written < 0 ? uv_strerror(written) : "partial"));
      CloseClient(client);
    }
  }

  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* client = static_cast<Client*>(stream->data);
    GoodClients& self = *client->owner;
    if (nread < 0) {
      self.Bad(std::string("link lost: ") + uv_strerror(static_cast<int>(nread)));
      return self.CloseClient(client);
    }
    client->input.append(buf->base, static_cast<size_t>(nread));
    const size_t end = client->input.find("\r\n");
    if (end == std::string::npos) return;
    const uint64_t elapsed_us = (uv_hrtime() - client->sent_ns) / 1000;
    const std::string line = client->input.substr(0, end);
    client->input.erase(0, end + 2);
    // LOCK answers the token (":<digits>"), RELEASE answers ":1".
    const bool good = client->locking ? (line.size() > 1 && line[0] == ':' && line != ":0")
                                      : line == ":1";
    if (self.measuring_ && !self.stopping_ && good) {
      self.result_.latency_us.Record(static_cast<int64_t>(elapsed_us));
      ++self.result_.ok;
    }
    if (!good) self.Bad((client->locking ? "LOCK answered " : "RELEASE answered ") + line);
    client->locking = !client->locking;
    self.SendNext(client);
  }

  // Any failure counts, warm-up included.
  void Bad(std::string what) {
    if (result_.first_bad.empty()) result_.first_bad = std::move(what);
    ++result_.bad;
  }

  void CloseClient(Client* client) {
    auto* handle = reinterpret_cast<uv_handle_t*>(&client->tcp);
    if (!uv_is_closing(handle)) uv_close(handle, nullptr);
  }

  sockaddr_in address_;
  pid_t server_pid_;
  uv_loop_t loop_{};
  uv_timer_t phase_timer_{};
  uv_timer_t rss_timer_{};
  milliseconds duration_{};
  std::vector<std::unique_ptr<Client>> clients_;
  GoodResult result_;
  bool measuring_ = false;
  bool stopping_ = false;
};

// ---------------------------------------------------------------------------

// Raises this process's open-files limit for the flood; empty on success,
// else why not (the test is then skipped, saying so).
std::string RaiseOwnFdLimit() {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur >= kFdsNeeded) return {};
  rlimit raised = {kFdsNeeded, std::max(limit.rlim_max, kFdsNeeded)};
  if (setrlimit(RLIMIT_NOFILE, &raised) == 0) return {};
  if (limit.rlim_max >= kFdsNeeded) {
    raised = {kFdsNeeded, limit.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) return {};
  }
  return "needs " + std::to_string(kFdsNeeded) + " open files but the hard limit is " +
         std::to_string(limit.rlim_max) + " and cannot be raised (not root?): run as root or "
         "raise it with ulimit -Hn";
}

std::string ConfigValue(redisContext* context, const std::string& name) {
  ReplyPtr reply = Command(context, {"CONFIG", "GET", name});
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) return {};
  return std::string(reply->element[1]->str, reply->element[1]->len);
}

int64_t InfoInt(redisContext* context, std::string_view field) {
  const std::string value = InfoField(context, field);
  return value.empty() ? -1 : std::stoll(value);
}

double Ms(uint64_t micros) { return static_cast<double>(micros) / 1000.0; }

// The settings every member runs with: room for the flood, an output limit
// that cuts slow readers, and leases long enough for the KEYS * keys.
std::vector<std::string> FloodSettings() {
  return {"--maxclients", std::to_string(kMaxClients), "--client-output-buffer-limit", "normal",
          std::to_string(kOutputLimitBytes), std::to_string(kOutputLimitBytes), "10",
          "--max-lease-ms", std::to_string(kKeysTtlMs)};
}

// Why the member behind `observer` cannot take the flood (it lowered
// maxclients: it could not raise its own open-files limit), or empty.
std::string CannotTakeTheFlood(redisContext* observer) {
  const std::string maxclients = ConfigValue(observer, "maxclients");
  if (maxclients == std::to_string(kMaxClients)) return {};
  return "lockerd could not raise its open-files limit (maxclients lowered to " + maxclients + ")";
}

// The run against the member on `port` (process `pid`): keys for big
// replies, the unloaded run, the flood and the loaded run, the after
// phase; prints the table, writes it to `report_path`, checks it.
void RunFlood(const std::string& title, int port, pid_t pid, redisContext* observer,
              const std::string& report_path) {
  for (int i = 0; i < kKeysForBigReplies; ++i) {
    ReplyPtr token = Command(
        observer,
        {"LOCK", "a-rather-long-lock-name-for-a-big-keys-reply:" + std::to_string(i), "setup",
         std::to_string(kKeysTtlMs)});
    ASSERT_TRUE(token != nullptr && token->type == REDIS_REPLY_INTEGER) << "setup LOCK failed";
  }

  GoodClients good(port, pid);
  const GoodResult unloaded = good.Run(kWarmup, kUnloadedRun);
  const int64_t rss_before_kb = RssKb(pid);
  const int64_t stalls_before = InfoInt(observer, "loop_stalls_over_10ms");

  // The observer and, in a cluster, the peers' links.
  const int64_t connected_base = InfoInt(observer, "connected_clients");
  Flood flood(port);
  flood.Start();
  const auto open_deadline = Clock::now() + std::chrono::seconds(60);
  while (!flood.counts().initial_open_done && Clock::now() < open_deadline) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  const bool opened = flood.counts().initial_open_done;
  // Every connection the flood opened is counted by lockerd before we measure.
  int64_t connected = 0;
  while (Clock::now() < open_deadline) {
    connected = InfoInt(observer, "connected_clients");
    if (connected >= kConnections - kGoodClients - kSlowReaderSlots) break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  const int64_t stalls_opened = InfoInt(observer, "loop_stalls_over_10ms");
  const uint64_t p99_unloaded = unloaded.latency_us.Percentile(0.99);
  const int64_t p99_bound = std::max<int64_t>(2 * static_cast<int64_t>(p99_unloaded),
                                              static_cast<int64_t>(p99_unloaded) + kLatencyFloorUs);
  // A second loaded run when the first is over the bound: another tenant's
  // build starting mid-run can do that on a shared machine, while a server
  // that slows down under the flood fails both runs.
  GoodResult loaded = good.Run(kWarmup, kLoadedRun);
  int loaded_attempts = 1;
  if (static_cast<int64_t>(loaded.latency_us.Percentile(0.99)) > p99_bound) {
    std::printf("loaded run 1: p99 %.3f ms is over the bound of %.3f ms; measuring again\n",
                Ms(loaded.latency_us.Percentile(0.99)), Ms(p99_bound));
    GoodResult again = good.Run(kWarmup, kLoadedRun);
    again.bad += loaded.bad;
    if (again.first_bad.empty()) again.first_bad = loaded.first_bad;
    again.rss_max_kb = std::max(again.rss_max_kb, loaded.rss_max_kb);
    loaded = std::move(again);
    loaded_attempts = 2;
  }
  const int64_t connected_end = InfoInt(observer, "connected_clients");
  const int64_t stall_us = InfoInt(observer, "loop_longest_stall_us");
  const int64_t stalls_over_10ms = InfoInt(observer, "loop_stalls_over_10ms");
  const int peak_open = flood.counts().peak_open + kGoodClients + 1;
  flood.Stop();

  // After: every flood connection closed; give lockerd a moment to see it.
  const auto close_deadline = Clock::now() + std::chrono::seconds(20);
  while (InfoInt(observer, "connected_clients") > connected_base && Clock::now() < close_deadline) {
    std::this_thread::sleep_for(milliseconds(100));
  }
  std::this_thread::sleep_for(milliseconds(1500));
  const int64_t rss_after_kb = RssKb(pid);
  const int64_t cut_by_server = InfoInt(observer, "client_output_limit_disconnections");
  ReplyPtr pong = Command(observer, {"PING"});
  const bool answers_ping = pong != nullptr && pong->type == REDIS_REPLY_STATUS &&
                            std::string(pong->str) == "PONG";

  const uint64_t p99_loaded = loaded.latency_us.Percentile(0.99);
  const int64_t rss_during_bound_kb = rss_before_kb + kConnections * kPerConnectionKb +
                                      kSlowReaderSlots * kPerSlowReaderKb + kRssSlackKb;
  const FloodCounts& counts = flood.counts();

  std::ostringstream table;
  char line[256];
  table << "Load." << ::testing::UnitTest::GetInstance()->current_test_info()->name() << " ("
        << title << ", maxclients " << kMaxClients
        << ", client-output-buffer-limit normal 64kb 64kb 10)\n";
  std::snprintf(line, sizeof line,
                "  connections open (peak, incl. %d good + observer): %d; lockerd counted %lld "
                "before the loaded run, %lld at its end\n",
                kGoodClients, peak_open, static_cast<long long>(connected),
                static_cast<long long>(connected_end));
  table << line;
  std::snprintf(line, sizeof line,
                "  mix: %d idle, %d slowloris (1 byte/s), %d slow-reader slots; connect failures "
                "%d, unexpected closes %d\n",
                kIdleClients, kSlowlorisClients, kSlowReaderSlots, counts.connect_failures.load(),
                counts.unexpected_closes.load());
  table << line;
  std::snprintf(line, sizeof line,
                "  slow readers: %d opened, %d seen cut by the client, %lld output-limit "
                "disconnections counted by lockerd\n",
                counts.slow_readers_opened.load(), counts.slow_readers_cut.load(),
                static_cast<long long>(cut_by_server));
  table << line;
  std::snprintf(line, sizeof line,
                "  lockerd's event loop: longest turn %.3f ms; turns over 10 ms: %lld before the "
                "flood, %lld while opening it, %lld during the loaded run\n",
                Ms(static_cast<uint64_t>(std::max<int64_t>(stall_us, 0))),
                static_cast<long long>(stalls_before),
                static_cast<long long>(stalls_opened - stalls_before),
                static_cast<long long>(stalls_over_10ms - stalls_opened));
  table << line;
  table << "                      ops      p50 ms   p99 ms   max ms   bad\n";
  for (const auto& [name, result] : {std::pair<const char*, const GoodResult*>{"unloaded", &unloaded},
                                     {"loaded", &loaded}}) {
    std::snprintf(line, sizeof line, "  %-10s %13llu %9.3f %8.3f %8.3f %5llu\n", name,
                  static_cast<unsigned long long>(result->ok), Ms(result->latency_us.Percentile(0.5)),
                  Ms(result->latency_us.Percentile(0.99)), Ms(result->latency_us.max()),
                  static_cast<unsigned long long>(result->bad));
    table << line;
  }
  std::snprintf(line, sizeof line,
                "  p99 bound: max(2 x %.3f, %.3f + %.3f) = %.3f ms; loaded p99 %.3f ms = %.2fx "
                "(loaded runs: %d)\n",
                Ms(p99_unloaded), Ms(p99_unloaded), Ms(kLatencyFloorUs), Ms(p99_bound),
                Ms(p99_loaded),
                p99_unloaded == 0 ? 0.0 : static_cast<double>(p99_loaded) / static_cast<double>(p99_unloaded),
                loaded_attempts);
  table << line;
  std::snprintf(line, sizeof line,
                "  lockerd RSS: before %.1f MB, during (max) %.1f MB (bound %.1f MB), after %.1f MB "
                "(bound %.1f MB)\n",
                static_cast<double>(rss_before_kb) / 1024, static_cast<double>(loaded.rss_max_kb) / 1024,
                static_cast<double>(rss_during_bound_kb) / 1024, static_cast<double>(rss_after_kb) / 1024,
                static_cast<double>(rss_before_kb + kRssReturnMarginKb) / 1024);
  table << line;
  std::ifstream loadavg("/proc/loadavg");
  std::string load_average;
  std::getline(loadavg, load_average);
  table << "  machine: " << std::thread::hardware_concurrency() << " cores, load average "
        << load_average << "\n";
  std::printf("%s", table.str().c_str());
  std::fflush(stdout);
  std::ofstream(report_path) << table.str();

  EXPECT_TRUE(opened) << "the flood did not finish opening its connections in 60 s";
  EXPECT_GE(connected, kConnections - kGoodClients - kSlowReaderSlots)
      << "lockerd did not count the flood's connections";
  EXPECT_EQ(counts.connect_failures.load(), 0);
  EXPECT_EQ(counts.unexpected_closes.load(), 0) << "idle or slowloris clients were closed";
  EXPECT_EQ(unloaded.bad, 0u) << unloaded.first_bad;
  EXPECT_EQ(loaded.bad, 0u) << loaded.first_bad;
  EXPECT_GT(unloaded.ok, 1000u);
  EXPECT_GT(loaded.ok, 1000u);
  EXPECT_GE(counts.slow_readers_opened.load(), kSlowReaderSlots);
  EXPECT_GE(counts.slow_readers_cut.load(), kSlowReaderSlots) << "slow readers were not cut";
  EXPECT_GE(cut_by_server, counts.slow_readers_cut.load())
      << "slow readers closed by something other than the output limit";
  EXPECT_LE(static_cast<int64_t>(p99_loaded), p99_bound) << "the flood slowed the good clients";
  EXPECT_GT(loaded.rss_max_kb, 0);
  EXPECT_LE(loaded.rss_max_kb, rss_during_bound_kb) << "lockerd's memory grew past the bound";
  EXPECT_LE(rss_after_kb, rss_before_kb + kRssReturnMarginKb)
      << "lockerd's memory did not come back after the flood";
  EXPECT_TRUE(answers_ping);
}

TEST(Load, TenThousandConnections) {
  if (const std::string why = RaiseOwnFdLimit(); !why.empty()) GTEST_SKIP() << why;
  auto server = LockerdProcess::Start({.args = FloodSettings()});
  ASSERT_NE(server, nullptr);
  RedisPtr observer = server->Connect(milliseconds(30000));
  ASSERT_TRUE(observer && observer->err == 0);
  if (const std::string why = CannotTakeTheFlood(observer.get()); !why.empty()) {
    GTEST_SKIP() << why << "; log:\n" << server->Log();
  }
  RunFlood("one member", server->port(), server->pid(), observer.get(), "load-report.txt");
  EXPECT_TRUE(server->Running()) << server->Log();
}

// The same against one member of three: every LOCK and RELEASE of the good
// clients is a quorum round with the two others, which share the machine.
TEST(Load, TenThousandConnectionsThreeMembers) {
  if (const std::string why = RaiseOwnFdLimit(); !why.empty()) GTEST_SKIP() << why;
  auto cluster = LockerdCluster::Start(3, FloodSettings());
  ASSERT_NE(cluster, nullptr);
  RedisPtr observer = cluster->Connect(0);
  ASSERT_TRUE(observer && observer->err == 0);
  if (const std::string why = CannotTakeTheFlood(observer.get()); !why.empty()) {
    GTEST_SKIP() << why << "; log:\n" << cluster->member(0).Log();
  }
  RunFlood("member 1 of a 3-member cluster", cluster->port(0), cluster->member(0).pid(),
           observer.get(), "load-report-cluster.txt");
  for (size_t i = 0; i < cluster->size(); ++i) {
    EXPECT_TRUE(cluster->member(i).Running()) << cluster->member(i).Log();
  }
}

}  // namespace
}  // namespace lockerd::testing
