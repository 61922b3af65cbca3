// Rebuilding a member from its call log (member_replay.h): a fresh Node and
// the same calls, or only the calls a kept Node has not had yet. It never
// copies a Node (they cannot be copied) and never keeps what a replayed
// call sent.
#include "tests/explorer/member_replay.h"

#include <vector>

namespace lockerd::explorer {
namespace {

void DropOutputs(cluster::Node& node) {
  std::vector<cluster::Message> messages;
  node.TakeOutbox(&messages);
  std::vector<cluster::WriteResult> results;
  node.TakeResults(&results);
}

// Whether `ancestor` is `log` or one of its tails.
bool IsTailOf(const CallLogEntry* ancestor, const CallLogEntry* log) {
  if (ancestor == nullptr || log == nullptr || ancestor->length > log->length) return false;
  while (log->length > ancestor->length) log = log->previous.get();
  return log == ancestor;
}

}  // namespace

CallLog Append(const CallLog& log, NodeCall call) {
  auto entry = std::make_shared<CallLogEntry>();
  entry->call = std::move(call);
  entry->previous = log;
  entry->length = log ? log->length + 1 : 1;
  return entry;
}

bool MakeCall(cluster::Node& node, const NodeCall& call, bool keeps_log) {
  if (const auto* start = std::get_if<StartCall>(&call.call)) {
    node.Start(start->facts, call.now);
    if (!keeps_log) return false;
    // The log's first record is the whole state, synced before anything
    // the process sends leaves (Server::OpenLog).
    node.TrackChanges();
    (void)node.TakeChanges(call.now);
    node.NoteDurable();
    return false;
  }
  if (std::holds_alternative<SyncedCall>(call.call)) {
    node.NoteDurable();
    return false;
  }
  if (const auto* request = std::get_if<cluster::WriteRequest>(&call.call)) {
    node.Submit(*request, call.now);
  } else if (const auto* change = std::get_if<cluster::MembershipRequest>(&call.call)) {
    node.ChangeMembership(*change, call.now);
  } else if (const auto* message = std::get_if<cluster::Message>(&call.call)) {
    node.Receive(*message, call.now);
  } else {
    node.Tick(call.now);
  }
  // Taken on replay too: what the node has journaled decides what it may
  // send before a sync, and is part of its digest.
  return keeps_log && node.TakeChanges(call.now).has_value();
}

cluster::Node& LiveMember::At(const CallLog& log) {
  if (node_ && applied_ == log) return *node_;
  // The calls still to make, newest first.
  std::vector<const CallLogEntry*> missing;
  const CallLogEntry* from = log.get();
  if (node_ && IsTailOf(applied_.get(), log.get())) {
    for (; from != applied_.get(); from = from->previous.get()) missing.push_back(from);
  } else {
    for (; from != nullptr; from = from->previous.get()) missing.push_back(from);
    const auto& start = std::get<StartCall>(missing.back()->call.call);
    node_ = std::make_unique<cluster::Node>(start.options);
    keeps_log_ = start.keeps_log;
    ++rebuilds_;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    (void)MakeCall(*node_, (*it)->call, keeps_log_);
    ++calls_replayed_;
  }
  DropOutputs(*node_);
  applied_ = log;
  return *node_;
}

cluster::Node& LiveMember::Start(const CallLog& log) {
  const auto& start = std::get<StartCall>(log->call.call);
  node_ = std::make_unique<cluster::Node>(start.options);
  keeps_log_ = start.keeps_log;
  (void)MakeCall(*node_, log->call, keeps_log_);
  applied_ = log;
  return *node_;
}

}  // namespace lockerd::explorer
