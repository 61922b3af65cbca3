#include "tests/fuzz/fuzz_support.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "server/commands/command_table.h"
#include "base/ascii.h"
#include "protocol/inline_split.h"
#include "protocol/numbers.h"
#include "server/peer/codec.h"

namespace lockerd::fuzz {

void Fail(std::string_view what, std::string_view detail) {
  std::fprintf(stderr, "FUZZ INVARIANT BROKEN: %.*s\n", static_cast<int>(what.size()), what.data());
  if (!detail.empty()) {
    std::fprintf(stderr, "  detail: ");
    for (const char c : detail.substr(0, 2000)) {
      const auto u = static_cast<unsigned char>(c);
      if (u >= 0x20 && u < 0x7f) {
        std::fputc(c, stderr);
      } else {
        std::fprintf(stderr, "\\x%02x", u);
      }
    }
    std::fputc('\n', stderr);
  }
  std::abort();
}

std::vector<std::string_view> SplitLines(std::string_view data) {
  std::vector<std::string_view> lines;
  while (!data.empty()) {
    const size_t newline = data.find('\n');
    if (newline == std::string_view::npos) {
      lines.push_back(data);
      break;
    }
    lines.push_back(data.substr(0, newline));
    data.remove_prefix(newline + 1);
  }
  return lines;
}

std::optional<std::vector<std::string>> SplitArgs(std::string_view line) {
  std::vector<std::string> args;
  size_t count = 0;
  if (protocol::SplitInlineArgs(line, 1024, &args, &count) != protocol::InlineSplit::kOk) {
    return std::nullopt;
  }
  args.resize(count);
  return args;
}

std::optional<int64_t> LeadingNumber(std::string_view text) {
  int64_t value = 0;
  size_t digits = 0;
  while (digits < text.size() && digits < 12 && text[digits] >= '0' && text[digits] <= '9') {
    value = value * 10 + (text[digits] - '0');
    ++digits;
  }
  if (digits == 0) return std::nullopt;
  return value;
}

uint64_t Hash(std::string_view bytes) {
  uint64_t hash = 14695981039346656037ull;
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  return hash;
}

// --- Resource gradients ----------------------------------------------------

namespace {

template <Resource kResource, int kPower>
__attribute__((noinline)) void Reached() {
  asm volatile("" ::: "memory");  // Kept apart: each is its own coverage point.
}

template <Resource kResource, int... kPowers>
void ReachedUpTo(int power, std::integer_sequence<int, kPowers...>) {
  ((power > kPowers ? Reached<kResource, kPowers>() : void()), ...);
}

}  // namespace

void Gradient(Resource resource, uint64_t value) {
  int power = value == 0 ? 0 : 64 - __builtin_clzll(value);
  constexpr auto kPowers = std::make_integer_sequence<int, 40>{};
  switch (resource) {
    case Resource::kTimeUs:
      if (power <= 10) power = 0;  // Below ~1 ms: noise.
      return ReachedUpTo<Resource::kTimeUs>(power, kPowers);
    case Resource::kReplyBytes:
      return ReachedUpTo<Resource::kReplyBytes>(power, kPowers);
    case Resource::kReplyValues:
      return ReachedUpTo<Resource::kReplyValues>(power, kPowers);
  }
}

// --- The reply checker -----------------------------------------------------

namespace {

class ReplyChecker {
 public:
  explicit ReplyChecker(std::string_view bytes) : bytes_(bytes) {}

  bool done() const { return pos_ == bytes_.size(); }
  const std::string& error() const { return error_; }

  bool One(int depth) {
    if (depth > 200) return Bad("nesting deeper than 200");
    if (pos_ >= bytes_.size()) return Bad("a reply is cut short");
    const char type = bytes_[pos_++];
    std::string_view line;
    if (!Line(&line)) return false;
    switch (type) {
      case '+':
      case '-':
        return true;  // Line() refused CR and LF inside.
      case ':':
        return Integer(line).has_value();
      case '_':
        return line.empty() || Bad("'_' with a payload");
      case '$':
      case '=': {
        const auto length = Integer(line);
        if (!length) return false;
        if (*length == -1 && type == '$') return true;
        if (*length < 0) return Bad("negative bulk length");
        const auto size = static_cast<size_t>(*length);
        if (bytes_.size() - pos_ < size + 2) return Bad("bulk data cut short");
        if (type == '=' && (size < 4 || bytes_[pos_ + 3] != ':')) return Bad("verbatim without fmt:");
        if (bytes_.substr(pos_ + size, 2) != "\r\n") return Bad("bulk data not followed by CRLF");
        pos_ += size + 2;
        return true;
      }
      case '*':
      case '~':
      case '%': {
        const auto count = Integer(line);
        if (!count) return false;
        if (*count == -1 && type == '*') return true;
        if (*count < 0) return Bad("negative aggregate count");
        const uint64_t items = static_cast<uint64_t>(*count) * (type == '%' ? 2 : 1);
        for (uint64_t i = 0; i < items; ++i) {
          if (!One(depth + 1)) return false;
        }
        return true;
      }
      default:
        return Bad(std::string("unknown reply type '") + type + "'");
    }
  }

