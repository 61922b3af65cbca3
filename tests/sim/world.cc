#include "tests/sim/world.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>

#include "base/check.h"
#include "cluster/fencing.h"
#include "cluster/lease_math.h"
#include "cluster/txn.h"
#include "server/append_log.h"
#include "server/boot_clock.h"
#include "server/membership_file.h"
#include "server/state_file.h"

namespace lockerd::sim {
namespace {

using cluster::Message;
using cluster::TxnBody;
using cluster::TxnRequest;
using cluster::TxnView;
using cluster::TxnWrite;
using cluster::WriteOp;
using cluster::WriteOutcome;
using cluster::WriteRequest;
using cluster::WriteResult;

constexpr int64_t kWallEpochMs = 1'790'000'000'000;  // Late 2026, as a wall clock reads.

// One scheduled piece of work, ordered by time, then by when it was added.
struct Event {
  int64_t at_us;
  uint64_t seq;
  std::function<void()> run;
  bool operator>(const Event& other) const {
    return at_us != other.at_us ? at_us > other.at_us : seq > other.seq;
  }
};

class World {
 public:
  explicit World(const SimOptions& options);
  SimReport Run();

 private:
  // What a member's `dir` holds across its runs, as the server keeps it
  // (server/state_file.h): the bytes of the last clean stop's state file,
  // and the running marker.
  struct Disk {
    std::optional<std::string> state_bytes;
    bool running_marker = false;
    bool journaled = false;  // The marker says appendonly.
    std::string log_bytes;   // dir/lockerd.aof, as synced.
    // The configuration it adopted and its configuration register, written
    // (and synced) before anything the member sends after changing them.
    std::optional<cluster::MembershipState> membership;
  };

  struct Member {
    std::unique_ptr<cluster::Node> node;  // Null while down.
    int incarnation = 0;
    Disk disk;
    bool appendonly = false;
    // Records queued, not yet synced (lost in a crash), and (only with
    // broken_sync_after_send) when the log was last synced.
    std::string unsynced;
    int64_t synced_us = 0;
    // The machine: which boot it is in, and when (real time) it booted;
    // CLOCK_BOOTTIME runs at the member's clock rate from there.
    int boot = 1;
    int64_t booted_us = 0;
    double rate = 1.0;          // How fast its clocks run against real time.
    int64_t epoch_us = 0;       // Real time at which its monotonic clock read base_ms.
    int64_t base_ms = 0;
    int64_t wall_offset_ms = 0;
    int64_t paused_until_us = 0;
    std::vector<std::function<void()>> backlog;  // Arrived while paused.
    bool in_turn = false;  // Resume reads the backlog: one AfterNodeCall for all of it.
    uint64_t timer_generation = 0;
    // A spare (never in the member list) that lost its dir: it starts
    // knowing no configuration, only whom to ask (--join).
    bool joins = false;
  };

  // A key a client holds (or last held): its token and the checker's hold.
  struct Held {
    std::string key;
    uint64_t token = 0;
    int hold = -1;
  };

  struct Client {
    int id = 0;
    double rate = 1.0;
    bool reuses_owner = false;  // The same owner name for every acquire...
    int owner_generation = 0;   // ...until a request's outcome is unknown.
    std::string owner;
    // The keys of the current acquire: one, or two for a two-key script.
    std::vector<Held> held;
    int64_t ttl_ms = 0;
    int64_t send_us = 0;
    int64_t window_end_us = 0;
    int ops = 0;
  };

  // What a script's body decided in its last run (the run whose writes the
  // cluster committed, when the script's result is kDone). Shared between
  // the body, which may run more than once, and the result's handler.
  struct ScriptPlan {
    bool wrote = false;
    std::vector<uint64_t> tokens;  // Acquire: the token written for each key.
    std::vector<bool> freed;       // Release: which keys it freed.
    int runs = 0;
  };

  // --- time and events
  void At(int64_t at_us, std::function<void()> run);
  int64_t Uniform(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng_); }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  void Trace(uint64_t a, uint64_t b = 0, uint64_t c = 0);
  void Log(const std::string& line) const;
  static std::string Describe(const Message& message);

  // --- members
  cluster::Time LocalTime(const Member& member) const;
  cluster::NodeOptions NodeOptionsFor(size_t index);
  // Starts a member's process from what its disk holds, through
  // cluster::Node::Start, as the server does: `wall_step_ms` is how far its
  // wall clock stepped while it was down (the broken variant reads it).
  void StartMember(size_t index, int64_t wall_step_ms = 0);
  server::BootStamp BootStampOf(const Member& member) const;
  // Runs `work` on a member now, later if it is paused, never if it is down
  // or restarted since `incarnation`.
  void OnMember(size_t index, int incarnation, std::function<void(cluster::Node&)> work);
  // What a node call produced leaves: at once, or (appendonly yes) as the
  // server lets it, around the sync of the call's changes.
  void AfterNodeCall(size_t index);
  void Deliver(size_t index, const std::vector<Message>& outbox, const std::vector<WriteResult>& results);
  // appendonly yes: the call's changes to the log's queue (`unsynced`).
  void QueueLog(size_t index);
  void ArmTimer(size_t index);
  void Send(const Message& message);
  void Resume(size_t index);

  // --- faults
  void FaultTick();
  // Crashes a member; it restarts after `down_us` (random when absent),
  // with an empty disk when `disk_lost` (a replaced disk, a wiped dir).
  void Crash(size_t index, std::optional<int64_t> down_us = std::nullopt, bool disk_lost = false);
  // Several members at once (a majority, sometimes), and maybe a member
  // slow while they recover.
  void CrashSeveral();
  // How a clean restart goes; what is not set is random.
  struct RestartPlan {
    std::optional<int64_t> wall_step_ms;
    std::optional<int64_t> down_us;
    std::optional<bool> reboot;
  };
  void CleanRestart(size_t index, RestartPlan plan = {});
  void Pause(size_t index, int64_t duration_us);
  void Partition();
  // Cuts `members` off from the rest (and the rest from them).
  void CutOff(const std::vector<size_t>& members);
  void HealAll();
  void ScenarioTick();
  // Runs `then` with a member that holds a lease with a third of
  // max-lease-ms left, once there is one (looking every 5 ms, at most
  // `tries` times), `delay_us` from now at the earliest.
  void WhenAMemberHolds(int64_t delay_us, std::function<void(size_t)> then, int tries = 60);
  std::vector<size_t> ShuffledMembers();
  void EndFaults();

  // --- clients
  void ClientIdle(Client& client, int64_t think_us);
  void StartLock(Client& client);
  void Submit(size_t member, WriteRequest request,
              std::function<void(const WriteResult&)> on_result);
  std::function<void(const WriteResult&)> ForClient(Client& client,
                                                    std::function<void(const WriteResult&)> then);
  void OnLocked(Client& client, const WriteResult& result);
  void PlanHold(Client& client);
  void Release(Client& client);
  void Extend(Client& client);
  // The client stops using every key it holds at `at_us`.
  void CutAll(Client& client);
  // Scripts (cluster transactions): acquire one or two keys if all are
  // free, release the keys the client holds, extend them if it holds all.
  void SubmitTxn(size_t member, std::vector<std::string> keys, TxnBody body,
                 std::function<void(const WriteResult&)> on_result);
  void ScriptAcquire(Client& client, std::vector<std::string> keys);
  void ScriptRelease(Client& client);
  void ScriptExtend(Client& client);
  // A member for a client's request: any, except those the scenario has
  // cut off from the clients too.
  size_t AnyMember() {
    for (;;) {
      const auto member = static_cast<size_t>(Uniform(0, static_cast<int64_t>(Processes()) - 1));
      if (!clients_cut_[member]) return member;
    }
  }
  std::string AnyKey() { return "key" + std::to_string(Uniform(0, static_cast<int64_t>(options_.keys) - 1)); }
  void CountNodeStats(const cluster::Node& node);
  int64_t WindowEnd(const Client& client, int64_t send_us, int64_t ttl_ms) const;
  // Among `voters` (one bit per member).
  size_t FreeMembers(const std::string& key, uint64_t token, uint32_t voters);
  void Probe(size_t member, int attempt);
  size_t Processes() const { return members_.size(); }
  // Asks a random member for a random membership change.
  void ChangeMembership();
  // Asks `at` for `request`; `then` gets its result (none if `at` is down).
  void RequestChange(size_t at, cluster::MembershipRequest request,
                     std::function<void(const WriteResult&)> then);
  // A random member's configuration: its voters, and the processes
  // outside it (the membership scenarios' roles).
  struct Roles {
    size_t asker = 0;
    uint64_t epoch = 0;
    std::vector<size_t> voters;
    std::vector<size_t> spares;
  };
  Roles RolesNow();
  // True when `roles` has three voters; else asks its member for one
  // change towards three.
  bool HasThreeVoters(const Roles& roles);
  void ReplaceTheWriters();
  void WipeTheRemoved();
  // A RELEASE acknowledged by `answering`: free on a majority of its
  // configuration's voters (or of the one before, which its round may have
  // run under).
  void CheckReleased(const std::string& key, uint64_t token, uint64_t request_id);

