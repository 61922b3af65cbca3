// Shared by the fuzz targets (tests/fuzz/README.md): turning fuzz input into
// commands, a strict checker of the reply bytes the server writes, and an
// in-memory harness that drives one or more Engines the way the libuv
// server does (clients, a fake clock, the end of each loop turn), modelled
// on tests/server/engine/engine_fixture.h but without GoogleTest.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/messages.h"
#include "server/config/config.h"
#include "server/engine/engine.h"

namespace lockerd::fuzz {

// Stops the run with a message: libFuzzer reports it as a crash and keeps
// the input. Used for broken invariants (not for sanitizer findings, which
// stop the run themselves).
[[noreturn]] void Fail(std::string_view what, std::string_view detail = {});

// The input's lines ('\n' separated; a trailing '\r' is kept).
std::vector<std::string_view> SplitLines(std::string_view data);

// Splits a line into arguments like an inline command ("quoted strings",
// \xHH escapes). Unbalanced quotes: nullopt.
std::optional<std::vector<std::string>> SplitArgs(std::string_view line);

// A non-negative decimal at the front of `text` (digits only, at most 12 of
// them; the rest is ignored); nullopt when there is none.
std::optional<int64_t> LeadingNumber(std::string_view text);

// Checks that `bytes` is a sequence of complete, well-formed RESP2/RESP3
// replies (what RespWriter may write). Returns the number of replies, or
// nullopt and sets *error.
std::optional<size_t> CheckReplies(std::string_view bytes, std::string* error);

// A 64-bit FNV-1a hash, for choices derived from the input.
uint64_t Hash(std::string_view bytes);

// Resources an input may make the server spend.
enum class Resource { kTimeUs, kReplyBytes, kReplyValues };
// Tells libFuzzer how much of a resource an input used, in powers of two:
// each power reached is code of its own, so an input that reaches a new
// one counts as new coverage and is kept. That gives the fuzzer a gradient
// towards expensive inputs, even where coverage cannot (the Lua library is
// not instrumented). Time counts from 1 ms up only, to keep noise out.
void Gradient(Resource resource, uint64_t value);

// Engines with in-memory clients and one fake clock. A harness holds
// `engines` members of a cluster of `members` (members == 1: a member
// alone). Messages between present members travel through `network`, in
// order, only when the fuzz input says so; messages to absent members
// (the peer fuzzer plays them) are collected in `sent_to_absent`.
class Harness {
 public:
  static constexpr int64_t kWallMs = 1'700'000'000'000;
  // Clients per member a fuzz input may address.
  static constexpr size_t kClientSlots = 4;

  Harness(server::Config base, size_t members, size_t engines);
  ~Harness();
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  size_t engines() const { return members_.size(); }
  server::Engine& engine(size_t member) { return *members_[member]->engine; }
  cluster::Time now() const { return now_; }

  // Client `slot` of `member` sends a command (a new connection if it has
  // none). It runs at once unless the client is blocked, then when it is
  // unblocked, as the server holds a blocked client's input.
  void Send(size_t member, size_t slot, std::vector<std::string> args);
  // Whether client `slot` of `member` has a connection (it may have been
  // closed: QUIT, a protocol error, CLIENT KILL).
  bool Connected(size_t member, size_t slot) const { return members_[member]->conns.count(slot) != 0; }
  // The reply bytes client `slot` of `member` was handed in the last turn
  // that gave it any (up to 4 KB; empty if more).
  const std::string& LastReply(size_t member, size_t slot) { return Connection(member, slot).last_reply; }
  // The client's connection closes (its queued commands are dropped).
  void Disconnect(size_t member, size_t slot);
  // Moves the clock by `ms` and fires every timer due on the way, as the
  // server's timer does; the wall clock moves with it.
  void Advance(int64_t ms);
  // Steps the wall clock alone (an NTP step), by `ms` either way.
  void StepWall(int64_t ms);
  // What the server does at the end of a loop turn: serve freed keys,
  // resume clients that need attention, flush (and check) their replies,
  // close those that asked for it, collect peer messages.
  void EndTurn();

  // Cluster traffic between present members.
  std::deque<cluster::Message>& network() { return network_; }
  // Delivers the message at `index` of the network and removes it.
  void Deliver(size_t index);
  std::vector<cluster::Message>& sent_to_absent() { return sent_to_absent_; }

  // At the end of an input: runs every timer out (waits, rounds, leases),
  // delivering the network as it goes, then checks that the engines settle
  // and that every client still connected got one reply per command (none
  // is left blocked: a lost wake-up).
  void Finish();

 private:
  struct Conn {
    std::unique_ptr<server::Client> client;
    std::deque<std::vector<std::string>> queued;  // Held while blocked.
    // Every command gets exactly one reply, except cluster messages on a
    // peer link (PEER), which get none.
    uint64_t commands = 0;
    uint64_t replies = 0;
    bool sent_peer = false;
    std::string last_reply;
  };
  struct Member {
    std::unique_ptr<server::Engine> engine;
    std::map<size_t, Conn> conns;  // By slot.
    size_t connections = 0;
  };

  Conn& Connection(size_t member, size_t slot);
  // Runs what the client may run now: its deferred command, then its
  // queued input, until it blocks or must close.
  void Continue(size_t member, Conn& conn);
  void Flush(Member& member);
  void Close(Member& member, size_t slot);
  class Driver;

  cluster::Time now_{0, kWallMs, 0};
  int64_t wall_offset_ms_ = 0;
  std::vector<std::unique_ptr<Member>> members_;
  std::deque<cluster::Message> network_;
  std::vector<cluster::Message> sent_to_absent_;
  std::vector<cluster::Message> outbox_scratch_;
};

}  // namespace lockerd::fuzz
