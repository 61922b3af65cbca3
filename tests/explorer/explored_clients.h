// The explorer's clients: each sends its scripted writes (client_script.h)
// one at a time, waiting for each answer, and tells the safety checker of
// tests/sim (checker.h) what it was told: a LOCK's success is a hold from
// the answer until the client's own deadline (send time + ttl * (1 - drift);
// clients read real time), an EXTEND's moves that deadline, a RELEASE ends
// the hold when it is sent and is checked when it is acknowledged.
//
// A write whose member stopped before answering has an unknown outcome:
// the client does not count it, and takes a new owner name for what it
// sends next (a late effect of the old write must not pass for its own).
//
// A membership change (a script's operator step) is sent and answered like
// a write; its answer is only reported (the checker judges what lock
// clients are told). A RELEASE is checked against the configuration of
// the member that answered it (FreeMembers says how).
//
// Copyable: the explorer keeps one copy per state on its path. It does not
// choose when or where a write goes; the explorer does.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <optional>
#include <variant>

#include "cluster/membership_change.h"
#include "cluster/state_digest.h"
#include "cluster/write_request.h"
#include "tests/explorer/client_script.h"
#include "tests/sim/checker.h"

namespace lockerd::explorer {

// What a client sends: a write, or an operator's membership change.
using ClientRequest = std::variant<cluster::WriteRequest, cluster::MembershipRequest>;

class ExploredClients {
 public:
  // Of the voters a released key must be free on, how many are (`free`),
  // and how many voters there are (`members`).
  struct FreeCount {
    size_t free = 0;
    size_t members = 0;
  };
  // How free `key` with `token` is now, judged against the configuration
  // of the member that answered.
  using FreeMembers = std::function<FreeCount(const std::string& key, uint64_t token)>;

  ExploredClients(std::shared_ptr<const std::vector<ClientScript>> scripts, size_t keys_count,
                  double drift);

  size_t count() const { return clients_.size(); }
  // Whether client `client` has a write to send and none in flight.
  bool CanSend(size_t client) const;
  // The only member client `client`'s next write may go through (its
  // script's `@m<N>`), or nothing: any member.
  std::optional<cluster::MemberId> NextVia(size_t client) const;
  // Whether every client has sent all its writes and been answered (or
  // given up): nothing can change what the checker says any more.
  bool Done() const;
  // The client's next write (or change), sent now through `member`.
  ClientRequest Send(size_t client, cluster::MemberId member, int64_t now_ms);
  // Whether `result` answers a membership change a client waits for.
  bool AnswersChange(const cluster::WriteResult& result) const;
  // An answer from a member; returns what the client was told, for logs
  // (empty when it was for no one).
  std::string OnResult(const cluster::WriteResult& result, int64_t now_ms,
                       const FreeMembers& free_members);
  // `member` stopped: the writes waiting on it have unknown outcomes.
  void Lost(cluster::MemberId member);

  const sim::Checker& checker() const { return checker_; }
  // A violation the cluster found itself (a state file it cannot read).
  void Fail(std::string violation) { checker_.Fail(std::move(violation)); }
  // The clients' progress, their holds that can still overlap a later one
  // (ending after now), and the largest token granted per key: all that a
  // later verdict of the checker depends on.
  void Digest(cluster::StateDigest* digest, int64_t now_ms) const;
  std::string DescribeNext(size_t client) const;

 private:
  struct Hold {
    int id = -1;  // The checker's; -1 when the client holds nothing.
    uint64_t token = 0;
    int64_t end_us = 0;
  };
  struct Client {
    size_t next_write = 0;
    int generation = 0;  // Owner names taken after unknown outcomes.
    bool waiting = false;
    cluster::MemberId member = 0;
    int64_t sent_ms = 0;
    uint64_t releasing_token = 0;  // RELEASE in flight: the token it ends.
    std::vector<Hold> holds;       // By key.
  };
  struct Latest {
    uint64_t token = 0;
    int client = -1;
  };

  std::string Owner(size_t client) const;
  const ScriptedWrite& Waiting(size_t client) const;
  // The client waiting for `request_id`'s answer, or nothing.
  std::optional<size_t> WaitingFor(uint64_t request_id) const;
  int64_t DeadlineUs(int64_t sent_ms, int64_t ttl_ms) const;
  void Grant(size_t client, size_t key, uint64_t token, int64_t now_ms, int64_t end_us);

  std::shared_ptr<const std::vector<ClientScript>> scripts_;
  double drift_;
  std::vector<Client> clients_;
  std::vector<Latest> latest_;  // By key: the checker's largest token granted.
  sim::Checker checker_;
};

}  // namespace lockerd::explorer