 private:
  bool Line(std::string_view* line) {
    const size_t end = bytes_.find("\r\n", pos_);
    if (end == std::string_view::npos) return Bad("a reply line without CRLF");
    *line = bytes_.substr(pos_, end - pos_);
    if (line->find_first_of("\r\n") != std::string_view::npos) return Bad("CR or LF inside a reply line");
    pos_ = end + 2;
    return true;
  }
  std::optional<int64_t> Integer(std::string_view text) {
    const auto value = protocol::ParseInt64(text);
    if (!value) Bad("not an integer: '" + std::string(text) + "'");
    return value;
  }
  bool Bad(std::string why) {
    if (error_.empty()) error_ = std::move(why) + " at byte " + std::to_string(pos_);
    return false;
  }

  std::string_view bytes_;
  size_t pos_ = 0;
  std::string error_;
};

// One call into an engine (a command, a timer, a message) keeps the
// server's loop busy while it runs: longer than this is a stall worth a
// report (LOCKERD_FUZZ_SLOW_MS, default 2000 ms; sanitizers slow things
// down several times, scripts stop after 20 ms).
class StallCheck {
 public:
  explicit StallCheck(const char* what) : what_(what), started_(std::chrono::steady_clock::now()) {}
  ~StallCheck() {
    static const int64_t slow_ms = [] {
      const char* text = std::getenv("LOCKERD_FUZZ_SLOW_MS");
      return text != nullptr ? std::atoll(text) : 2000;
    }();
    const auto elapsed_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::steady_clock::now() - started_).count();
    Gradient(Resource::kTimeUs, static_cast<uint64_t>(elapsed_us));
    const int64_t elapsed = elapsed_us / 1000;
    if (elapsed > slow_ms) {
      Fail(std::string(what_) + " kept the event loop busy for " + std::to_string(elapsed) + " ms");
    }
  }
  StallCheck(const StallCheck&) = delete;
  StallCheck& operator=(const StallCheck&) = delete;

 private:
  const char* what_;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace

std::optional<size_t> CheckReplies(std::string_view bytes, std::string* error) {
  ReplyChecker checker(bytes);
  size_t replies = 0;
  while (!checker.done()) {
    if (!checker.One(0)) {
      *error = checker.error();
      return std::nullopt;
    }
    ++replies;
  }
  return replies;
}

// --- The engine harness ----------------------------------------------------

namespace {

// LOCKERD_FUZZ_TRACE=1: every command and reply on stderr (for writing
// seeds and reading crashes).
bool Tracing() {
  static const bool trace = std::getenv("LOCKERD_FUZZ_TRACE") != nullptr;
  return trace;
}

std::string Printable(std::string_view bytes) {
  std::string out;
  for (const char c : bytes.substr(0, 400)) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out.push_back(c);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", u);
      out += hex;
    }
  }
  if (bytes.size() > 400) out += "...";
  return out;
}

}  // namespace

Harness::Harness(server::Config base, size_t members, size_t engines) {
  std::vector<std::string> addresses;
  if (members > 1) {
    for (size_t i = 0; i < members; ++i) addresses.push_back("127.0.0.1:" + std::to_string(7001 + i));
  }
  for (size_t i = 0; i < engines; ++i) {
    server::Config config = base;
    config.cluster = addresses;
    if (members > 1) {
      config.advertise = addresses[i];
      config.self_index = i;
      if (config.cluster_secret.empty()) config.cluster_secret = "fuzz-secret";
    }
    auto member = std::make_unique<Member>();
    member->engine = std::make_unique<server::Engine>(server::LockerdCommands(), config, now_, /*seed=*/i + 1);
    members_.push_back(std::move(member));
  }
}