  SimOptions options_;
  std::mt19937_64 rng_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  uint64_t seq_ = 0;
  int64_t now_us_ = 0;
  std::vector<Member> members_;
  std::vector<std::vector<bool>> cut_;  // cut_[from][to]: the link is down.
  std::vector<bool> clients_cut_;       // Members no client reaches.
  // Until then, messages to the member wait and arrive together (kLinkBacklog).
  std::vector<int64_t> backlog_until_us_;
  std::vector<std::unique_ptr<Client>> clients_;
  std::map<uint64_t, std::function<void(const WriteResult&)>> waiting_;  // By request id.
  // The epoch of the answering member's configuration, by request id, and
  // the voters of each epoch any member adopted (for CheckReleased).
  std::map<uint64_t, uint64_t> answered_epoch_;
  std::map<uint64_t, uint32_t> voters_by_epoch_;
  uint64_t next_request_id_ = 1;
  double drop_rate_ = 0;
  double duplicate_rate_ = 0;
  double spike_rate_ = 0;
  bool faults_on_ = true;
  Checker checker_;
  SimReport report_;
};

World::World(const SimOptions& options)
    : options_(options), rng_(options.seed), members_(options.members + options.spares),
      cut_(members_.size(), std::vector<bool>(members_.size(), false)),
      clients_cut_(members_.size(), false),
      backlog_until_us_(members_.size(), 0) {
  report_.seed = options.seed;
  report_.trace_hash = 1469598103934665603ull;
  faults_on_ = options.faults;
  if (faults_on_ && options.network_faults) {
    drop_rate_ = std::uniform_real_distribution<double>(0, 0.1)(rng_);
    duplicate_rate_ = std::uniform_real_distribution<double>(0, 0.05)(rng_);
    spike_rate_ = std::uniform_real_distribution<double>(0, 0.03)(rng_);
  }
  // Clocks run within [1 - rho/2, 1 + rho/2] of real time: the bound the
  // drift allowance rho is documented to cover.
  const double epsilon = options.drift / 2;
  for (Member& member : members_) {
    member.appendonly = options.appendonly_share > 0 && Chance(options.appendonly_share);
    member.rate = 1.0 + std::uniform_real_distribution<double>(-epsilon, epsilon)(rng_);
    // Wall clocks agree to within max-lease-ms: the documented assumption
    // that keeps the token floor safe across a whole-cluster restart.
    member.wall_offset_ms = Uniform(-options.max_lease_ms / 4, options.max_lease_ms / 4);
  }
  for (size_t i = 0; i < members_.size(); ++i) StartMember(i);
  for (size_t i = 0; i < options.clients; ++i) {
    auto client = std::make_unique<Client>();
    client->id = static_cast<int>(i);
    client->rate = 1.0 + std::uniform_real_distribution<double>(-epsilon, epsilon)(rng_);
    client->reuses_owner = Chance(options.owner_reuse);
    clients_.push_back(std::move(client));
  }
}

void World::At(int64_t at_us, std::function<void()> run) {
  events_.push({std::max(at_us, now_us_), seq_++, std::move(run)});
}

void World::Trace(uint64_t a, uint64_t b, uint64_t c) {
  for (const uint64_t value : {static_cast<uint64_t>(now_us_), a, b, c}) {
    report_.trace_hash ^= value;
    report_.trace_hash *= 1099511628211ull;
  }
}

void World::Log(const std::string& line) const {
  if (options_.verbose) std::fprintf(stderr, "%9.3f ms  %s\n", now_us_ / 1000.0, line.c_str());
}

std::string World::Describe(const Message& m) {
  const auto ballot = [](cluster::Ballot b) {
    return std::to_string(b.round) + "." + std::to_string(b.member) +
           (b.step != 0 ? "." + std::to_string(b.step) : "");
  };
  std::string text = std::to_string(m.from) + "->" + std::to_string(m.to) + " ";
  if (const auto* p = std::get_if<cluster::Prepare>(&m.body)) {
    return text + "prepare r" + std::to_string(p->round_id) + " " + p->key + " b" + ballot(p->ballot);
  }
  if (const auto* p = std::get_if<cluster::Promise>(&m.body)) {
    return text + "promise r" + std::to_string(p->round_id) + " vote" +
           std::to_string(static_cast<int>(p->vote)) + " acc" + ballot(p->accepted) +
           (p->lease.held ? " held " + p->lease.owner + " t" + std::to_string(p->lease.token) +
                                " rem" + std::to_string(p->lease.remaining_ms)
                          : " free");
  }
  if (const auto* a = std::get_if<cluster::Accept>(&m.body)) {
    return text + "accept r" + std::to_string(a->round_id) + " " + a->key + " b" +
           ballot(a->ballot) +
           (a->held ? " " + a->owner + " t" + std::to_string(a->token) + " ttl" +
                          std::to_string(a->ttl_ms)
                    : " free");
  }
  if (const auto* a = std::get_if<cluster::Accepted>(&m.body)) {
    return text + "accepted r" + std::to_string(a->round_id) + " vote" +
           std::to_string(static_cast<int>(a->vote));
  }
  if (const auto* l = std::get_if<cluster::Learn>(&m.body)) {
    return text + "learn " + l->key + " b" + ballot(l->ballot) +
           (l->held ? " " + l->owner + " t" + std::to_string(l->token) : " free");
  }
  if (std::holds_alternative<cluster::SyncRequest>(m.body)) return text + "sync?";
  if (const auto* r = std::get_if<cluster::SyncReply>(&m.body)) {
    return text + (r->recovering ? "sync! recovering" : "sync! floor " + ballot(r->highest));
  }
  if (std::holds_alternative<cluster::Probe>(m.body)) return text + "probe";
  if (const auto* c = std::get_if<cluster::Configuration>(&m.body)) {
    return text + "config e" + std::to_string(c->membership.epoch) + " v" +
           std::to_string(c->membership.voters) + " l" + std::to_string(c->membership.learners);
  }
  if (std::holds_alternative<cluster::ConfigurationQuery>(m.body)) return text + "config?";
  return text + "probed";
}

cluster::Time World::LocalTime(const Member& member) const {
  const double elapsed_ms = static_cast<double>(now_us_ - member.epoch_us) * member.rate / 1000.0;
  return {member.base_ms + static_cast<int64_t>(std::floor(elapsed_ms)),
          kWallEpochMs + now_us_ / 1000 + member.wall_offset_ms};
}

cluster::NodeOptions World::NodeOptionsFor(size_t index) {
  cluster::NodeOptions node;
  node.membership = cluster::Membership::Initial(options_.members);
  if (members_[index].joins) {
    // Epoch 0: every peer knows a newer configuration, and is asked for it.
    node.membership.epoch = 0;
    node.membership.voters = ((uint32_t{1} << Processes()) - 1) & ~(uint32_t{1} << index);
  }
  node.self = static_cast<cluster::MemberId>(index);
  node.max_lease_ms = options_.max_lease_ms;
  node.drift = options_.drift;
  node.round_timeout_ms = options_.round_timeout_ms;
  node.seed = rng_();
  node.incarnation = (rng_() >> 1) | 1;
  node.probe_interval_ms = 1000;
  node.broken = options_.broken;
  return node;
}

server::BootStamp World::BootStampOf(const Member& member) const {
  const auto boottime_ms =
      static_cast<int64_t>(std::floor(static_cast<double>(now_us_ - member.booted_us) * member.rate / 1000.0));
  return {"boot-" + std::to_string(member.boot), boottime_ms};
}

void World::StartMember(size_t index, int64_t wall_step_ms) {
  Member& member = members_[index];
  member.node = std::make_unique<cluster::Node>(NodeOptionsFor(index));
  ++member.incarnation;
  member.epoch_us = now_us_;
  member.base_ms = Uniform(0, 1'000'000);  // A new process: any monotonic origin.
  member.paused_until_us = 0;
  member.backlog.clear();
  // What the server does at startup (server.cc, Restore), from the same
  // bytes and through the same code.
  cluster::StartFacts facts;
  facts.unclean = member.disk.running_marker;
  facts.membership = member.disk.membership;
  bool from_log = false;
  if (member.disk.running_marker && member.disk.journaled) {
    // As StateStore::Load: the log of a run that kept one is its state.
    const server::LogContents log = server::ReadLog(member.disk.log_bytes);
    if (!log.problem.empty() || !log.torn_tail.empty()) {
      checker_.Fail("log of member " + std::to_string(index) + ": " + log.problem + log.torn_tail);
    }
    server::SaveStamp saved_at;
    facts.saved = server::ReplayLog(log.batches, &saved_at);
    if (facts.saved) {
      from_log = true;
      facts.unclean = false;
      facts.downtime_ms = server::ElapsedWithinBoot(saved_at.boot, BootStampOf(member));
      facts.wall_downtime_ms =
          std::max<int64_t>(0, LocalTime(member).wall_ms + wall_step_ms - saved_at.wall_ms);
    }
  }
  if (!from_log && member.disk.state_bytes) {
    server::SaveStamp saved_at;
    std::string problem;
    facts.saved = server::DecodeState(*member.disk.state_bytes, &saved_at, &problem);
    if (!facts.saved) {
      checker_.Fail("state file of member " + std::to_string(index) + " unreadable: " + problem);
      facts.unclean = true;
    } else {
      const cluster::Time now = LocalTime(member);
      facts.downtime_ms = server::ElapsedWithinBoot(saved_at.boot, BootStampOf(member));
      facts.wall_downtime_ms = std::max<int64_t>(0, now.wall_ms + wall_step_ms - saved_at.wall_ms);
    }
  }
  if (!from_log) member.disk.log_bytes.clear();  // Never an older log later.
  member.disk.running_marker = true;
  member.disk.journaled = member.appendonly;
  member.unsynced.clear();
  const cluster::StartReport report = member.node->Start(facts, LocalTime(member));
  if (from_log && report.kind == cluster::StartKind::kUnclean) {
    checker_.Fail("member " + std::to_string(index) + " restarted from its log as after a crash");
  }
  if (member.appendonly) {
    // As Server::OpenLog: the first record is the whole state.
    const cluster::Time now = LocalTime(member);
    member.node->TrackChanges();
    (void)member.node->TakeChanges(now);
    member.disk.log_bytes = server::EncodeLogRecord(
        server::LogBatchOf(member.node->Save(now), /*full=*/true, {now.wall_ms, BootStampOf(member)}));
    member.node->NoteDurable();
  }
  if (from_log) ++report_.faults["start: from the log"];
  Log("start member " + std::to_string(index) + ": " + cluster::StartKindName(report.kind) +
      ", " + std::to_string(report.leases_loaded) + " leases, quarantine " +
      std::to_string(report.quarantine_ms) + " ms" + (report.recovering ? ", recovering" : ""));
  ++report_.faults[std::string("start: ") + cluster::StartKindName(report.kind)];
}

void World::OnMember(size_t index, int incarnation, std::function<void(cluster::Node&)> work) {
  Member& member = members_[index];
  if (!member.node || member.incarnation != incarnation) return;
  if (member.paused_until_us > now_us_) {
    member.backlog.push_back([this, index, incarnation, work = std::move(work)] {
      OnMember(index, incarnation, work);
    });
    return;
  }
  work(*member.node);
  if (!member.in_turn) AfterNodeCall(index);
}

void World::QueueLog(size_t index) {
  Member& member = members_[index];
  const cluster::Time now = LocalTime(member);
  if (std::optional<cluster::NodeState> changes = member.node->TakeChanges(now)) {
    member.unsynced += server::EncodeLogRecord(
        server::LogBatchOf(std::move(*changes), /*full=*/false, {now.wall_ms, BootStampOf(member)}));
  }
}

void World::AfterNodeCall(size_t index) {
  Member& member = members_[index];
  // As the server: a changed configuration is on disk before anything leaves.
  if (member.node->TakeMembershipStateChanged()) {
    // Through the file's encoding, as the server keeps it.
    std::string problem;
    member.disk.membership = server::DecodeMembership(server::EncodeMembership(member.node->membership_state()), &problem);
    CHECK(member.disk.membership.has_value());
    report_.last_epoch = std::max(report_.last_epoch, member.node->membership().epoch);
  }
  std::vector<Message> outbox;
  member.node->TakeOutbox(&outbox);
  std::vector<WriteResult> results;
  member.node->TakeResults(&results);
  if (member.appendonly && options_.broken_sync_after_send) {
    // The broken variant: everything leaves now; the log is synced every
    // 100 ms.
    QueueLog(index);
    if (now_us_ - member.synced_us >= 100'000) {
      member.disk.log_bytes += member.unsynced;
      member.unsynced.clear();
      member.synced_us = now_us_;
    }
  } else if (member.appendonly) {
    // As the server's loop turn (Server::OnPrepare): this member's own
    // proposals leave at once, the call's changes go to the log's queue,
    // and the rest leaves once they are synced, when a sync is needed. The
    // process waits for its sync; a crash meanwhile loses what was queued.
    std::vector<Message> after_sync;
    for (Message& message : outbox) {
      if (member.node->MaySendBeforeSync(message)) {
        Send(message);
      } else {
        after_sync.push_back(std::move(message));
      }
    }
    QueueLog(index);
    if (!member.unsynced.empty() && member.node->ChangesNeedSync()) {
      const int64_t done_us = now_us_ + Uniform(options_.sync_us_min, options_.sync_us_max);
      member.paused_until_us = std::max(member.paused_until_us, done_us);
      if (faults_on_ && Chance(options_.rates.crash_in_sync)) {
        At(now_us_ + Uniform(0, done_us - now_us_ - 1), [this, index, incarnation = member.incarnation] {
          if (!members_[index].node || members_[index].incarnation != incarnation) return;
          ++report_.faults["crash during a sync"];
          Crash(index);
        });
      }
      At(done_us, [this, index, incarnation = member.incarnation, after_sync = std::move(after_sync),
                   results = std::move(results)] {
        Member& synced = members_[index];
        if (!synced.node || synced.incarnation != incarnation) return;  // Crashed meanwhile.
        synced.disk.log_bytes += synced.unsynced;
        synced.unsynced.clear();
        synced.node->NoteDurable();
        Deliver(index, after_sync, results);
        Resume(index);
      });
      return;
    }
    if (member.unsynced.empty()) member.node->NoteDurable();
    outbox = std::move(after_sync);
  }
  Deliver(index, outbox, results);
}

void World::Deliver(size_t index, const std::vector<Message>& outbox,
                    const std::vector<WriteResult>& results) {
  for (const Message& message : outbox) Send(message);
  const cluster::Membership& membership = members_[index].node->membership();
  voters_by_epoch_[membership.epoch] = membership.voters;
  for (const WriteResult& result : results) {
    answered_epoch_[result.request_id] = membership.epoch;
    Trace(2, result.request_id, static_cast<uint64_t>(result.outcome) * 1'000'003 + result.token);
    Log("member " + std::to_string(index) + " answers request " + std::to_string(result.request_id) +
        " outcome " + std::to_string(static_cast<int>(result.outcome)) + " token " +
        std::to_string(result.token) + " " + result.detail);
    // The reply travels back over the client's connection.
    At(now_us_ + Uniform(50, 400), [this, result] {
      const auto it = waiting_.find(result.request_id);
      if (it == waiting_.end()) return;  // The client gave up on it.
      auto on_result = std::move(it->second);
      waiting_.erase(it);
      on_result(result);
    });
  }
  ArmTimer(index);
}

void World::ArmTimer(size_t index) {
  Member& member = members_[index];
  const std::optional<int64_t> next_ms = member.node->NextWakeMs();
  if (!next_ms) return;
  // The real time at which this member's clock reads *next_ms.
  const double local_ms = static_cast<double>(*next_ms - member.base_ms);
  const auto at_us = member.epoch_us + static_cast<int64_t>(std::ceil(local_ms * 1000.0 / member.rate));
  const uint64_t generation = ++member.timer_generation;
  const int incarnation = member.incarnation;
  At(std::max(at_us, now_us_ + 1), [this, index, generation, incarnation] {
    if (members_[index].timer_generation != generation) return;
    OnMember(index, incarnation, [this, index](cluster::Node& node) {
      node.Tick(LocalTime(members_[index]));
    });
  });
}

void World::Send(const Message& message) {
  ++report_.messages;
  const size_t from = message.from;
  const size_t to = message.to;
  if (cut_[from][to] || Chance(drop_rate_)) { Log("drop " + Describe(message)); return; }
  const int copies = Chance(duplicate_rate_) ? 2 : 1;
  for (int copy = 0; copy < copies; ++copy) {
    int64_t delay_us = Uniform(100, 3000);
    if (Chance(spike_rate_)) delay_us += Uniform(20'000, 300'000);
    // Now and then a message arrives very late (a link's retransmissions
    // after a partition heals, a receiver paused with it in its socket):
    // later than a tombstone lives, so that a commit applied on arrival
    // would revive a lease the cluster has since released and forgotten.
    if (backlog_until_us_[to] > now_us_) delay_us += backlog_until_us_[to] - now_us_;
    if (Chance(spike_rate_ / 10)) {
      const int64_t tombstone_ms = cluster::StaleStateLifeMs(options_.max_lease_ms, options_.drift,
                                                             options_.round_timeout_ms);
      delay_us += Uniform(tombstone_ms * 1000, 3 * tombstone_ms * 1000);
      ++report_.faults["very-late-message"];
    }
    const int incarnation = members_[to].incarnation;
    At(now_us_ + delay_us, [this, to, incarnation, message] {
      Trace(1, message.from * 64 + message.to, message.body.index());
      Log("deliver " + Describe(message));
      OnMember(to, incarnation, [this, to, message](cluster::Node& node) {
        node.Receive(message, LocalTime(members_[to]));
      });
    });
  }
}

void World::Resume(size_t index) {
  Member& member = members_[index];
  if (member.paused_until_us > now_us_) return;  // Paused again since.
  std::vector<std::function<void()>> backlog;
  backlog.swap(member.backlog);
  // What arrived meanwhile is read in one loop turn (one_turn_after_pause),
  // as the server's poll reads every ready connection before the turn's
  // end and its one sync: a member may then apply an Accept and answer a
  // Prepare in the same turn.
  member.in_turn = options_.one_turn_after_pause;
  for (auto& work : backlog) work();
  member.in_turn = false;
  if (member.node) {
    OnMember(index, member.incarnation, [this, index](cluster::Node& node) {
      node.Tick(LocalTime(members_[index]));
    });
  }
}

// ---------------------------------------------------------------- faults

void World::FaultTick() {
  if (!faults_on_) return;
  const size_t victim = static_cast<size_t>(Uniform(0, static_cast<int64_t>(Processes()) - 1));
  const SimOptions::FaultRates& rates = options_.rates;
  if (Chance(rates.partition)) Partition();
  if (Chance(rates.crash) && members_[victim].node) Crash(victim, std::nullopt, Chance(0.1));
  if (Chance(rates.crash_several)) CrashSeveral();
  if (Chance(rates.clean_restart) && members_[victim].node) CleanRestart(victim);
  if (Chance(rates.pause) && members_[victim].node) Pause(victim, Uniform(50'000, 2'000'000));
  // (No draw at all without changes: other runs keep their seeds' streams.)
  if (options_.membership_changes > 0 && Chance(options_.membership_changes)) ChangeMembership();
  if (Chance(rates.wall_step)) {
    // A wall clock step, either way, within the documented assumption: it
    // must change nothing.
    members_[victim].wall_offset_ms = Uniform(-options_.max_lease_ms / 2, options_.max_lease_ms / 2);
    ++report_.faults["wall-clock-step"];
  }
  if (options_.whole_cluster_crashes && Chance(0.004)) {
    ++report_.faults["whole-cluster-crash"];
    for (size_t i = 0; i < Processes(); ++i) {
      if (members_[i].node) Crash(i);
    }
  }
  At(now_us_ + 100'000, [this] { FaultTick(); });
}

void World::Crash(size_t index, std::optional<int64_t> down_us, bool disk_lost) {
  ++report_.faults["crash"];
  Trace(3, index);
  Log("crash member " + std::to_string(index) + (disk_lost ? " (its disk is lost)" : ""));
  Member& member = members_[index];
  CountNodeStats(*member.node);
  member.node.reset();  // Memory lost; the disk keeps its running marker...
  if (disk_lost) {      // ...unless it is lost too: it starts with an empty dir.
    // A listed member starts from the list, and with an empty dir joins by
    // itself (Node::Start); a spare, never listed, is started to join. So
    // is a member alone in its list once spares may have been added: alone
    // in the list it would start as a new member alone (the server cannot
    // add a member that is not listed yet; --join must handle this:
    // docs/STATUS.md).
    member.joins = index >= options_.members || (options_.members == 1 && options_.spares > 0);
    member.disk = Disk{};
    ++report_.faults["disk-lost"];
  }
  ++member.incarnation;  // Messages in flight to it are lost.
  member.backlog.clear();
  // Some crashes take the machine down with them.
  if (Chance(0.3)) {
    ++member.boot;
    member.booted_us = now_us_;
  }
  At(now_us_ + down_us.value_or(Uniform(50'000, 1'500'000)), [this, index] {
    if (members_[index].node) return;
    StartMember(index);
    AfterNodeCall(index);
  });
}

void World::CrashSeveral() {
  // Two or more at once: within what a majority survives (two of five),
  // or a majority (recovery must then fall back to the wall clock).
  std::vector<size_t> up;
  for (size_t i = 0; i < Processes(); ++i) {
    if (members_[i].node) up.push_back(i);
  }
  if (up.size() < 2) return;
  std::shuffle(up.begin(), up.end(), rng_);
  auto count = static_cast<size_t>(Uniform(2, static_cast<int64_t>(up.size())));
  // Failures cluster: during a partition, half the time they strike the
  // side that has been writing (the majority), all of it but one member,
  // which is then slow. Those crashed members and the slow one may be
  // the only ones that know the latest writes.
  if (Chance(0.5)) {
    const auto reach = [this](size_t i) {
      size_t linked = 0;
      for (size_t j = 0; j < Processes(); ++j) linked += !cut_[i][j];
      return linked;
    };
    std::stable_sort(up.begin(), up.end(), [&](size_t a, size_t b) { return reach(a) > reach(b); });
    size_t side = 0;
    while (side < up.size() && reach(up[side]) == reach(up[0])) ++side;
    if (reach(up[0]) < Processes() && side >= 3) count = side - 1;
  }
  ++report_.faults[count >= Processes() / 2 + 1 ? "majority-crash" : "minority-crash"];
  for (size_t i = 0; i < count; ++i) Crash(up[i]);
  // The member that would make their majority is slow while they recover.
  if (count < up.size() && Chance(0.5)) Pause(up[count], Uniform(500'000, 4'000'000));
}

void World::CleanRestart(size_t index, RestartPlan plan) {
  Member& member = members_[index];
  if (member.paused_until_us > now_us_) return;  // A paused process cannot shut down.
  ++report_.faults["clean-restart"];
  Trace(4, index);
  Log("clean restart of member " + std::to_string(index));
  // What the server's shutdown writes: the state file, then no marker.
  const cluster::Time now = LocalTime(member);
  member.disk.state_bytes =
      server::EncodeState(member.node->Save(now), {now.wall_ms, BootStampOf(member)});
  member.disk.running_marker = false;
  CountNodeStats(*member.node);
  member.node.reset();
  ++member.incarnation;
  // While it is down its machine may reboot (the boot clock starts over,
  // so the downtime is unknown), and its wall clock may step either way, by
  // far more than wall clocks are otherwise wrong (an RTC or NTP correction
  // at boot): a restart must not care.
  if (plan.reboot.value_or(Chance(0.3))) {
    ++member.boot;
    member.booted_us = now_us_ + Uniform(10'000, 40'000);
    ++report_.faults["reboot-while-down"];
  }
  int64_t wall_step_ms = plan.wall_step_ms.value_or(0);
  if (!plan.wall_step_ms && Chance(0.4)) {
    wall_step_ms = Uniform(-3 * options_.max_lease_ms, 3 * options_.max_lease_ms);
    ++report_.faults[wall_step_ms >= 0 ? "wall-step-forward-while-down" : "wall-step-back-while-down"];
  }
  At(now_us_ + plan.down_us.value_or(Uniform(50'000, 800'000)), [this, index, wall_step_ms] {
    if (members_[index].node) return;
    StartMember(index, wall_step_ms);
    AfterNodeCall(index);
  });
}

void World::Pause(size_t index, int64_t duration_us) {
  ++report_.faults["pause"];
  Trace(5, index, static_cast<uint64_t>(duration_us));
  Log("pause member " + std::to_string(index) + " for " + std::to_string(duration_us / 1000) + " ms");
  Member& member = members_[index];
  member.paused_until_us = std::max(member.paused_until_us, now_us_ + duration_us);
  At(member.paused_until_us, [this, index] { Resume(index); });
}

void World::Partition() {
  ++report_.faults["partition"];
  // Either one member cut off from all, or a random minority from the rest.
  std::vector<bool> side(Processes(), false);
  const size_t minority = static_cast<size_t>(Uniform(1, static_cast<int64_t>(Processes()) / 2));
  for (size_t chosen = 0; chosen < minority;) {
    const size_t i = static_cast<size_t>(Uniform(0, static_cast<int64_t>(Processes()) - 1));
    if (!side[i]) {
      side[i] = true;
      ++chosen;
    }
  }
  for (size_t a = 0; a < Processes(); ++a) {
    for (size_t b = 0; b < Processes(); ++b) {
      if (side[a] != side[b]) cut_[a][b] = true;
    }
  }
  Trace(6, minority);
  std::string sides;
  for (const bool s2 : side) sides += s2 ? 'B' : 'A';
  Log("partition " + sides);
  At(now_us_ + Uniform(100'000, 1'500'000), [this] { HealAll(); });
}

void World::CutOff(const std::vector<size_t>& cut) {
  // The clients are on the side of the rest: the members cut off hear from
  // no one (and so take no new ballots of their own).
  std::vector<bool> side(Processes(), false);
  for (const size_t i : cut) side[i] = clients_cut_[i] = true;
  for (size_t a = 0; a < Processes(); ++a) {
    for (size_t b = 0; b < Processes(); ++b) {
      if (side[a] != side[b]) cut_[a][b] = true;
    }
  }
  std::string sides;
  for (const bool s2 : side) sides += s2 ? 'B' : 'A';
  Log("partition " + sides);
}

std::vector<size_t> World::ShuffledMembers() {
  std::vector<size_t> order(Processes());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng_);
  return order;
}

void World::ScenarioTick() {
  if (!faults_on_) return;
  // Each pattern starts from a cluster whose members all vote.
  for (const Member& member : members_) {
    if (!member.node || member.node->Quarantined(LocalTime(member))) {
      At(now_us_ + 50'000, [this] { ScenarioTick(); });
      return;
    }
  }
  const std::vector<size_t> order = ShuffledMembers();
  const auto up = [this](size_t i) { return members_[i].node != nullptr; };
  const int64_t cycle_us = Uniform(2'000'000, 3'000'000);
  switch (options_.scenario) {
    case SimOptions::Scenario::kNone:
      return;
    case SimOptions::Scenario::kCrashAllButOneOfTheWriters:
    case SimOptions::Scenario::kCrashAndWipeTheWriters: {
      // order: a minority cut off, the rest write; all the rest but the
      // last crash together after a while (one of them losing its disk, in
      // the second scenario), the last is slow.
      const size_t cut = (options_.members - 1) / 2;
      const bool wipe = options_.scenario == SimOptions::Scenario::kCrashAndWipeTheWriters;
      CutOff({order.begin(), order.begin() + static_cast<long>(cut)});
      At(now_us_ + Uniform(150'000, 500'000), [this, order, cut, up, wipe] {
        ++report_.faults["scenario"];
        for (size_t i = cut; i + 1 < order.size(); ++i) {
          if (up(order[i])) Crash(order[i], Uniform(50'000, 200'000), /*disk_lost=*/wipe && i == cut);
        }
        Pause(order.back(), Uniform(1'400'000, 2'500'000));
        At(now_us_ + Uniform(50'000, 300'000), [this] { HealAll(); });
      });
      break;
    }
    case SimOptions::Scenario::kCleanRestartWithClockStep: {
      // order[0] cut off; order[1] restarts cleanly with its wall clock
      // stepped forward; order[2] is slow once it is back.
      CutOff({order[0]});
      At(now_us_ + Uniform(200'000, 600'000), [this, order, up] {
        if (!up(order[1])) return;
        ++report_.faults["scenario"];
        CleanRestart(order[1], {Uniform(2, 4) * options_.max_lease_ms, std::nullopt, false});
        At(now_us_ + Uniform(850'000, 1'000'000), [this, order] {
          HealAll();
          Pause(order[2], Uniform(400'000, 900'000));
        });
      });
      break;
    }
    case SimOptions::Scenario::kCleanRestartAfterARelease: {
      // As soon as some member holds a lease with time to spare, that member
      // stops cleanly with it, and is down while the others release it (and
      // maybe grant and release it again); it comes back with its saved
      // copy, a second member then restarts cleanly too, and the third is
      // slow once the second is back.
      WhenAMemberHolds(Uniform(0, 20'000), [this](size_t holder) {
        std::vector<size_t> roles = {holder};
        for (const size_t i : ShuffledMembers()) {
          if (i != holder) roles.push_back(i);
        }
        ++report_.faults["scenario"];
        const int64_t down_us = Uniform(100'000, 400'000);
        CleanRestart(roles[0], {0, down_us, false});
        At(now_us_ + down_us + Uniform(1'000, 50'000), [this, roles] {
          if (!members_[roles[1]].node) return;
          const int64_t second_down_us = Uniform(20'000, 100'000);
          CleanRestart(roles[1], {0, second_down_us, false});
          At(now_us_ + second_down_us + Uniform(1'000, 20'000),
             [this, roles] { Pause(roles[2], Uniform(400'000, 900'000)); });
        });
      });
      break;
    }
    case SimOptions::Scenario::kReplacedDisk: {
      CutOff({order[0]});
      At(now_us_ + Uniform(150'000, 500'000), [this, order, up] {
        if (!up(order[1])) return;
        ++report_.faults["scenario"];
        Crash(order[1], Uniform(50'000, 200'000), /*disk_lost=*/true);
        Pause(order[2], Uniform(800'000, 1'500'000));
        At(now_us_ + Uniform(50'000, 300'000), [this] { HealAll(); });
      });
      break;
    }
    case SimOptions::Scenario::kReplaceTheWriters: {
      ReplaceTheWriters();
      break;
    }
    case SimOptions::Scenario::kWipedAfterShrinking:
      return WipeTheRemoved();
    case SimOptions::Scenario::kLinkBacklog: {
      ++report_.faults["scenario"];
      const int64_t tombstone_us = 1000 * cluster::StaleStateLifeMs(options_.max_lease_ms, options_.drift,
                                                                    options_.round_timeout_ms);
      const size_t member = order[0];
      backlog_until_us_[member] = now_us_ + Uniform(tombstone_us * 3 / 2, tombstone_us * 3);
      clients_cut_[member] = true;
      At(backlog_until_us_[member], [this, member] { clients_cut_[member] = false; });
      At(now_us_ + cycle_us + (backlog_until_us_[member] - now_us_), [this] { ScenarioTick(); });
      return;
    }
  }
  At(now_us_ + cycle_us, [this] { ScenarioTick(); });
}

void World::WhenAMemberHolds(int64_t delay_us, std::function<void(size_t)> then, int tries) {
  At(now_us_ + delay_us, [this, then = std::move(then), tries]() mutable {
    for (size_t i = 0; i < options_.members; ++i) {
      const Member& member = members_[i];
      if (!member.node || member.paused_until_us > now_us_) continue;
      const cluster::Time now = LocalTime(member);
      for (size_t k = 0; k < options_.keys; ++k) {
        const cluster::Register* reg = member.node->table().FindHeld("key" + std::to_string(k), now.mono_ms);
        if (reg != nullptr && reg->RemainingMs(now.mono_ms) > options_.max_lease_ms / 3) return then(i);
      }
    }
    if (tries > 0) WhenAMemberHolds(5'000, std::move(then), tries - 1);
  });
}

void World::HealAll() {
  for (auto& row : cut_) std::fill(row.begin(), row.end(), false);
  std::fill(clients_cut_.begin(), clients_cut_.end(), false);
}

void World::EndFaults() {
  faults_on_ = false;
  drop_rate_ = duplicate_rate_ = spike_rate_ = 0;
  HealAll();
  for (size_t i = 0; i < Processes(); ++i) {
    Member& member = members_[i];
    if (member.paused_until_us > now_us_) {
      member.paused_until_us = now_us_;
      Resume(i);
    }
  }
  // Crashed members come back (after their scheduled delay) on their own.
  const int64_t quarantine_us =
      (options_.max_lease_ms * 2 + options_.round_timeout_ms * 2) * 1000 + 1'600'000;
  for (size_t i = 0; i < Processes(); ++i) {
    At(now_us_ + quarantine_us, [this, i] { Probe(i, 0); });
  }
}

// --------------------------------------------------------------- clients

std::function<void(const WriteResult&)> World::ForClient(Client& client,
                                                        std::function<void(const WriteResult&)> then) {
  return [&client, then = std::move(then)](const WriteResult& result) {
    // A request given up on may still take effect later: a client that
    // reuses its owner name takes a new one, as a client with a request of
    // unknown outcome in flight must (a late RELEASE of the old name would
    // end the next lease of the same name).
    if (result.detail == "client timeout") ++client.owner_generation;
    then(result);
  };
}

void World::Submit(size_t member, WriteRequest request,
                   std::function<void(const WriteResult&)> on_result) {
  request.request_id = next_request_id_++;
  const uint64_t id = request.request_id;
  Log("request " + std::to_string(id) + " to member " + std::to_string(member) + ": op " +
      std::to_string(static_cast<int>(request.op)) + " " + request.key + " " + request.owner +
      " ttl " + std::to_string(request.ttl_ms));
  waiting_[id] = std::move(on_result);
  const int incarnation = members_[member].incarnation;
  At(now_us_ + Uniform(50, 400), [this, member, incarnation, request] {
    OnMember(member, incarnation, [this, member, request](cluster::Node& node) {
      node.Submit(request, LocalTime(members_[member]));
    });
  });
  // A client gives up on a request its member never answers (crashed, or
  // cut off): the outcome is unknown, so it does not count as a hold.
  const int64_t timeout_us = (3 * options_.round_timeout_ms + 200) * 1000;
  At(now_us_ + timeout_us, [this, id] {
    const auto it = waiting_.find(id);
    if (it == waiting_.end()) return;
    auto give_up = std::move(it->second);
    waiting_.erase(it);
    WriteResult unknown;
    unknown.request_id = id;
    unknown.outcome = WriteOutcome::kNoQuorum;
    unknown.detail = "client timeout";
    give_up(unknown);
  });
}

void World::ClientIdle(Client& client, int64_t think_us) {
  At(now_us_ + think_us, [this, &client] {
    if (now_us_ < (options_.fault_phase_ms + options_.quiet_phase_ms) * 1000) StartLock(client);
  });
}

void World::StartLock(Client& client) {
  const std::string key = AnyKey();
  client.owner = "client" + std::to_string(client.id) + "-";
  client.owner += client.reuses_owner ? "g" + std::to_string(client.owner_generation)
                                      : std::to_string(client.ops++);
  if (options_.shared_owner) client.owner = "shared";
  client.ttl_ms = options_.brief_holds ? Uniform(options_.max_lease_ms / 2, options_.max_lease_ms)
                                       : Uniform(20, options_.max_lease_ms);
  client.send_us = now_us_;
  client.held.clear();
  if (options_.scripts && !options_.shared_owner) {
    // A modest share of acquires are scripts: one key, or two at once.
    const double choice = std::uniform_real_distribution<double>(0, 1)(rng_);
    if (choice < 0.06 && options_.keys >= 2) {
      std::string other = AnyKey();
      while (other == key) other = AnyKey();
      return ScriptAcquire(client, {key, other});
    }
    if (choice < 0.18) return ScriptAcquire(client, {key});
  }
  client.held.push_back({key, 0, -1});
  WriteRequest request;
  request.op = WriteOp::kLock;
  request.key = key;
  request.owner = client.owner;
  request.ttl_ms = client.ttl_ms;
  request.only_if_free = options_.shared_owner;  // SET key value NX PX ttl.
  Submit(AnyMember(), request, ForClient(client, [this, &client](const WriteResult& result) {
    OnLocked(client, result);
  }));
}

int64_t World::WindowEnd(const Client& client, int64_t send_us, int64_t ttl_ms) const {
  // The client counts ttl * (1 - rho) on its own clock from when it sent.
  const double local_us = static_cast<double>(ttl_ms) * (1.0 - options_.drift) * 1000.0;
  return send_us + static_cast<int64_t>(std::floor(local_us / client.rate));
}

void World::OnLocked(Client& client, const WriteResult& result) {
  if (result.outcome != WriteOutcome::kDone) return ClientIdle(client, Uniform(1'000, 50'000));
  Held& held = client.held.front();
  held.token = result.token;
  client.window_end_us = WindowEnd(client, client.send_us, client.ttl_ms);
  held.hold = checker_.Grant(held.key, client.id, held.token, now_us_, client.window_end_us);
  PlanHold(client);
}

void World::PlanHold(Client& client) {
  const int64_t left_us = client.window_end_us - now_us_;
  if (left_us <= 0) return ClientIdle(client, Uniform(1'000, 20'000));
  const double choice = std::uniform_real_distribution<double>(0, 1)(rng_);
  if (options_.brief_holds || options_.shared_owner) {
    At(now_us_ + Uniform(0, std::min<int64_t>(left_us * 9 / 10, 20'000)), [this, &client] { Release(client); });

  } else if (choice < 0.6) {
    At(now_us_ + Uniform(0, left_us * 9 / 10), [this, &client] { Release(client); });
  } else if (choice < 0.8) {
    At(now_us_ + Uniform(left_us / 4, left_us * 3 / 4), [this, &client] { Extend(client); });
  } else {
    // Lets the lease run out: it stops using the lock at its deadline.
    At(client.window_end_us, [this, &client] {
      CutAll(client);
      ClientIdle(client, Uniform(1'000, 20'000));
    });
  }
}

void World::CutAll(Client& client) {
  for (const Held& held : client.held) checker_.Cut(held.hold, now_us_);
}

void World::Release(Client& client) {
  CutAll(client);  // It stops using the lock before asking.
  // Two keys are released by a script; one key by RELEASE, or a script.
  if (options_.scripts && (client.held.size() > 1 || Chance(0.3))) return ScriptRelease(client);
  const Held held = client.held.front();
  WriteRequest request;
  // With a shared owner name, half the releases are DEL (a forced release,
  // Celery's cache.delete), the rest RELEASE (a compare-and-delete).
  request.op = options_.shared_owner && Chance(0.5) ? WriteOp::kDelete : WriteOp::kRelease;
  request.key = held.key;
  request.owner = client.owner;
  Submit(AnyMember(), request, ForClient(client, [this, &client, held](const WriteResult& result) {
    if (result.outcome == WriteOutcome::kDone) {
      CheckReleased(held.key, held.token, result.request_id);
    }
    ClientIdle(client, Uniform(1'000, 30'000));
  }));
}

void World::Extend(Client& client) {
  if (now_us_ >= client.window_end_us) {
    CutAll(client);
    return ClientIdle(client, Uniform(1'000, 20'000));
  }
  if (options_.scripts &&
      (client.held.size() > 1 ||
       options_.broken_script == SimOptions::BrokenScript::kShortenRenewals || Chance(0.3))) {
    return ScriptExtend(client);
  }
  const Held held = client.held.front();
  const int64_t ttl_ms = Uniform(20, options_.max_lease_ms);
  const int64_t send_us = now_us_;
  WriteRequest request;
  request.op = WriteOp::kExtend;
  request.key = held.key;
  request.owner = client.owner;
  request.ttl_ms = ttl_ms;
  Submit(AnyMember(), request, ForClient(client, [this, &client, ttl_ms, send_us](const WriteResult& result) {
    if (result.outcome == WriteOutcome::kDone) {
      Held& extended = client.held.front();
      if (result.token != extended.token) {
        checker_.Fail("extend changed the token of " + extended.key + " from " +
                      std::to_string(extended.token) + " to " + std::to_string(result.token));
      }
      client.window_end_us = WindowEnd(client, send_us, ttl_ms);
      extended.hold = checker_.Extend(extended.hold, now_us_, client.window_end_us);
    }
    // Failed or not, it goes on until its (possibly new) deadline.
    PlanHold(client);
  }));
}

// ---------------------------------------------------------------- scripts

void World::SubmitTxn(size_t member, std::vector<std::string> keys, TxnBody body,
                      std::function<void(const WriteResult&)> on_result) {
  const uint64_t id = next_request_id_++;
  ++report_.scripts;
  std::string names;
  for (const std::string& key : keys) names += " " + key;
  Log("script " + std::to_string(id) + " to member " + std::to_string(member) + ":" + names);
  waiting_[id] = [this, on_result = std::move(on_result)](const WriteResult& result) {
    if (result.outcome == WriteOutcome::kDone) ++report_.scripts_done;
    on_result(result);
  };
  TxnRequest request;
  request.request_id = id;
  request.keys = std::move(keys);
  request.body = std::move(body);
  const int incarnation = members_[member].incarnation;
  At(now_us_ + Uniform(50, 400), [this, member, incarnation, request] {
    OnMember(member, incarnation, [this, member, request](cluster::Node& node) {
      const cluster::Time now = LocalTime(members_[member]);
      TxnRequest submitted = request;
      if (submitted.keys.size() == 1) {
        // As the server does: a dry run on the member's own table says
        // whether the script will likely only read; then the round peeks
        // first. (The dry run's decision is never the one acted on: a kDone
        // comes from a run in the cluster, which runs after it.)
        std::vector<cluster::LeaseView> leases(1);
        if (const cluster::Register* reg = node.table().FindHeld(submitted.keys[0], now.mono_ms)) {
          leases[0] = {true, reg->owner.str(), reg->token, reg->RemainingMs(now.mono_ms)};
        }
        const std::vector<TxnWrite> writes = submitted.body(
            TxnView{submitted.keys, leases, node.acceptor().token_counter(), now.wall_ms});
        submitted.peek_first =
            std::none_of(writes.begin(), writes.end(), [](const TxnWrite& w) { return w.write; });
      }
      node.SubmitTxn(std::move(submitted), now);
    });
  });
  // As for a write: a client gives up on a script its member never answers.
  const int64_t timeout_us = (3 * options_.round_timeout_ms + 200) * 1000;
  At(now_us_ + timeout_us, [this, id] {
    const auto it = waiting_.find(id);
    if (it == waiting_.end()) return;
    auto give_up = std::move(it->second);
    waiting_.erase(it);
    WriteResult unknown;
    unknown.request_id = id;
    unknown.outcome = WriteOutcome::kNoQuorum;
    unknown.detail = "client timeout";
    give_up(unknown);
  });
}

// Takes every key if all are free, with tokens from the largest counter the
// promises reported (and the wall-clock floor), as a LOCK would; else
// writes nothing. Success is kDone from the run that decided to write.
void World::ScriptAcquire(Client& client, std::vector<std::string> keys) {
  for (const std::string& key : keys) client.held.push_back({key, 0, -1});
  auto plan = std::make_shared<ScriptPlan>();
  TxnBody body = [plan, owner = client.owner, ttl_ms = client.ttl_ms,
                  ignore_holder = options_.broken_script == SimOptions::BrokenScript::kIgnoreHolder](
                     const TxnView& view) {
    ++plan->runs;
    std::vector<TxnWrite> writes(view.keys.size());
    plan->wrote = ignore_holder ||
                  std::none_of(view.leases.begin(), view.leases.end(),
                               [](const cluster::LeaseView& lease) { return lease.held; });
    plan->tokens.assign(view.keys.size(), 0);
    if (!plan->wrote) return writes;
    uint64_t token = view.counter_max;
    for (size_t i = 0; i < writes.size(); ++i) {
      token = cluster::NextToken(token, view.wall_ms);
      writes[i] = {true, true, owner, token, ttl_ms, /*grants=*/true};
      plan->tokens[i] = token;
    }
    return writes;
  };
  const std::string kind = keys.size() == 1 ? "acquire" : "acquire2";
  ++report_.script_kinds[kind];
  SubmitTxn(AnyMember(), std::move(keys), std::move(body),
            ForClient(client, [this, &client, plan, kind](const WriteResult& result) {
              if (result.outcome != WriteOutcome::kDone || !plan->wrote) {
                return ClientIdle(client, Uniform(1'000, 50'000));
              }
              ++report_.script_kinds[kind + ":took"];
              client.window_end_us = WindowEnd(client, client.send_us, client.ttl_ms);
              for (size_t i = 0; i < client.held.size(); ++i) {
                Held& held = client.held[i];
                held.token = plan->tokens[i];
                held.hold = checker_.Grant(held.key, client.id, held.token, now_us_,
                                           client.window_end_us);
                ++report_.script_holds;
              }
              PlanHold(client);
            }));
}

// Frees each key the client still holds (same owner, same token).
void World::ScriptRelease(Client& client) {
  std::vector<std::string> keys;
  std::vector<uint64_t> tokens;
  for (const Held& held : client.held) {
    keys.push_back(held.key);
    tokens.push_back(held.token);
  }
  auto plan = std::make_shared<ScriptPlan>();
  TxnBody body = [plan, owner = client.owner, tokens](const TxnView& view) {
    ++plan->runs;
    std::vector<TxnWrite> writes(view.keys.size());
    plan->freed.assign(view.keys.size(), false);
    plan->wrote = false;
    for (size_t i = 0; i < writes.size(); ++i) {
      const cluster::LeaseView& lease = view.leases[i];
      if (!lease.held || lease.owner != owner || lease.token != tokens[i]) continue;
      writes[i].write = true;  // Free.
      plan->freed[i] = true;
      plan->wrote = true;
    }
    return writes;
  };
  const std::vector<Held> held = client.held;
  ++report_.script_kinds["release"];
  SubmitTxn(AnyMember(), std::move(keys), std::move(body),
            ForClient(client, [this, &client, plan, held](const WriteResult& result) {
              if (result.outcome == WriteOutcome::kDone) {
                if (plan->wrote) ++report_.script_kinds["release:freed"];
                for (size_t i = 0; i < held.size(); ++i) {
                  if (!plan->freed[i]) continue;
                  CheckReleased(held[i].key, held[i].token, result.request_id);
                }
              }
              ClientIdle(client, Uniform(1'000, 30'000));
            }));
}

// Renews every key if the client holds them all: same owner and token, the
// new ttl, never shorter than what the lease had left (carried over, as
// EXTEND and the server's scripts do: a renewal that reaches only some
// members must not leave a copy shorter than the holder's deadline).
void World::ScriptExtend(Client& client) {
  // The broken variant asks for short renewals, which are what it gets wrong.
  const bool shorten = options_.broken_script == SimOptions::BrokenScript::kShortenRenewals;
  const int64_t ttl_ms = shorten ? 20 : Uniform(20, options_.max_lease_ms);
  const int64_t send_us = now_us_;
  std::vector<std::string> keys;
  std::vector<uint64_t> tokens;
  for (const Held& held : client.held) {
    keys.push_back(held.key);
    tokens.push_back(held.token);
  }
  auto plan = std::make_shared<ScriptPlan>();
  TxnBody body = [plan, owner = client.owner, tokens, ttl_ms, drift = options_.drift,
                  max_lease_ms = options_.max_lease_ms,
                  shorten = options_.broken_script == SimOptions::BrokenScript::kShortenRenewals](
                     const TxnView& view) {
    ++plan->runs;
    std::vector<TxnWrite> writes(view.keys.size());
    plan->wrote = true;
    for (size_t i = 0; i < writes.size(); ++i) {
      const cluster::LeaseView& lease = view.leases[i];
      if (!lease.held || lease.owner != owner || lease.token != tokens[i]) plan->wrote = false;
    }
    if (!plan->wrote) return writes;
    for (size_t i = 0; i < writes.size(); ++i) {
      const int64_t kept_ms = cluster::CarriedOverMs(view.leases[i].remaining_ms, drift, max_lease_ms);
      writes[i] = {true, true, owner, tokens[i], shorten ? ttl_ms : std::max(ttl_ms, kept_ms),
                   /*grants=*/true};
    }
    return writes;
  };
  ++report_.script_kinds["extend"];
  SubmitTxn(AnyMember(), std::move(keys), std::move(body),
            ForClient(client, [this, &client, plan, ttl_ms, send_us](const WriteResult& result) {
              if (result.outcome == WriteOutcome::kDone && plan->wrote) {
                ++report_.script_kinds["extend:renewed"];
                client.window_end_us = WindowEnd(client, send_us, ttl_ms);
                for (Held& held : client.held) {
                  held.hold = checker_.Extend(held.hold, now_us_, client.window_end_us);
                }
              }
              // Failed or not, it goes on until its (possibly new) deadline.
              PlanHold(client);
            }));
}

void World::CountNodeStats(const cluster::Node& node) {
  const cluster::TxnStats& stats = node.txn_coordinator().stats();
  report_.txn["started"] += stats.started;
  report_.txn["retried"] += stats.retried;
  report_.txn["committed"] += stats.committed;
  report_.txn["read-only"] += stats.read_only;
  report_.txn["peeks"] += stats.peeks;
  report_.txn["peek-answers"] += stats.peek_answers;
  report_.txn["written-back"] += stats.written_back;
  report_.txn["torn"] += stats.torn;
  report_.txn["carried-on"] += stats.carried_on;
  report_.txn["rollbacks"] += stats.rollbacks;
  report_.txn["rerun-unchanged"] += stats.rerun_unchanged;
  report_.txn["timed-out"] += stats.timed_out;
  const cluster::CoordinatorStats& rounds = node.coordinator().stats();
  report_.rounds["started"] += rounds.rounds_started;
  report_.rounds["retried"] += rounds.rounds_retried;
  report_.rounds["fast"] += rounds.fast_rounds;
  report_.rounds["fast-refused"] += rounds.fast_rounds_refused;
}

void World::CheckReleased(const std::string& key, uint64_t token, uint64_t request_id) {
  const auto it = answered_epoch_.find(request_id);
  if (it == answered_epoch_.end()) return;  // Not answered by a member: the client gave up.
  // The release's round ran under the answering member's configuration or
  // one a little older (a round keeps the one it started under while its
  // member adopts newer ones): free on a majority of one of them.
  const uint64_t epoch = it->second;
  for (uint64_t older = 0; older <= 2 && older < epoch; ++older) {
    const auto voters = voters_by_epoch_.find(epoch - older);
    if (voters == voters_by_epoch_.end()) continue;
    const auto count = static_cast<size_t>(std::popcount(voters->second));
    if (FreeMembers(key, token, voters->second) >= cluster::MajorityOf(count)) return;
  }
  const uint32_t voters = voters_by_epoch_[epoch];
  checker_.Released(key, token, FreeMembers(key, token, voters), static_cast<size_t>(std::popcount(voters)),
                    now_us_);
}

void World::ChangeMembership() {
  const auto index = static_cast<size_t>(Uniform(0, static_cast<int64_t>(Processes()) - 1));
  Member& member = members_[index];
  if (!member.node) return;
  const cluster::Membership config = member.node->membership();
  using Kind = cluster::MembershipRequest::Kind;
  cluster::MembershipRequest request;
  request.kind = Kind::kSettle;
  const auto id = static_cast<cluster::MemberId>(Uniform(0, static_cast<int64_t>(Processes()) - 1));
  switch (Uniform(0, 5)) {
    case 0:
    case 1:
      // Five voters at most; a removed member's id may come back.
      if (!config.IsMember(id) && config.voter_count() < 5) request.kind = Chance(0.7) ? Kind::kAddVoter : Kind::kAddLearner;
      break;
    case 2:
    case 3:
      if (config.IsMember(id)) request.kind = Kind::kRemove;
      break;
    case 4:
      if (config.IsLearner(id) && config.voter_count() < 5) request.kind = Kind::kPromote;
      if (config.IsVoter(id)) request.kind = Kind::kDemote;
      break;
    default:
      break;
  }
  request.member = id;
  request.request_id = next_request_id_++;
  const char* names[] = {"add", "add-learner", "remove", "promote", "demote", "settle"};
  const std::string name = names[static_cast<int>(request.kind)];
  Log("membership change " + std::to_string(request.request_id) + " at member " + std::to_string(index) +
      ": " + name + " " + std::to_string(id) + " (it has epoch " + std::to_string(config.epoch) + ")");
  ++report_.changes["membership: " + name];
  waiting_[request.request_id] = [this](const WriteResult& result) {
    static const char* const kOutcomes[] = {"done", "refused", "no quorum", "try again"};
    ++report_.changes[std::string("membership: ") + kOutcomes[static_cast<int>(result.outcome)]];
  };
  OnMember(index, member.incarnation, [this, index, request](cluster::Node& node) {
    node.ChangeMembership(request, LocalTime(members_[index]));
  });
}

void World::RequestChange(size_t at, cluster::MembershipRequest request,
                          std::function<void(const WriteResult&)> then) {
  if (!members_[at].node) return;
  request.request_id = next_request_id_++;
  Log("membership change " + std::to_string(request.request_id) + " at member " + std::to_string(at) +
      ": kind " + std::to_string(static_cast<int>(request.kind)) + " member " + std::to_string(request.member));
  waiting_[request.request_id] = [this, then = std::move(then)](const WriteResult& result) {
    static const char* const kOutcomes[] = {"done", "refused", "no quorum", "try again"};
    ++report_.changes[std::string("membership: ") + kOutcomes[static_cast<int>(result.outcome)]];
    then(result);
  };
  OnMember(at, members_[at].incarnation, [this, at, request](cluster::Node& node) {
    node.ChangeMembership(request, LocalTime(members_[at]));
  });
}

World::Roles World::RolesNow() {
  // From the configuration a member has (any: they converge).
  Roles roles;
  roles.asker = static_cast<size_t>(Uniform(0, static_cast<int64_t>(Processes()) - 1));
  const cluster::Membership config = members_[roles.asker].node->membership();
  roles.epoch = config.epoch;
  for (size_t i = 0; i < Processes(); ++i) {
    if (config.IsVoter(static_cast<cluster::MemberId>(i))) roles.voters.push_back(i);
    if (!config.IsMember(static_cast<cluster::MemberId>(i))) roles.spares.push_back(i);
  }
  return roles;
}

bool World::HasThreeVoters(const Roles& roles) {
  using Kind = cluster::MembershipRequest::Kind;
  if (roles.voters.size() == 3) return true;
  // Back to three voters first: a spare added, or a voter removed.
  if (roles.voters.size() < 3 && !roles.spares.empty() && roles.epoch != 0) {
    RequestChange(roles.asker, {0, Kind::kAddVoter, static_cast<cluster::MemberId>(roles.spares[0])},
                  [](const WriteResult&) {});
  } else if (roles.voters.size() > 3) {
    RequestChange(roles.asker, {0, Kind::kRemove, static_cast<cluster::MemberId>(roles.voters[0])},
                  [](const WriteResult&) {});
  }
  return false;
}

void World::ReplaceTheWriters() {
  using Kind = cluster::MembershipRequest::Kind;
  Roles roles = RolesNow();
  std::vector<size_t>& voters = roles.voters;
  const std::vector<size_t>& spares = roles.spares;
  const int64_t cycle_us = Uniform(1'500'000, 2'500'000);
  At(now_us_ + cycle_us, [this] { ScenarioTick(); });
  if (!HasThreeVoters(roles) || spares.empty()) return;
  ++report_.faults["scenario"];
  std::shuffle(voters.begin(), voters.end(), rng_);
  const size_t cut = voters[0];
  const size_t writer_a = voters[1];
  const size_t writer_b = voters[2];
  const size_t spare = spares[static_cast<size_t>(Uniform(0, static_cast<int64_t>(spares.size()) - 1))];
  // The cut voter's clients keep using it: it must learn the changes.
  CutOff({cut});
  clients_cut_[cut] = false;
  At(now_us_ + Uniform(200'000, 400'000), [this, cut, writer_a, writer_b, spare] {
    HealAll();
    if (Chance(0.5)) CutOff({cut});  // Sometimes it stays cut through the changes.
    clients_cut_[cut] = false;
    const auto member = [](size_t i) { return static_cast<cluster::MemberId>(i); };
    RequestChange(writer_a, {0, Kind::kAddVoter, member(spare)},
                  [this, writer_a, writer_b, spare, member](const WriteResult& added) {
      if (added.outcome != WriteOutcome::kDone) return HealAll();
      RequestChange(writer_b, {0, Kind::kRemove, member(writer_a)},
                    [this, writer_b, spare, member](const WriteResult& removed) {
        if (removed.outcome != WriteOutcome::kDone) return HealAll();
        RequestChange(spare, {0, Kind::kRemove, member(writer_b)},
                      [this](const WriteResult&) { At(now_us_ + Uniform(0, 300'000), [this] { HealAll(); }); });
      });
    });
  });
}

void World::WipeTheRemoved() {
  using Kind = cluster::MembershipRequest::Kind;
  const auto member = [](size_t i) { return static_cast<cluster::MemberId>(i); };
  Roles roles = RolesNow();
  std::vector<size_t>& voters = roles.voters;
  const int64_t stale_us =
      1000 * cluster::StaleStateLifeMs(options_.max_lease_ms, options_.drift, options_.round_timeout_ms);
  if (!HasThreeVoters(roles)) {  // The wiped members are added again.
    At(now_us_ + Uniform(500'000, 1'000'000), [this] { ScenarioTick(); });
    return;
  }
  ++report_.faults["scenario"];
  std::shuffle(voters.begin(), voters.end(), rng_);
  const size_t keeper = voters[0];
  const size_t a = voters[1];
  const size_t b = voters[2];
  // Long enough for the two to finish any first-start check, quarantine
  // and recovery they could finish without the keeper.
  const int64_t cut_us = 3 * stale_us + Uniform(500'000, 1'500'000);
  At(now_us_ + cut_us + 3'000'000, [this] { ScenarioTick(); });
  // Half the time `a` is down (its dir kept) while it is removed, and comes
  // back after `b` is wiped, knowing only the configuration it left: it
  // must not tell `b` a configuration they are a majority of.
  const bool missed = Chance(0.5);
  if (missed) Crash(a, Uniform(600'000, 900'000));
  RequestChange(keeper, {0, Kind::kRemove, member(a)}, [this, keeper, a, b, cut_us, member, missed](const WriteResult& r) {
    if (r.outcome != WriteOutcome::kDone) return;
    RequestChange(keeper, {0, Kind::kRemove, member(b)}, [this, keeper, a, b, cut_us, missed](const WriteResult& r2) {
      if (r2.outcome != WriteOutcome::kDone) return;
      CutOff({keeper});
      clients_cut_[keeper] = false;  // Its clients keep using it.
      if (!missed && members_[a].node) Crash(a, Uniform(50'000, 200'000), /*disk_lost=*/true);
      if (members_[b].node) Crash(b, Uniform(50'000, 200'000), /*disk_lost=*/true);
      At(now_us_ + cut_us, [this] { HealAll(); });
    });
  });
}

size_t World::FreeMembers(const std::string& key, uint64_t token, uint32_t voters) {
  size_t free_members = 0;
  for (size_t i = 0; i < members_.size(); ++i) {
    const Member& member = members_[i];
    if (!cluster::Membership::Has(voters, static_cast<cluster::MemberId>(i))) continue;
    if (!member.node) {
      ++free_members;  // A member that is down holds nothing.
      continue;
    }
    const cluster::Register* reg = member.node->table().FindHeld(key, LocalTime(member).mono_ms);
    if (reg == nullptr || reg->token != token) ++free_members;
  }
  return free_members;
}

void World::Probe(size_t member, int attempt) {
  // After the faults stop, an uncontended LOCK through every member must
  // succeed within a few seconds: the cluster makes progress again.
  constexpr int kAttemptsMax = 30;
  if (attempt == kAttemptsMax) {
    checker_.Fail("liveness: LOCK through member " + std::to_string(member) +
                  " did not succeed after the faults stopped (" + std::to_string(kAttemptsMax) +
                  " attempts)");
    return;
  }
  WriteRequest request;
  request.op = WriteOp::kLock;
  request.key = "probe" + std::to_string(member);
  request.owner = "probe";
  request.ttl_ms = options_.max_lease_ms;
  Submit(member, request, [this, member, attempt](const WriteResult& result) {
    if (result.outcome == WriteOutcome::kDone) return;
    At(now_us_ + 100'000, [this, member, attempt] { Probe(member, attempt + 1); });
  });
}

SimReport World::Run() {
  for (size_t i = 0; i < Processes(); ++i) AfterNodeCall(i);
  for (auto& client : clients_) ClientIdle(*client, Uniform(0, 20'000));
  if (faults_on_) At(100'000, [this] { FaultTick(); });
  if (faults_on_ && options_.scenario != SimOptions::Scenario::kNone) {
    // Once the new cluster votes (each member first checks that a majority
    // of the others are new too).
    At(Uniform(500'000, 1'000'000), [this] { ScenarioTick(); });
  }
  At(options_.fault_phase_ms * 1000, [this] { EndFaults(); });
  const int64_t end_us = (options_.fault_phase_ms + options_.quiet_phase_ms) * 1000 + 2'000'000;
  while (!events_.empty() && events_.top().at_us <= end_us) {
    Event event = events_.top();
    events_.pop();
    now_us_ = event.at_us;
    ++report_.events;
    event.run();
  }
  for (const Member& member : members_) {
    if (member.node) CountNodeStats(*member.node);
  }
  report_.holds = checker_.holds();
  report_.violations = checker_.violations();
  report_.ok = checker_.ok();
  return report_;
}

}  // namespace

SimReport RunSimulation(const SimOptions& options) { return World(options).Run(); }

SimOptions OptionsForSeed(uint64_t seed) {
  std::mt19937_64 rng(seed ^ 0x5eed5eed5eedull);
  SimOptions options;
  options.seed = seed;
  options.members = rng() % 5 < 2 ? 5 : 3;
  options.clients = 3 + rng() % 4;
  options.keys = 1 + rng() % 3;
  options.whole_cluster_crashes = rng() % 8 == 0;
  // A third of the seeds run members with appendonly yes: all of them, or
  // about half (a mixed cluster).
  if (rng() % 3 == 0) options.appendonly_share = rng() % 2 == 0 ? 1.0 : 0.5;
  options.one_turn_after_pause = rng() % 2 == 0;
  return options;
}

SimReport RunSeed(uint64_t seed) { return RunSimulation(OptionsForSeed(seed)); }

SimOptions OptionsForMembershipChanges(uint64_t seed) {
  SimOptions options = OptionsForSeed(seed);
  options.members = seed % 4 == 0 ? 1 : 3;
  options.spares = 2;
  options.membership_changes = 0.12;
  return options;
}

SimOptions OptionsForScenario(SimOptions::Scenario scenario, uint64_t seed) {
  SimOptions options;
  options.seed = seed;
  options.keys = 1;
  options.clients = 3;
  options.owner_reuse = 1.0;
  options.rates = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0};  // Only the scenario's faults.
  options.scenario = scenario;
  switch (scenario) {
    case SimOptions::Scenario::kCrashAllButOneOfTheWriters:
    case SimOptions::Scenario::kCrashAndWipeTheWriters:
      options.members = 5;
      options.clients = 5;
      break;
    case SimOptions::Scenario::kCleanRestartAfterARelease:
      options.brief_holds = true;
      break;
    case SimOptions::Scenario::kReplaceTheWriters:
      options.spares = 2;
      options.clients = 4;
      break;
    default:
      break;
  }
  return options;
}

SimOptions OptionsForSharedOwner(uint64_t seed) {
  SimOptions options;
  options.seed = seed;
  options.members = seed % 3 == 0 ? 5 : 3;
  options.clients = 3 + seed % 3;
  options.keys = 1;
  options.shared_owner = true;
  options.scripts = false;
  // Holds of a few ms on leases of seconds: every release is decided long
  // before its lease could end. (One whose lease ran out first would end
  // the next holder's, on Redis too: a shared value cannot tell them apart.)
  options.brief_holds = true;
  options.max_lease_ms = 3000;
  options.rates = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0};  // The network's faults only.
  return options;
}

namespace {
constexpr std::pair<SimOptions::Scenario, const char*> kScenarioNames[] = {
    {SimOptions::Scenario::kCrashAllButOneOfTheWriters, "crash-all-but-one"},
    {SimOptions::Scenario::kCrashAndWipeTheWriters, "crash-and-wipe-the-writers"},
    {SimOptions::Scenario::kCleanRestartWithClockStep, "clean-restart-clock-step"},
    {SimOptions::Scenario::kCleanRestartAfterARelease, "clean-restart-after-release"},
    {SimOptions::Scenario::kLinkBacklog, "link-backlog"},
    {SimOptions::Scenario::kReplacedDisk, "replaced-disk"},
    {SimOptions::Scenario::kReplaceTheWriters, "replace-the-writers"},
    {SimOptions::Scenario::kWipedAfterShrinking, "wiped-after-shrinking"},
};
}  // namespace

std::optional<SimOptions::Scenario> ScenarioNamed(std::string_view name) {
  for (const auto& [scenario, scenario_name] : kScenarioNames) {
    if (name == scenario_name) return scenario;
  }
  return std::nullopt;
}

const char* ScenarioName(SimOptions::Scenario scenario) {
  for (const auto& [known, name] : kScenarioNames) {
    if (known == scenario) return name;
  }
  return "none";
}

}  // namespace lockerd::sim
