// The explored cluster (explored_cluster.h): the events a state enables,
// what each does to the members, the network and the clients, and the
// digest of a state. Members are called only through Call and Start, so
// that every call is in a member's log and a rebuilt member is the same.
#include "tests/explorer/explored_cluster.h"

#include <algorithm>
#include <bit>
#include <functional>

#include "server/boot_clock.h"
#include "server/append_log.h"
#include "server/state_file.h"

namespace lockerd::explorer {
namespace {

constexpr int64_t kWallEpochMs = 1'790'000'000'000;  // Late 2026, as a wall clock reads.
constexpr int64_t kStartMs = 1000;                   // Real time when the cluster starts.
// A member never ticks more often than this within one event: a timer that
// stays due after its tick is a bug of the member, not a reason to spin.
constexpr int kTicksPerEventMax = 8;
// The settling of the first probes, and of the network after an event
// (kPartitions), ends after this many deliveries: a protocol that keeps
// talking forever without a client or a timer is not explored further.
constexpr int kSettleDeliveriesMax = 10'000;
// Every machine stays in one boot: the boot clock reads real time.
const char* const kBootId = "boot";

void AddMembership(const cluster::Membership& membership, cluster::StateDigest* digest) {
  digest->Add(membership.epoch);
  digest->Add(membership.voters);
  digest->Add(membership.learners);
}

uint64_t DigestBytes(const std::string& bytes) {
  cluster::StateDigest digest;
  digest.Add(bytes);
  return digest.value();
}

// What a crash would leave of the log, and what waits for its sync.
void AddLogState(const ExploredCluster::LogState& log, cluster::StateDigest* digest) {
  digest->Add(log.durable_digest);
  digest->Add(log.queued);
  digest->Add(log.syncing);
  digest->Add(log.messages.size());
  for (const cluster::Message& message : log.messages) digest->Add(DigestMessage(message));
  digest->Add(log.results.size());
  for (const cluster::WriteResult& result : log.results) {
    digest->Add(result.request_id);
    digest->Add(result.outcome);
    digest->Add(result.token);
    digest->Add(result.holder_remaining_ms);
    digest->Add(result.detail);
  }
}

}  // namespace

ExploredCluster::ExploredCluster(const ModelOptions& options,
                                 std::shared_ptr<const std::vector<ClientScript>> scripts)
    : options_(options),
      state_{kStartMs, std::vector<Member>(options.members + options.spares),
             Network(options.fifo_links),
             ExploredClients(std::move(scripts), options.keys, options.drift), options.budgets,
             0, {0, cluster::Membership::Initial(options.members).voters}},
      live_(options.members + options.spares) {
  for (size_t member = 0; member < processes(); ++member) Start(member, false, false);
  TickDue();
  if (options_.settle_probes) Settle();
}

cluster::Time ExploredCluster::TimeOf(size_t member) const {
  const Member& m = state_.members[member];
  const int64_t mono_ms = state_.now_ms + m.mono_origin_ms;
  return {mono_ms, kWallEpochMs + state_.now_ms + m.wall_offset_ms, mono_ms * 1000};
}

cluster::NodeOptions ExploredCluster::OptionsOf(size_t member, int starts) const {
  cluster::NodeOptions node;
  node.membership = cluster::Membership::Initial(options_.members);
  if (state_.members[member].joins) {
    // Epoch 0: it knows no configuration, and asks the other processes
    // (as the simulator's joiners do).
    node.membership.epoch = 0;
    node.membership.voters = ((uint32_t{1} << processes()) - 1) & ~(uint32_t{1} << member);
  }
  node.self = static_cast<cluster::MemberId>(member);
  node.max_lease_ms = options_.max_lease_ms;
  node.drift = options_.drift;
  node.round_timeout_ms = options_.round_timeout_ms;
  // Distinct per process, as a server's random seed and run id are.
  node.seed = options_.seed * 1'000'003 + member * 1009 + static_cast<uint64_t>(starts);
  node.incarnation = (member + 1) * 1000 + static_cast<uint64_t>(starts);
  node.probe_interval_ms = options_.probe_interval_ms;
  node.broken = options_.broken;
  return node;
}

cluster::Node& ExploredCluster::At(size_t member, const CallLog& log, uint64_t digest) {
  const uint64_t rebuilds_before = live_[member].rebuilds();
  cluster::Node& node = live_[member].At(log);
  if (live_[member].rebuilds() != rebuilds_before) {
    cluster::StateDigest rebuilt;
    node.Digest(&rebuilt);
    if (rebuilt.value() != digest) ++replay_mismatches_;
  }
  return node;
}

cluster::Node& ExploredCluster::Make(size_t member, CallBody call, bool* changed) {
  Member& m = state_.members[member];
  cluster::Node& node = At(member, m.log, m.digest);
  NodeCall made{TimeOf(member), std::move(call)};
  *changed = MakeCall(node, made, live_[member].keeps_log());
  ++calls_;
  m.log = Append(m.log, std::move(made));
  live_[member].Advanced(m.log);
  return node;
}

void ExploredCluster::Call(size_t member, CallBody call) {
  bool changed = false;
  cluster::Node& node = Make(member, std::move(call), &changed);
  Collect(member, node, changed);
}

void ExploredCluster::Collect(size_t member, cluster::Node& node, bool changed) {
  std::vector<cluster::Message> outbox;
  node.TakeOutbox(&outbox);
  std::vector<cluster::WriteResult> results;
  node.TakeResults(&results);
  // The member's view first (with its outputs taken, as a replay leaves
  // it): the answers below are judged against it.
  Observe(member, node);
  if (options_.appendonly) {
    state_.members[member].log_state.queued |= changed;
    if (HoldForSync(member, node, &outbox, &results)) return;
  }
  Release(member, outbox, results);
}

bool ExploredCluster::HoldForSync(size_t member, cluster::Node& node,
                                  std::vector<cluster::Message>* outbox,
                                  std::vector<cluster::WriteResult>* results) {
  // As the server's loop turn (Server::OnPrepare): this member's own
  // proposals, and promises within its synced reserve, leave before the
  // turn's changes are synced, so that the members' syncs overlap.
  std::vector<cluster::Message> later;
  for (cluster::Message& message : *outbox) {
    if (node.MaySendBeforeSync(message)) {
      state_.network.Send(message);
    } else {
      later.push_back(std::move(message));
    }
  }
  *outbox = std::move(later);
  LogState& log = state_.members[member].log_state;
  if (log.queued && node.ChangesNeedSync()) {
    if (!SyncsCanBeMet()) {
      Synced(member);
      return false;
    }
    log.syncing = true;
    log.messages = std::move(*outbox);
    log.results = std::move(*results);
    return true;
  }
  // Promises within the reserve may wait in the queue for a later sync (a
  // crash loses them); with nothing queued, everything is durable.
  if (!log.queued) Synced(member);
  return false;
}

bool ExploredCluster::SyncsCanBeMet() const {
  return state_.left.crashes > 0 || state_.left.disk_losses > 0;
}

void ExploredCluster::Synced(size_t member) {
  bool changed = false;
  const cluster::Node& node = Make(member, SyncedCall{}, &changed);
  Observe(member, node);
  Member& m = state_.members[member];
  m.log_state.durable = m.log;
  m.log_state.durable_digest = m.digest;
  m.log_state.queued = false;
  m.log_state.syncing = false;
}

void ExploredCluster::EndSync(size_t member) {
  LogState& log = state_.members[member].log_state;
  const std::vector<cluster::Message> messages = std::move(log.messages);
  const std::vector<cluster::WriteResult> results = std::move(log.results);
  log.messages.clear();
  log.results.clear();
  Synced(member);
  Release(member, messages, results);
}

void ExploredCluster::Release(size_t member, const std::vector<cluster::Message>& outbox,
                              const std::vector<cluster::WriteResult>& results) {
  for (const cluster::Message& message : outbox) state_.network.Send(message);
  const auto free_members = [this, member](const std::string& key, uint64_t token) {
    return FreeFor(member, key, token);
  };
  for (const cluster::WriteResult& result : results) {
    if (state_.clients.AnswersChange(result)) {
      ++change_answers_[static_cast<size_t>(result.outcome) % change_answers_.size()];
    }
    const std::string told = state_.clients.OnResult(result, state_.now_ms, free_members);
    if (!told.empty()) Log("  m" + std::to_string(member) + " answers " + told);
  }
}

void ExploredCluster::Observe(size_t member, const cluster::Node& node) {
  Member& m = state_.members[member];
  // Written before anything the call produced leaves (as the server does):
  // what the disk keeps at every event's end.
  m.membership = node.membership_state();
  const cluster::Membership& adopted = node.membership();
  if (adopted.epoch > 0) {
    std::vector<uint32_t>& voters = state_.voters_by_epoch;
    if (voters.size() <= adopted.epoch) voters.resize(adopted.epoch + 1, 0);
    if (voters[adopted.epoch] == 0) {
      voters[adopted.epoch] = adopted.voters;
    } else if (voters[adopted.epoch] != adopted.voters) {
      state_.clients.Fail("two configurations of epoch " + std::to_string(adopted.epoch) +
                          ": voters mask " + std::to_string(voters[adopted.epoch]) +
                          ", and m" + std::to_string(member) + " adopted voters mask " +
                          std::to_string(adopted.voters));
    }
    max_epoch_ = std::max(max_epoch_, adopted.epoch);
  }
  cluster::StateDigest digest;
  node.Digest(&digest);
  m.digest = digest.value();
  m.wake_ms = node.NextWakeMs();
  m.quarantine_until_ms = node.quarantine_until_ms();
  m.held.clear();
  const cluster::LeaseTable& table = node.table();
  for (size_t slot = 0; slot < table.slot_limit(); ++slot) {
    const cluster::Register* reg = table.RegisterAt(slot);
    if (reg == nullptr || !reg->held) continue;
    m.held.push_back({std::string(table.KeyAt(slot)->view()), reg->token, reg->deadline_ms});
  }
}

size_t ExploredCluster::FreeMembers(const std::string& key, uint64_t token,
                                    uint32_t voters) const {
  size_t free_members = 0;
  for (size_t member = 0; member < state_.members.size(); ++member) {
    if (!cluster::Membership::Has(voters, static_cast<cluster::MemberId>(member))) continue;
    const int64_t mono_ms = TimeOf(member).mono_ms;
    const auto& held = state_.members[member].held;
    free_members += std::none_of(held.begin(), held.end(), [&](const HeldLease& lease) {
      return lease.key == key && lease.token == token && mono_ms <= lease.deadline_ms;
    });
  }
  return free_members;
}

ExploredClients::FreeCount ExploredCluster::FreeFor(size_t member, const std::string& key,
                                                    uint64_t token) const {
  // The release's round ran under the answering member's configuration or
  // one a little older (a round keeps the one it started under while its
  // member adopts newer ones): free on a majority of one of them. As the
  // simulator judges it (World::CheckReleased).
  const std::vector<uint32_t>& by_epoch = state_.voters_by_epoch;
  const std::optional<cluster::MembershipState>& kept = state_.members[member].membership;
  const uint64_t epoch = kept ? kept->adopted.epoch : 1;
  ExploredClients::FreeCount answering;
  for (uint64_t older = 0; older <= 2 && older < epoch; ++older) {
    if (epoch - older >= by_epoch.size() || by_epoch[epoch - older] == 0) continue;
    const uint32_t voters = by_epoch[epoch - older];
    const ExploredClients::FreeCount count{FreeMembers(key, token, voters),
                                           static_cast<size_t>(std::popcount(voters))};
    if (older == 0) answering = count;
    if (count.free >= cluster::MajorityOf(count.members)) return count;
  }
  return answering;
}

void ExploredCluster::Receive(Flight flight) {
  if (log_ != nullptr) Log("  " + DescribeMessage(flight.message));
  const cluster::MemberId to = flight.message.to;
  Call(to, std::move(flight.message));
}

void ExploredCluster::Deliver(size_t index, bool round_trip) {
  Flight flight = state_.network.Take(index);
  const cluster::MemberId from = flight.message.from;
  const cluster::MemberId to = flight.message.to;
  const bool answered = round_trip && from != to && ExpectsReply(flight.message);
  const uint64_t first_new = state_.network.next_seq();
  Receive(std::move(flight));
  if (!answered) return;
  // The answer is the last message on the link back sent by this call;
  // with FIFO links whatever waited on that link before it arrives first.
  uint64_t answer_seq = 0;
  for (const Flight& sent : state_.network.flights()) {
    if (sent.seq >= first_new && sent.message.from == to && sent.message.to == from) {
      answer_seq = sent.seq;
    }
  }
  const uint64_t oldest = options_.fifo_links ? 0 : first_new;
  // A sender that syncs meanwhile takes the rest later.
  while (answer_seq != 0 && !Syncing(from)) {
    const int at = state_.network.FindOnLink(to, from, oldest);
    if (at < 0 || state_.network.flights()[static_cast<size_t>(at)].seq > answer_seq) break;
    Receive(state_.network.Take(static_cast<size_t>(at)));
  }
}

void ExploredCluster::TickDue() {
  for (size_t member = 0; member < state_.members.size(); ++member) {
    for (int i = 0; i < kTicksPerEventMax && !Syncing(member); ++i) {
      const std::optional<int64_t>& wake_ms = state_.members[member].wake_ms;
      if (!wake_ms || *wake_ms > TimeOf(member).mono_ms) break;
      Call(member, TickCall{});
    }
  }
}

bool ExploredCluster::LinkUp(const cluster::Message& message) const {
  return ((state_.isolated >> message.from) & 1) == 0 && ((state_.isolated >> message.to) & 1) == 0;
}

void ExploredCluster::Settle() {
  TickDue();
  for (int delivered = 0; delivered < kSettleDeliveriesMax; ++delivered) {
    const auto& flights = state_.network.flights();
    const auto next = std::find_if(flights.begin(), flights.end(), [this](const Flight& flight) {
      return LinkUp(flight.message) && !Syncing(flight.message.to);
    });
    if (next == flights.end()) return;
    Deliver(static_cast<size_t>(next - flights.begin()), false);
    TickDue();
  }
}

void ExploredCluster::Stop(size_t member, bool clean) {
  Member& m = state_.members[member];
  m.aof = nullptr;
  if (!clean && options_.appendonly) {
    m.aof = DurableLog(member);
    m.disk_digest = DigestBytes(*m.aof);
  }
  // What waited for a sync dies with the process; what left before it
  // stays in flight.
  m.log_state = {};
  if (clean) {
    // What the server's shutdown writes, through the same code.
    const cluster::Time now = TimeOf(member);
    cluster::Node& node = live_[member].At(m.log);
    m.disk = std::make_shared<const std::string>(
        server::EncodeState(node.Save(now), {now.wall_ms, {kBootId, state_.now_ms}}));
    m.disk_digest = DigestBytes(*m.disk);
  }
  const auto id = static_cast<cluster::MemberId>(member);
  state_.network.DropIf([this, id](const cluster::Message& message) {
    return message.to == id || (message.from == id && !LinkUp(message));
  });
  state_.clients.Lost(id);
}

std::shared_ptr<const std::string> ExploredCluster::DurableLog(size_t member) {
  // The log holds the state as of the last sync (what was queued since is
  // lost): as one full record, written (and read back in Start) through the
  // server's code, of the member rebuilt at that sync.
  const Member& m = state_.members[member];
  const cluster::Time now = TimeOf(member);
  const cluster::Node& node = At(member, m.log_state.durable, m.log_state.durable_digest);
  return std::make_shared<const std::string>(server::EncodeLogRecord(
      server::LogBatchOf(node.Save(now), /*full=*/true, {now.wall_ms, {kBootId, state_.now_ms}})));
}

void ExploredCluster::Restart(size_t member, bool clean, bool wall_stepped, bool lose_disk) {
  Stop(member, clean);
  if (lose_disk) {
    Member& m = state_.members[member];
    m.disk = nullptr;
    m.aof = nullptr;
    m.disk_digest = 0;
    // A listed member starts from the list, and with an empty dir joins by
    // itself (Node::Start: epoch 0 until a member tells it the
    // configuration, or every listed member knows none); a spare, never
    // listed, is started to join, as is a member alone in its list once
    // spares may have been added (as the simulator's).
    m.joins = m.joins || member >= options_.members || (options_.members == 1 && options_.spares > 0);
    m.membership.reset();
  }
  // An empty dir has no running marker either: the start is a first one.
  Start(member, wall_stepped, !clean && !lose_disk);
}

void ExploredCluster::Start(size_t member, bool wall_stepped, bool unclean) {
  Member& m = state_.members[member];
  if (wall_stepped) m.wall_offset_ms += options_.wall_step_ms;
  ++m.starts;
  // A new process reads its monotonic clock from another origin.
  m.mono_origin_ms = 100'000 * m.starts + 7'919 * static_cast<int64_t>(member);
  const cluster::Time now = TimeOf(member);
  StartCall start{OptionsOf(member, m.starts), {}};
  // What the server does at startup (server.cc, Restore), from the same
  // bytes and through the same code. The first processes start a new
  // cluster, with nothing to check.
  start.facts.unclean = unclean;
  start.facts.new_cluster = m.starts == 1;
  start.facts.membership = m.membership;
  if (unclean && m.aof) {
    // As StateStore::Load after a crash of a run that kept the log.
    const server::LogContents log = server::ReadLog(*m.aof);
    server::SaveStamp saved_at;
    start.facts.saved = server::ReplayLog(log.batches, &saved_at);
    if (!start.facts.saved || !log.problem.empty()) {
      state_.clients.Fail("log of member " + std::to_string(member) + " unreadable: " + log.problem);
    } else {
      start.facts.unclean = false;
      start.facts.downtime_ms = server::ElapsedWithinBoot(saved_at.boot, {kBootId, state_.now_ms});
      start.facts.wall_downtime_ms = std::max<int64_t>(0, now.wall_ms - saved_at.wall_ms);
    }
  } else if (m.disk) {
    server::SaveStamp saved_at;
    std::string problem;
    start.facts.saved = server::DecodeState(*m.disk, &saved_at, &problem);
    if (!start.facts.saved) {
      state_.clients.Fail("state file of member " + std::to_string(member) +
                          " unreadable: " + problem);
      start.facts.unclean = true;
    } else {
      start.facts.downtime_ms = server::ElapsedWithinBoot(saved_at.boot, {kBootId, state_.now_ms});
      start.facts.wall_downtime_ms = std::max<int64_t>(0, now.wall_ms - saved_at.wall_ms);
    }
  }
  start.keeps_log = options_.appendonly;
  m.log = Append(nullptr, NodeCall{now, std::move(start)});
  ++calls_;
  Collect(member, live_[member].Start(m.log), false);
}

std::vector<int64_t> ExploredCluster::AdvanceTimes() const {
  std::vector<int64_t> times;
  for (size_t member = 0; member < state_.members.size(); ++member) {
    const Member& m = state_.members[member];
    if (m.wake_ms) times.push_back(*m.wake_ms - m.mono_origin_ms);
    times.push_back(m.quarantine_until_ms - m.mono_origin_ms);
  }
  if (options_.step_ms > 0) times.push_back(state_.now_ms + options_.step_ms);
  std::erase_if(times, [this](int64_t at_ms) {
    return at_ms <= state_.now_ms || at_ms > state_.now_ms + options_.horizon_ms;
  });
  std::sort(times.begin(), times.end());
  times.erase(std::unique(times.begin(), times.end()), times.end());
  return times;
}

std::vector<Event> ExploredCluster::Enabled() const {
  std::vector<Event> events;
  const Network& network = state_.network;
  const Budgets& left = state_.left;
  const bool messages = options_.network == NetworkModel::kMessages;
  const auto count = [](size_t n) { return static_cast<int32_t>(n); };
  // A member whose log syncs takes no call, and a clean stop waits for
  // the sync: the sync's end comes first.
  const auto arrives = [&](size_t i) {
    return network.Deliverable(i) && !Syncing(network.flights()[i].message.to);
  };
  const size_t processes = this->processes();
  bool any_syncing = false;
  for (size_t member = 0; member < processes; ++member) any_syncing |= Syncing(member);
  // kPartitions: what reachable members send each other has arrived by the
  // end of every event, and so has every sync but one a crash meets: while
  // syncs are under way, only their ends and crashes can happen.
  const bool only_syncs = !messages && any_syncing;
  for (size_t i = 0; messages && i < network.flights().size(); ++i) {
    if (arrives(i)) events.push_back({EventKind::kDeliver, count(i)});
  }
  for (size_t member = 0; member < processes; ++member) {
    if (Syncing(member)) events.push_back({EventKind::kSync, count(member)});
  }
  for (size_t client = 0; !only_syncs && client < state_.clients.count(); ++client) {
    if (!state_.clients.CanSend(client)) continue;
    const std::optional<cluster::MemberId> via = state_.clients.NextVia(client);
    for (size_t member = 0; member < processes; ++member) {
      if (via && *via != member) continue;
      if (!Syncing(member)) events.push_back({EventKind::kSubmit, count(client), count(member)});
    }
  }
  if (left.timers > 0 && !only_syncs) {
    for (const int64_t at_ms : AdvanceTimes()) events.push_back({EventKind::kAdvance, 0, 0, at_ms});
  }
  if (!messages && left.partitions > 0 && !only_syncs) {
    // Any minority may be the side cut off (a majority cut off from the
    // rest would leave no side that can answer).
    for (uint32_t mask = 0; mask < (uint32_t{1} << processes); ++mask) {
      if (mask != state_.isolated &&
          static_cast<size_t>(std::popcount(mask)) <= (processes - 1) / 2) {
        events.push_back({EventKind::kPartition, static_cast<int32_t>(mask)});
      }
    }
  }
  for (size_t member = 0; member < processes; ++member) {
    const bool can_stop = left.restarts > 0 && !Syncing(member) && !only_syncs;
    if (can_stop) events.push_back({EventKind::kRestart, count(member), 0});
    if (can_stop && left.wall_steps > 0) events.push_back({EventKind::kRestart, count(member), 1});
    if (left.crashes > 0) events.push_back({EventKind::kCrash, count(member)});
    if (left.disk_losses > 0) events.push_back({EventKind::kLoseDisk, count(member)});
  }
  for (size_t i = 0; !only_syncs && i < network.flights().size(); ++i) {
    if (!network.Deliverable(i)) continue;
    const cluster::Message& message = network.flights()[i].message;
    if (messages && left.splits > 0 && options_.round_trips && ExpectsReply(message) &&
        arrives(i)) {
      events.push_back({EventKind::kDeliverOne, count(i)});
    }
    // With partitions, only what waits can be lost: the rest arrived.
    if (left.drops > 0 && (messages || !LinkUp(message))) {
      events.push_back({EventKind::kDrop, count(i)});
    }
  }
  return events;
}

void ExploredCluster::Apply(const Event& event) {
  Budgets& left = state_.left;
  const auto member = static_cast<size_t>(event.a);
  switch (event.kind) {
    case EventKind::kSubmit: {
      const auto via = static_cast<cluster::MemberId>(event.b);
      ClientRequest request = state_.clients.Send(member, via, state_.now_ms);
      std::visit([this, via](auto& sent) { Call(via, std::move(sent)); }, request);
      break;
    }
    case EventKind::kDeliver:
      Deliver(member, options_.round_trips);
      break;
    case EventKind::kDeliverOne:
      --left.splits;
      Deliver(member, false);
      break;
    case EventKind::kDrop:
      --left.drops;
      state_.network.Drop(member);
      break;
    case EventKind::kAdvance:
      --left.timers;
      state_.now_ms = event.at_ms;
      break;
    case EventKind::kRestart:
      --left.restarts;
      if (event.b != 0) --left.wall_steps;
      Restart(member, true, event.b != 0, false);
      break;
    case EventKind::kCrash:
      --left.crashes;
      Restart(member, false, false, false);
      break;
    case EventKind::kLoseDisk:
      --left.disk_losses;
      Restart(member, false, false, true);
      break;
    case EventKind::kPartition:
      --left.partitions;
      state_.isolated = static_cast<uint32_t>(event.a);
      break;
    case EventKind::kSync:
      EndSync(member);
      break;
  }
  // The last crash spent: a sync under way is now only late.
  for (size_t other = 0; !SyncsCanBeMet() && other < processes(); ++other) {
    if (Syncing(other)) EndSync(other);
  }
  if (options_.network == NetworkModel::kPartitions) {
    Settle();
  } else {
    TickDue();
  }
}

std::string ExploredCluster::Describe(const Event& event) const {
  const auto& flights = state_.network.flights();
  const auto message = [&flights](int32_t index) {
    return index >= 0 && static_cast<size_t>(index) < flights.size()
               ? DescribeMessage(flights[static_cast<size_t>(index)].message)
               : std::string("(no such message)");
  };
  const std::string member = "m" + std::to_string(event.a);
  switch (event.kind) {
    case EventKind::kSubmit:
      return state_.clients.DescribeNext(static_cast<size_t>(event.a)) + " through m" +
             std::to_string(event.b);
    case EventKind::kDeliver:
      return "arrives: " + message(event.a);
    case EventKind::kDeliverOne:
      return "arrives, its answer stays in flight: " + message(event.a);
    case EventKind::kDrop:
      return "lost: " + message(event.a) +
             (options_.fifo_links ? " (and the rest of its link)" : "");
    case EventKind::kAdvance:
      return "time passes to " + std::to_string(event.at_ms) + " ms (+" +
             std::to_string(event.at_ms - state_.now_ms) + " ms)";
    case EventKind::kRestart:
      return member + " stops cleanly and starts again" +
             (event.b != 0 ? ", its wall clock stepped " + std::to_string(options_.wall_step_ms) +
                                 " ms forward"
                           : "");
    case EventKind::kCrash:
      return member + " crashes (memory lost) and starts again";
    case EventKind::kLoseDisk:
      return member + " crashes and starts again with an empty dir (memory and disk lost)";
    case EventKind::kPartition: {
      std::string cut;
      for (size_t i = 0; i < processes(); ++i) {
        if ((event.a >> i) & 1) cut += (cut.empty() ? "m" : ", m") + std::to_string(i);
      }
      return cut.empty() ? "the partition heals"
                         : cut + " cut off from the rest (messages to and from them wait)";
    }
    case EventKind::kSync: {
      const LogState& log = state_.members[static_cast<size_t>(event.a)].log_state;
      return member + "'s log sync ends: " + std::to_string(log.messages.size()) +
             " messages and " + std::to_string(log.results.size()) + " answers leave";
    }
  }
  return "?";
}

uint64_t ExploredCluster::Digest() const {
  cluster::StateDigest digest;
  digest.Add(state_.now_ms);
  for (const Member& m : state_.members) {
    digest.Add(m.digest);
    digest.Add(m.mono_origin_ms);
    digest.Add(m.wall_offset_ms);
    digest.Add(m.disk_digest);
    if (options_.appendonly) AddLogState(m.log_state, &digest);
    digest.Add(m.joins);
    digest.Add(m.membership.has_value());
    if (m.membership) {
      AddMembership(m.membership->adopted, &digest);
      digest.Add(m.membership->promised);
      digest.Add(m.membership->accepted);
      AddMembership(m.membership->value.membership, &digest);
      digest.Add(m.membership->value.previous_voters);
      digest.Add(m.membership->value.settled);
      digest.Add(m.membership->joined);
    }
  }
  // Whether syncs end at once is part of what a state does next.
  if (options_.appendonly) digest.Add(SyncsCanBeMet());
  state_.network.Digest(&digest);
  digest.Add(state_.isolated);
  digest.Add(state_.voters_by_epoch.size());
  for (const uint32_t voters : state_.voters_by_epoch) digest.Add(voters);
  state_.clients.Digest(&digest, state_.now_ms);
  return digest.value();
}

uint64_t ExploredCluster::rebuilds() const {
  uint64_t total = 0;
  for (const LiveMember& member : live_) total += member.rebuilds();
  return total;
}

uint64_t ExploredCluster::calls_replayed() const {
  uint64_t total = 0;
  for (const LiveMember& member : live_) total += member.calls_replayed();
  return total;
}

}  // namespace lockerd::explorer