Harness::~Harness() {
  for (auto& member : members_) {
    for (auto& [slot, conn] : member->conns) member->engine->RemoveClient(conn.client.get());
  }
}

Harness::Conn& Harness::Connection(size_t member_index, size_t slot) {
  Member& member = *members_[member_index];
  auto it = member.conns.find(slot);
  if (it == member.conns.end()) {
    server::Engine& engine = *member.engine;
    Conn conn;
    conn.client = std::make_unique<server::Client>(
        engine.NextClientId(), "127.0.0.1:" + std::to_string(50000 + member.connections++),
        "127.0.0.1:6379", now_.mono_ms);
    engine.AddClient(conn.client.get());
    it = member.conns.emplace(slot, std::move(conn)).first;
  }
  return it->second;
}

void Harness::Send(size_t member, size_t slot, std::vector<std::string> args) {
  if (args.empty()) return;  // The parser never hands over an empty command.
  Conn& conn = Connection(member, slot);
  if (Tracing()) {
    std::string line;
    for (const std::string& arg : args) line += " " + Printable(arg);
    std::fprintf(stderr, "[%lld ms] member %zu client %zu:%s\n", static_cast<long long>(now_.mono_ms),
                 member, slot, line.c_str());
  }
  ++conn.commands;
  if (base::EqualsIgnoreCase(args[0], "PEER")) conn.sent_peer = true;
  conn.queued.push_back(std::move(args));
  Continue(member, conn);
  EndTurn();
}

void Harness::Continue(size_t member_index, Conn& conn) {
  server::Engine& engine = *members_[member_index]->engine;
  server::Client& client = *conn.client;
  while (!client.close_after_reply && !client.kill_requested &&
         client.blocked == server::BlockKind::kNone) {
    if (!client.pipeline.deferred.empty()) {
      const StallCheck stall("a deferred command");
      engine.RunDeferred(client, now_);
      continue;
    }
    if (conn.queued.empty()) break;
    std::vector<std::string> args = std::move(conn.queued.front());
    conn.queued.pop_front();
    const StallCheck stall("a command");
    engine.Execute(client, args, now_);
  }
}

void Harness::Disconnect(size_t member_index, size_t slot) {
  Member& member = *members_[member_index];
  if (member.conns.count(slot) != 0) Close(member, slot);
  EndTurn();
}

void Harness::Close(Member& member, size_t slot) {
  auto it = member.conns.find(slot);
  member.engine->RemoveClient(it->second.client.get());
  member.conns.erase(it);
}

void Harness::Flush(Member& member) {
  std::vector<size_t> closing;
  for (auto& [slot, conn] : member.conns) {
    server::Client& client = *conn.client;
    std::string error;
    // Inputs are a few KB and scripts have a 4 MB memory limit: a reply
    // this big means some limit does not hold.
    if (client.reply().size() > (64u << 20)) {
      Fail("a client was handed " + std::to_string(client.reply().size()) + " reply bytes in one turn",
           client.activity.last_command);
    }
    Gradient(Resource::kReplyBytes, client.reply().size());
    const auto replies = CheckReplies(client.reply(), &error);
    if (!replies) Fail("malformed reply bytes: " + error, client.reply());
    conn.replies += *replies;
    if (!conn.sent_peer && conn.replies > conn.commands) {
      Fail("a client got more replies than it sent commands", client.reply());
    }
    if (Tracing() && !client.reply().empty()) {
      std::fprintf(stderr, "[%lld ms]   -> client %zu: %s\n", static_cast<long long>(now_.mono_ms), slot,
                   Printable(client.reply()).c_str());
    }
    if (!client.reply().empty()) {
      conn.last_reply = client.reply().size() <= 4096 ? client.reply() : std::string();
    }
    client.reply().clear();
    if (client.close_after_reply || client.kill_requested) closing.push_back(slot);
  }
  for (const size_t slot : closing) Close(member, slot);
}

// Feeds the clients the engine hands back their queued commands, as the
// server feeds a connection its held input.
class Harness::Driver final : public server::TurnDriver {
 public:
  Driver(Harness& harness, size_t member) : harness_(harness), member_(member) {}
  void Continue(server::Client& client) override {
    for (auto& [slot, conn] : harness_.members_[member_]->conns) {
      if (conn.client.get() == &client) return harness_.Continue(member_, conn);
    }
  }
  // Flush closes killed clients, after taking their last replies.
  void Close(server::Client&) override {}

 private:
  Harness& harness_;
  size_t member_;
};

