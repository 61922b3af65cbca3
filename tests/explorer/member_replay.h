// A member of the explored cluster as the calls made on its cluster::Node
// since its process started, so that the explorer can go back to an earlier
// state: Nodes cannot be copied, but they are deterministic, so the same
// calls rebuild the same member. A call log is persistent (a shared list
// whose tails are shared by every state that grew from them), so keeping a
// state costs a pointer per member.
//
// LiveMember keeps one Node and brings it to any log on demand: a log that
// extends the one it holds costs only the new calls, any other a rebuild.
// It does not decide what is called; explored_cluster.cc does.
#pragma once

#include <cstdint>
#include <memory>
#include <variant>

#include "cluster/node.h"

namespace lockerd::explorer {

struct StartCall {
  cluster::NodeOptions options;
  // With the configuration state the member's disk kept (facts.membership:
  // kept through crashes, lost with the disk).
  cluster::StartFacts facts;
  // appendonly yes: the process keeps the log. Its start writes the whole
  // state as the log's first record and syncs it (as Server::OpenLog), and
  // every later call's changes are taken for the log (Node::TakeChanges)
  // right after it, as the server's loop turn takes them.
  bool keeps_log = false;
};

struct TickCall {};

// appendonly yes: the log synced every change taken so far (Node::NoteDurable).
struct SyncedCall {};

// An operator's membership change (Node::ChangeMembership).
using CallBody = std::variant<StartCall, cluster::WriteRequest, cluster::MembershipRequest,
                              cluster::Message, TickCall, SyncedCall>;

struct NodeCall {
  cluster::Time now;
  CallBody call;
};

struct CallLogEntry {
  NodeCall call;
  std::shared_ptr<const CallLogEntry> previous;  // Null for the process's start.
  size_t length = 1;
};
// A process's calls, newest first; the oldest is its StartCall.
using CallLog = std::shared_ptr<const CallLogEntry>;

CallLog Append(const CallLog& log, NodeCall call);

// Makes `call` on `node` (Start, Submit, ChangeMembership, Receive, Tick or
// NoteDurable), and then, on a node that keeps the log, takes the call's
// changes. Returns whether there were any: what the log then holds waits in
// its queue.
bool MakeCall(cluster::Node& node, const NodeCall& call, bool keeps_log);

class LiveMember {
 public:
  // A Node whose calls were exactly `log`'s. Its outbox and results from
  // replayed calls are dropped: the explorer took them when it first made
  // those calls.
  cluster::Node& At(const CallLog& log);
  // A new process: a fresh Node, started by `log` (a one-call log).
  cluster::Node& Start(const CallLog& log);
  // After the caller made a call on At()'s node itself.
  void Advanced(const CallLog& log) { applied_ = log; }

  // Whether the node's process keeps the log (its StartCall says).
  bool keeps_log() const { return keeps_log_; }
  uint64_t rebuilds() const { return rebuilds_; }
  uint64_t calls_replayed() const { return calls_replayed_; }

 private:
  std::unique_ptr<cluster::Node> node_;
  bool keeps_log_ = false;  // node_'s StartCall's.
  CallLog applied_;  // The calls node_ has had; null without a node.
  uint64_t rebuilds_ = 0;
  uint64_t calls_replayed_ = 0;
};

}  // namespace lockerd::explorer
