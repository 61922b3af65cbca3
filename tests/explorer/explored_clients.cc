// The explorer's clients (explored_clients.h): what each sends, and what
// the checker is told of each answer. It mirrors the checker's state only
// as far as the state digest needs; the verdicts are the checker's.
#include "tests/explorer/explored_clients.h"

#include <algorithm>
#include <cmath>

namespace lockerd::explorer {
namespace {

using cluster::WriteOp;
using cluster::WriteOutcome;

// Request ids say which client and which of its writes: ids are then the
// same on every path to a state, whatever was sent before.
constexpr uint64_t kWritesPerClientMax = 1000;

const char* OpName(WriteOp op) {
  switch (op) {
    case WriteOp::kLock:
      return "lock";
    case WriteOp::kExtend:
      return "extend";
    case WriteOp::kRelease:
      return "release";
    case WriteOp::kDelete:
      return "del";
    default:
      return "write";
  }
}

const char* OutcomeName(WriteOutcome outcome) {
  switch (outcome) {
    case WriteOutcome::kDone:
      return "done";
    case WriteOutcome::kRefused:
      return "refused";
    case WriteOutcome::kNoQuorum:
      return "no quorum";
    case WriteOutcome::kTryAgain:
      return "try again";
  }
  return "?";
}

}  // namespace

ExploredClients::ExploredClients(std::shared_ptr<const std::vector<ClientScript>> scripts,
                                 size_t keys_count, double drift)
    : scripts_(std::move(scripts)),
      drift_(drift),
      clients_(scripts_->size()),
      latest_(keys_count) {
  for (Client& client : clients_) client.holds.resize(keys_count);
}

bool ExploredClients::CanSend(size_t client) const {
  return !clients_[client].waiting &&
         clients_[client].next_write < (*scripts_)[client].writes.size();
}

std::optional<cluster::MemberId> ExploredClients::NextVia(size_t client) const {
  return (*scripts_)[client].writes[clients_[client].next_write].via;
}

bool ExploredClients::Done() const {
  for (size_t client = 0; client < clients_.size(); ++client) {
    if (clients_[client].waiting || CanSend(client)) return false;
  }
  return true;
}

std::string ExploredClients::Owner(size_t client) const {
  const std::string& owner = (*scripts_)[client].owner;
  const int generation = clients_[client].generation;
  return generation == 0 ? owner : owner + "#" + std::to_string(generation);
}

const ScriptedWrite& ExploredClients::Waiting(size_t client) const {
  return (*scripts_)[client].writes[clients_[client].next_write - 1];
}

int64_t ExploredClients::DeadlineUs(int64_t sent_ms, int64_t ttl_ms) const {
  return sent_ms * 1000 +
         static_cast<int64_t>(std::floor(static_cast<double>(ttl_ms) * (1.0 - drift_) * 1000.0));
}

ClientRequest ExploredClients::Send(size_t client_index, cluster::MemberId member,
                                    int64_t now_ms) {
  Client& client = clients_[client_index];
  const size_t write_index = client.next_write++;
  const ScriptedWrite& write = (*scripts_)[client_index].writes[write_index];
  client.waiting = true;
  client.member = member;
  client.sent_ms = now_ms;
  client.releasing_token = 0;
  const uint64_t request_id = 1 + client_index * kWritesPerClientMax + write_index;
  if (write.change) return cluster::MembershipRequest{request_id, *write.change, write.member};
  Hold& hold = client.holds[write.key];
  // A client whose own deadline passed knows it holds nothing.
  if (hold.id >= 0 && hold.end_us <= now_ms * 1000) hold = {};
  const bool frees = write.op == WriteOp::kRelease || write.op == WriteOp::kDelete;
  if (frees && hold.id >= 0) {
    // It stops using the lock before it asks.
    checker_.Cut(hold.id, now_ms * 1000);
    hold.end_us = std::min(hold.end_us, now_ms * 1000);
    client.releasing_token = hold.token;
    hold = {};
  }
  cluster::WriteRequest request;
  request.request_id = request_id;
  request.op = write.op;
  request.key = KeyName(write.key);
  request.owner = Owner(client_index);
  request.ttl_ms = frees ? 0 : write.ttl_ms;
  request.only_if_free = write.only_if_free;
  return request;
}

void ExploredClients::Grant(size_t client, size_t key, uint64_t token, int64_t now_ms,
                            int64_t end_us) {
  const int64_t start_us = now_ms * 1000;
  Hold& hold = clients_[client].holds[key];
  // A renewal by the holder: the checker keeps the earlier hold too, until
  // its own end.
  const int64_t earlier_end_us = hold.id >= 0 ? hold.end_us : 0;
  hold.id = checker_.Grant(KeyName(key), static_cast<int>(client), token, start_us, end_us);
  hold.token = token;
  hold.end_us = std::max({start_us, end_us, earlier_end_us});
  if (hold.end_us > start_us && token > latest_[key].token) {
    latest_[key] = {token, static_cast<int>(client)};
  }
}

std::optional<size_t> ExploredClients::WaitingFor(uint64_t request_id) const {
  if (request_id == 0) return std::nullopt;
  const uint64_t client_index = (request_id - 1) / kWritesPerClientMax;
  const uint64_t write_index = (request_id - 1) % kWritesPerClientMax;
  if (client_index >= clients_.size()) return std::nullopt;
  const Client& client = clients_[client_index];
  // Not waiting for it: it gave up on it (its member stopped).
  if (!client.waiting || client.next_write != write_index + 1) return std::nullopt;
  return static_cast<size_t>(client_index);
}

bool ExploredClients::AnswersChange(const cluster::WriteResult& result) const {
  const std::optional<size_t> client = WaitingFor(result.request_id);
  return client && Waiting(*client).change.has_value();
}

std::string ExploredClients::OnResult(const cluster::WriteResult& result, int64_t now_ms,
                                      const FreeMembers& free_members) {
  const std::optional<size_t> waiting = WaitingFor(result.request_id);
  if (!waiting) return {};
  const size_t client_index = *waiting;
  Client& client = clients_[client_index];
  client.waiting = false;
  const ScriptedWrite& write = Waiting(client_index);
  if (write.change) {
    // An operator's change: reported, not judged.
    const bool why = result.outcome != WriteOutcome::kDone && !result.detail.empty();
    return Owner(client_index) + "'s " + ChangeText(write) + ": " + OutcomeName(result.outcome) +
           (why ? " (" + result.detail + ")" : "");
  }
  const std::string told = Owner(client_index) + "'s " +
                           (write.only_if_free ? "setnx" : OpName(write.op)) + " " +
                           KeyName(write.key) + ": " + OutcomeName(result.outcome) +
                           (result.token != 0 ? ", token " + std::to_string(result.token) : "");
  if (result.outcome != WriteOutcome::kDone) {
    // A worker whose SET NX failed does not DEL the key it does not hold
    // (DEL frees whoever holds: sent anyway, it would end another worker's
    // lease on Redis too).
    const auto& writes = (*scripts_)[client_index].writes;
    if (write.only_if_free && client.next_write < writes.size() &&
        writes[client.next_write].op == WriteOp::kDelete && writes[client.next_write].key == write.key) {
      ++client.next_write;
    }
    return told;
  }
  Hold& hold = client.holds[write.key];
  switch (write.op) {
    case WriteOp::kLock:
      Grant(client_index, write.key, result.token, now_ms,
            DeadlineUs(client.sent_ms, write.ttl_ms));
      break;
    case WriteOp::kExtend:
      if (hold.id < 0) break;  // It did not know it held the key.
      if (result.token != hold.token) {
        checker_.Fail("extend changed the token of " + KeyName(write.key) + " from " +
                      std::to_string(hold.token) + " to " + std::to_string(result.token));
      }
      hold.end_us = std::max(now_ms * 1000, DeadlineUs(client.sent_ms, write.ttl_ms));
      hold.id = checker_.Extend(hold.id, now_ms * 1000, DeadlineUs(client.sent_ms, write.ttl_ms));
      break;
    case WriteOp::kRelease:
    case WriteOp::kDelete:
      if (client.releasing_token != 0) {
        const FreeCount count = free_members(KeyName(write.key), client.releasing_token);
        checker_.Released(KeyName(write.key), client.releasing_token, count.free, count.members,
                          now_ms * 1000);
      }
      break;
    default:
      break;
  }
  return told;
}

void ExploredClients::Lost(cluster::MemberId member) {
  for (Client& client : clients_) {
    if (!client.waiting || client.member != member) continue;
    client.waiting = false;
    ++client.generation;
  }
}

void ExploredClients::Digest(cluster::StateDigest* digest, int64_t now_ms) const {
  for (const Client& client : clients_) {
    digest->Add(client.next_write);
    digest->Add(client.generation);
    digest->Add(client.waiting);
    if (client.waiting) {
      digest->Add(client.member);
      digest->Add(client.sent_ms);
      digest->Add(client.releasing_token);
    }
    for (const Hold& hold : client.holds) {
      // A hold that ended cannot overlap a later one; which token it had
      // still matters to an EXTEND while the client thinks it holds.
      const bool live = hold.id >= 0 && hold.end_us > now_ms * 1000;
      digest->Add(hold.id >= 0);
      digest->Add(hold.token);
      digest->Add(live ? hold.end_us : 0);
    }
  }
  for (const Latest& latest : latest_) {
    digest->Add(latest.token);
    digest->Add(latest.client);
  }
  digest->Add(checker_.ok());
}

std::string ExploredClients::DescribeNext(size_t client) const {
  const ScriptedWrite& write = (*scripts_)[client].writes[clients_[client].next_write];
  if (write.change) return Owner(client) + " asks for " + ChangeText(write);
  const bool frees = write.op == WriteOp::kRelease || write.op == WriteOp::kDelete;
  return Owner(client) + " sends " + (write.only_if_free ? "setnx" : OpName(write.op)) + " " +
         KeyName(write.key) + (frees ? "" : " ttl " + std::to_string(write.ttl_ms));
}

}  // namespace lockerd::explorer