void Harness::EndTurn() {
  for (size_t m = 0; m < members_.size(); ++m) {
    Member& member = *members_[m];
    Driver driver(*this, m);
    {
      const StallCheck stall("ending a loop turn (serving freed keys)");
      member.engine->EndTurn(now_, driver, &outbox_scratch_);
    }
    Flush(member);
    for (cluster::Message& message : outbox_scratch_) {
      if (message.to < members_.size()) {
        network_.push_back(std::move(message));
      } else {
        sent_to_absent_.push_back(std::move(message));
      }
    }
  }
}

void Harness::Deliver(size_t index) {
  if (index >= network_.size()) return;
  const cluster::Message message = std::move(network_[index]);
  network_.erase(network_.begin() + static_cast<std::ptrdiff_t>(index));
  if (Tracing()) {
    std::string wire;
    server::EncodePeerMessage(message, &wire);
    std::fprintf(stderr, "[%lld ms] network %u -> %u: %s\n", static_cast<long long>(now_.mono_ms),
                 static_cast<unsigned>(message.from), static_cast<unsigned>(message.to), Printable(wire).c_str());
  }
  {
    const StallCheck stall("a peer message");
    members_[message.to]->engine->ReceivePeer(message, now_);
  }
  EndTurn();
}

void Harness::Advance(int64_t ms) {
  const int64_t until = now_.mono_ms + std::max<int64_t>(ms, 0);
  const auto set_time = [this](int64_t mono_ms) {
    now_.mono_ms = mono_ms;
    now_.wall_ms = kWallMs + wall_offset_ms_ + mono_ms;
    now_.mono_us = mono_ms * 1000;
  };
  // Timers fire at their time, one by one, as the server's timer does. A
  // wake-up time that stays in the past after Tick would make the server's
  // timer fire again at once, forever (a busy loop).
  int stuck = 0;
  for (int steps = 0; steps < 100'000; ++steps) {
    std::optional<int64_t> next;
    for (auto& member : members_) {
      const auto wake = member->engine->NextWakeMs();
      if (wake && (!next || *wake < *next)) next = wake;
    }
    if (!next || *next > until) break;
    stuck = *next < now_.mono_ms || (*next == now_.mono_ms && steps > 0) ? stuck + 1 : 0;
    if (stuck > 1000) Fail("NextWakeMs stays at or before now after 1000 Ticks (the timer would spin)");
    set_time(std::max(now_.mono_ms, *next));
    for (auto& member : members_) {
      const StallCheck stall("a timer");
      member->engine->Tick(now_);
    }
    EndTurn();
  }
  set_time(until);
  for (auto& member : members_) member->engine->Tick(now_);
  EndTurn();
}

void Harness::StepWall(int64_t ms) {
  wall_offset_ms_ = std::clamp<int64_t>(wall_offset_ms_ + ms, -kWallMs / 2, kWallMs);
  now_.wall_ms = kWallMs + wall_offset_ms_ + now_.mono_ms;
}

void Harness::Finish() {
  // Let every round finish (the network delivers everything), then let
  // every timer run out: waits end, leases expire.
  for (int pass = 0; pass < 4; ++pass) {
    for (int delivered = 0; !network_.empty() && delivered < 100'000; ++delivered) Deliver(0);
    Advance(server::kWaitTimeoutMsMax / 4 + 1);
  }
  for (int delivered = 0; !network_.empty() && delivered < 100'000; ++delivered) Deliver(0);
  for (int round = 0; round < 1000; ++round) {
    bool pending = false;
    for (auto& member : members_) pending = pending || member->engine->HasPendingWork();
    if (!pending) break;
    EndTurn();
    if (round == 999) Fail("an engine still has pending work after 1000 loop turns with nothing new");
  }
  for (auto& member : members_) {
    for (auto& [slot, conn] : member->conns) {
      const server::Client& client = *conn.client;
      if (client.blocked != server::BlockKind::kNone) {
        Fail("a client is still blocked (kind " + std::to_string(static_cast<int>(client.blocked)) +
             ") after every timer ran out: last command " + client.activity.last_command);
      }
      if (!conn.queued.empty()) Fail("a client that is not blocked has commands left unrun");
      if (!conn.sent_peer && conn.replies != conn.commands) {
        Fail("a client got " + std::to_string(conn.replies) + " replies to " + std::to_string(conn.commands) +
             " commands; last command " + client.activity.last_command);
      }
    }
  }
}

}  // namespace lockerd::fuzz
