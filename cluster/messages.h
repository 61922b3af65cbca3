// The messages of the single-key Paxos round (see CLUSTER-SAFETY.md):
// Prepare -> Promise, then Accept -> Accepted. They are plain values; the
// server's peer transport encodes them, and a member alone delivers them to
// itself without encoding. Any of them may arrive late, twice or never.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

#include "cluster/ballot.h"
#include "cluster/membership.h"

namespace lockerd::cluster {

// A register's lease as one member sees it, with time as a duration (never a
// clock reading: clocks are not compared across members).
struct LeaseView {
  bool held = false;
  std::string owner;
  uint64_t token = 0;
  int64_t remaining_ms = 0;
};

// Phase 1: the coordinator asks for a promise not to accept lower ballots.
// A peek asks only for the register, and promises nothing: a LOCK that will
// likely be refused reads a majority first, so that it does not pre-empt
// the round of the holder's RELEASE (see Coordinator::OnPeekReply).
struct Prepare {
  uint64_t round_id = 0;
  std::string key;
  Ballot ballot;
  bool peek = false;
};

enum class Vote : uint8_t {
  kYes,          // Granted.
  kNo,           // A higher ballot was seen: `highest` says which.
  kQuarantined,  // The member restarted without its state and may not vote.
  // The member has adopted a newer configuration than the message's epoch:
  // it votes in no round of an older one (membership.h). A Configuration
  // message with its own goes to the sender first.
  kStaleEpoch,
};

struct Promise {
  uint64_t round_id = 0;
  Ballot ballot;  // The Prepare's ballot, echoed: replies are matched on both.
  Vote vote = Vote::kYes;
  Ballot highest;          // With kNo: the ballot to beat.
  Ballot accepted;         // The ballot of `lease` (zero: never written).
  LeaseView lease;
  uint64_t token_counter = 0;  // The largest token this member has seen.
  int64_t quarantine_left_ms = 0;
};

// Phase 2: the coordinator asks members to accept the new state.
struct Accept {
  uint64_t round_id = 0;
  std::string key;
  Ballot ballot;
  bool held = false;  // False: the key becomes free.
  std::string owner;
  uint64_t token = 0;
  int64_t ttl_ms = 0;  // Counted by each member from when it applies it.
  // Non-zero: a write-back (Paxos's re-proposal) of the state a round read,
  // accepted at this ballot. A member whose register holds exactly that
  // state keeps its deadline; reading a lease must never lengthen it
  // (ttl_ms is inflated for the members that lack the state).
  Ballot carry_from;
};

struct Accepted {
  uint64_t round_id = 0;
  Ballot ballot;  // The Accept's ballot, echoed.
  Vote vote = Vote::kYes;
  Ballot highest;
  int64_t quarantine_left_ms = 0;
};

// After a majority accepted, the coordinator tells the members that did
// not (they had promised a competitor, or missed the commit) the value that
// was chosen, so that every member's local reads converge. A value chosen at
// a ballot is applied over any lower accepted ballot, whatever was promised:
// no other value can be chosen between (CLUSTER-SAFETY.md, Paxos "learn").
struct Learn {
  std::string key;
  Ballot ballot;
  bool held = false;
  std::string owner;
  uint64_t token = 0;
  int64_t ttl_ms = 0;
  Ballot carry_from;  // As Accept::carry_from.
};

// Membership change (CLUSTER-SAFETY.md, "Membership change";
// cluster/membership_change.h). The configuration is a register of its own,
// written by single-decree Paxos rounds among the voters of the
// configuration a member has adopted; its value is a configuration, the
// voters of the one it replaced, and whether it is settled: every key
// caught up and the floors raised, so that the next change may be chosen.
struct ConfigValue {
  Membership membership;
  uint32_t previous_voters = 0;  // Of the configuration it replaced (0: the first).
  bool settled = true;
  bool operator==(const ConfigValue&) const = default;
};
// A member that restarted without its state asks the others for their
// token counter and highest ballot before it votes again (CLUSTER-SAFETY.md,
// "Recovery without stable storage").
struct SyncRequest {
  uint64_t nonce = 0;
};

// A member that is itself recovering answers with `recovering` set and
// nothing else: its empty memory must never count towards anyone's
// recovery.
struct SyncReply {
  uint64_t nonce = 0;
  bool recovering = false;
  uint64_t token_counter = 0;
  Ballot highest;
  // The answering member has never promised or accepted a ballot, nor seen
  // a token: for a first start, nothing was written through it.
  bool pristine = false;
  // The answering member is itself in a first-start check (an empty dir):
  // it may be new or may have lost its disk, so its empty state says
  // nothing about what the cluster wrote.
  bool undecided = false;
  // The answering member found the cluster new counting an answer from the
  // asker's present run, which had not voted then and has not since (it
  // was checking): the asker never voted, whatever this member wrote since.
  bool vouched = false;
  // The answering member's run (RecoverySync::run()), for the vouching.
  uint64_t run = 0;
  // Its configuration register (membership_change.h): a member that lost
  // its dir recovers the register from a majority of the others before it
  // votes in the register's rounds again (Node::OnSyncReply).
  Ballot config_promised = {};
  Ballot config_accepted = {};
  ConfigValue config_value = {};
};

// A configuration the sender has adopted (a chosen one: CLUSTER-SAFETY.md,
// "Membership change"). Sent to a member whose message carried an older
// epoch, and in answer to a ConfigurationQuery. Its addressee adopts it
// when its epoch is higher than its own.
struct Configuration {
  Membership membership;
};
// Sent to a member whose message carried a newer epoch than this member's
// own: it answers with its Configuration.
struct ConfigurationQuery {};

// The configuration register's rounds (ConfigValue is above, with the
// recovery messages that carry it).
struct ConfigPrepare {
  uint64_t round_id = 0;
  Ballot ballot;
};
struct ConfigPromise {
  uint64_t round_id = 0;
  Ballot ballot;
  Vote vote = Vote::kYes;
  Ballot highest;
  Ballot accepted;    // Of `value` (zero: never written here).
  ConfigValue value;  // The register as this member has it.
};
struct ConfigAccept {
  uint64_t round_id = 0;
  Ballot ballot;
  ConfigValue value;
};
struct ConfigAccepted {
  uint64_t round_id = 0;
  Ballot ballot;
  Vote vote = Vote::kYes;
  Ballot highest;
};
// From the member settling a change, under the new epoch, to the voters of
// the configuration it replaced: write every key you hold again under the
// new configuration (WriteOp::kCarry), then answer with your floors. A
// member answers only once it has adopted the epoch (never before: its
// floors must cover every round of the old configuration).
struct CatchUp {
  uint64_t nonce = 0;
};
struct CaughtUp {
  uint64_t nonce = 0;
  bool recovering = false;  // It lost its memory: its floors say nothing.
  uint64_t token_counter = 0;
  Ballot highest;
};
// Then to the new configuration's voters: raise your floors to these (a
// majority of the new voters then covers every token and ballot of the old
// configuration, which its majorities may not meet).
struct RaiseFloors {
  uint64_t nonce = 0;
  uint64_t token_counter = 0;
  Ballot highest;
};
struct FloorsRaised {
  uint64_t nonce = 0;
};

// Keeps the bound on a quiet peer's clock fresh (message_clocks.h): a
// Probe asks for a ProbeReply at once; both carry only their stamps.
struct Probe {};
struct ProbeReply {};

// When a message was sent, and by which run of its sender, so that its
// addressee can bound its age without trusting that clocks agree
// (message_clocks.h). A member stamps what it sends to others; what it
// delivers to itself carries no stamp.
struct Stamp {
  uint64_t incarnation = 0;  // The sender's run: random at each start, never 0.
  int64_t sent_ms = 0;       // The sender's monotonic clock when it sent.
  // The latest stamp the sender had received from the addressee: its run
  // and sent_ms (0, 0 when it had none).
  uint64_t echo_incarnation = 0;
  int64_t echo_ms = 0;
};

struct Message {
  using Body = std::variant<Prepare, Promise, Accept, Accepted, SyncRequest, SyncReply, Learn, Probe,
                            ProbeReply, Configuration, ConfigurationQuery, ConfigPrepare,
                            ConfigPromise, ConfigAccept, ConfigAccepted, CatchUp, CaughtUp,
                            RaiseFloors, FloorsRaised>;
  Message() = default;
  Message(MemberId from_member, MemberId to_member, Body message_body, Stamp message_stamp = {})
      : from(from_member), to(to_member), body(std::move(message_body)), stamp(message_stamp) {}

  MemberId from = 0;
  MemberId to = 0;
  Body body;
  Stamp stamp;
  // The epoch of the configuration the message was sent under: a round's
  // attempt's for its Prepares, Accepts and Learns, the sender's own for
  // the rest. 0 until the sending member sets it (Node::DeliverLocal).
  uint64_t epoch = 0;
};

}  // namespace lockerd::cluster
