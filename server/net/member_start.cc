// Starting from what the last run left in `dir`: the data directory's lock
// and member list, the state file, and the logs that say how the member
// started (the decision itself is cluster::Node::Start).
#include "server/net/server.h"

#include <malloc.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "base/errors.h"
#include "base/log.h"
#include "base/check.h"
#include "protocol/cross_protocol.h"
#include "server/net/net_address.h"
#include "server/net/server_internal.h"

namespace lockerd::server {

bool Server::Restore() {
  // Nothing in dir is read before its lock is held: a second process on
  // one dir would take the first one's running marker for a crash of its
  // own, or save over its state.
  if (const std::string error = data_dir_.Lock(); !error.empty()) {
    Log(LogLevel::kWarning, "Cannot start: %s", error.c_str());
    return false;
  }
  const PreviousRun previous = state_store_.Load();
  if (!previous.log_problem.empty()) {
    Log(LogLevel::kWarning,
        "Cannot start: %s. Move the file away to start as after a crash (a restart quarantine)",
        previous.log_problem.c_str());
    return false;
  }
  // A log the state does not come from is older than that state: it must
  // not be read after a crash of this run.
  if (!previous.from_log) {
    if (const std::string error = state_store_.RemoveLog(); !error.empty()) {
      Log(LogLevel::kWarning, "Cannot start: %s", error.c_str());
      return false;
    }
  }
  // The running marker goes down before anything in dir changes (the member
  // list below): from here on, a stop without a saved state is unclean
  // (with appendonly yes, the log then holds the state).
  // A state loaded from the log stays in it (the marker still says so)
  // until it is saved elsewhere: a start that fails before then leaves
  // the log to be replayed again.
  loaded_from_log_ = previous.from_log;
  if (const std::string error = state_store_.MarkRunning(config_.appendonly || previous.from_log);
      !error.empty()) {
    Log(LogLevel::kWarning, "Cannot start: %s (check the dir setting)", error.c_str());
    return false;
  }
  start_must_quarantine_ = previous.unclean || !previous.problem.empty();
  DataDir::Members members{config_.cluster, config_.cluster.empty() ? "" : config_.advertise};
  bool list_changed = false;
  if (const std::string error = data_dir_.CheckMembers(members, config_.cluster_list_changed, &list_changed);
      !error.empty()) {
    Log(LogLevel::kWarning, "Cannot start: %s", error.c_str());
    // Nothing happened: as it was found (a log's state stays in the log).
    if (!start_must_quarantine_ && !loaded_from_log_) state_store_.ClearRunning();
    return false;
  }
  start_must_quarantine_ = start_must_quarantine_ || list_changed;
  const MembershipFile::Loaded membership = membership_file_.Load();
  if (!membership.problem.empty()) {
    Log(LogLevel::kWarning,
        "Cannot start: %s. It holds the configuration this member adopted and voted for, which it "
        "must not forget: restore it, or empty the dir and start the member as a new one",
        membership.problem.c_str());
    if (!start_must_quarantine_ && !loaded_from_log_) state_store_.ClearRunning();
    return false;
  }
  if (config_.initial_cluster_state == "new" && membership.state) {
    Log(LogLevel::kWarning,
        "initial-cluster-state new is set, and this member's dir holds a configuration: remove the "
        "setting now that the cluster has started. It applies to members started with an empty "
        "dir, and once members have been removed it would let wiped ones form a majority of the "
        "member list");
  }
  cluster::StartFacts facts;
  // A member list changed on purpose (every member stopped, every member
  // started with the new list) renumbers the members: the configuration
  // kept for the old list means nothing under the new one, and every
  // member, old or new, starts from the new list's first configuration
  // (members with an empty dir do). Keeping it would give old and new
  // members different voters under the same epoch.
  if (!list_changed) facts.membership = membership.state;
  facts.unclean = previous.unclean || !previous.problem.empty();
  facts.members_changed = list_changed;
  facts.saved = previous.saved;
  // The monotonic and the boot clock read together, after the loading: a
  // restored lease's time left counts from this instant.
  const Time now = Now();
  if (previous.saved) {
    facts.downtime_ms = ElapsedWithinBoot(previous.saved_at.boot, ReadBootStamp());
    facts.wall_downtime_ms = std::max<int64_t>(0, now.wall_ms - previous.saved_at.wall_ms);
  }
  const cluster::StartReport report = engine_.node().Start(facts, now);
  // From the first start on, the folder holds the configuration.
  const bool membership_changed = engine_.node().TakeMembershipStateChanged();
  if (!facts.membership || membership_changed) {
    if (const std::string error = membership_file_.Save(engine_.node().membership_state()); !error.empty()) {
      Log(LogLevel::kWarning, "Cannot start: %s (check the dir setting)", error.c_str());
      return false;
    }
  }
  engine_.process().leases_loaded = report.leases_loaded;
  engine_.process().unclean_start = report.kind == cluster::StartKind::kUnclean;
  LogStart(report, previous, facts);
  epoch_seen_ = engine_.node().membership().epoch;
  joining_since_ms_ = now.mono_ms;
  was_voting_ = !engine_.node().Quarantined(now);
  if (config_.appendonly) return OpenLog(previous, now);
  if (previous.from_log) {
    // Loaded from the log of an appendonly run, and this run keeps none:
    // the state goes to the state file first, then the log and the
    // marker's word for it go. A crash in between replays the log again,
    // or (the log gone) starts as after a crash.
    std::string error = state_store_.SaveState(engine_.node().Save(now), {now.wall_ms, ReadBootStamp()});
    if (error.empty()) error = state_store_.RemoveLog();
    if (error.empty()) error = state_store_.MarkRunning(false);
    if (!error.empty()) {
      Log(LogLevel::kWarning, "Cannot start: %s", error.c_str());
      return false;
    }
    loaded_from_log_ = false;
  }
  return true;
}

void Server::LogStart(const cluster::StartReport& report, const PreviousRun& previous,
                      const cluster::StartFacts& facts) {
  const auto quarantine_ms = static_cast<long long>(report.quarantine_ms);
  const std::string loaded_from = previous.from_log
      ? state_store_.log_path() + " (the last run logged every change)"
      : state_store_.state_path();
  if (!previous.log_torn_tail.empty()) {
    Log(LogLevel::kWarning,
        "%s: cut off a torn tail after byte %llu (%s): it was never synced, so nothing in it was "
        "answered", state_store_.log_path().c_str(), static_cast<unsigned long long>(previous.log_bytes),
        previous.log_torn_tail.c_str());
  }
  switch (report.kind) {
    case cluster::StartKind::kFirst:
      Log(LogLevel::kNotice, "First start with dir %s", config_.dir.c_str());
      if (report.checking_new) {
        Log(LogLevel::kNotice,
            "Empty dir in a cluster: joining. It asks the listed members for the cluster's "
            "configuration (this member may have lost its disk, after changes), and takes the "
            "member list's own only once every listed member says it knows none (a new cluster)");
      }
      break;
    case cluster::StartKind::kClean:
      Log(LogLevel::kNotice, "Loaded %zu registers (%zu leases) from %s (down for %lld ms by the boot clock)",
          report.registers_loaded, report.leases_loaded, loaded_from.c_str(),
          static_cast<long long>(*facts.downtime_ms));
      break;
    case cluster::StartKind::kCleanAfterReboot:
      Log(LogLevel::kNotice,
          "Loaded %zu registers (%zu leases) from %s, saved before the machine rebooted: the "
          "downtime is unknown, so leases are kept whole",
          report.registers_loaded, report.leases_loaded, loaded_from.c_str());
      break;
    case cluster::StartKind::kUnclean:
      if (facts.members_changed) {
        Log(LogLevel::kWarning,
            "The member list changed on purpose (cluster-list-changed yes): starting as after a "
            "crash, since a lease granted under the old list may still be held");
      } else if (!previous.problem.empty()) {
        Log(LogLevel::kWarning, "Ignoring unreadable state (%s); treating the last stop as unclean",
            previous.problem.c_str());
      } else {
        Log(LogLevel::kWarning, "The last run did not shut down cleanly (%s exists)",
            state_store_.marker_path().c_str());
      }
      break;
  }
  if (report.quarantine_ms > 0) {
    Log(LogLevel::kWarning,
        "Restart quarantine: this member does not vote for %lld ms (locks it granted may still be "
        "held); lock writes need a majority of the other members meanwhile",
        quarantine_ms);
  }
  if (report.recovering) {
    Log(LogLevel::kNotice,
        "Recovering: learning the highest ballots and token counters from a majority of the "
        "members that are not recovering themselves");
  }
}

void Server::NoteVotingState(Time now) {
  const cluster::Node& node = engine_.node();
  if (node.recovery_fallbacks() != fallbacks_seen_) {
    fallbacks_seen_ = node.recovery_fallbacks();
    Log(LogLevel::kWarning,
        "Recovery fell back to the whole-cluster rule: a majority of the members lost their state "
        "at once, so ballots and tokens now start from the wall clock");
  }
  if (node.first_starts_with_history() != first_starts_with_history_seen_) {
    first_starts_with_history_seen_ = node.first_starts_with_history();
    Log(LogLevel::kWarning,
        "The other members have voted before: this member's dir was lost or replaced, so it is "
        "starting as after a crash (quarantine %lld ms, then recovery)",
        static_cast<long long>(node.quarantine_until_ms() - now.mono_ms));
  }
  if (node.first_starts_undecided() != first_starts_undecided_seen_) {
    first_starts_undecided_seen_ = node.first_starts_undecided();
    Log(LogLevel::kWarning,
        "Could not tell within five request rounds whether the cluster is new (a member is down "
        "or not started): starting as after a crash (quarantine %lld ms, then recovery)",
        static_cast<long long>(node.quarantine_until_ms() - now.mono_ms));
  }
  const uint64_t epoch = node.membership().epoch;
  if (epoch != 0 && epoch_seen_ == 0) {
    Log(LogLevel::kNotice, "Joined: the cluster's configuration is epoch %llu (%zu voters)",
        static_cast<unsigned long long>(epoch), node.membership().voter_count());
  }
  epoch_seen_ = epoch;
  constexpr int64_t kJoiningWarnMs = 10'000;
  if (epoch == 0 && !joining_warned_ && now.mono_ms - joining_since_ms_ >= kJoiningWarnMs) {
    joining_warned_ = true;
    Log(LogLevel::kWarning,
        "Still joining after %lld s: no listed member has told this member a configuration, and "
        "not every listed member has answered (%zu of %zu). A new cluster takes the member list's "
        "configuration once they all have; if one will not start, start the others with "
        "initial-cluster-state new (never for a cluster whose members changed)",
        static_cast<long long>(kJoiningWarnMs / 1000),
        node.recovery().answered_count() + node.recovery().recovering_count(),
        static_cast<size_t>(std::popcount(node.membership().voters)));
  }
  const cluster::RecoverySync& recovery = node.recovery();
  if (epoch != 0 && node.membership_state().joined && recovery.recovering() && recovery.Hopeless() &&
      now.mono_ms >= node.quarantine_until_ms() && !recovery.EveryOtherAnswered() &&
      !joined_wait_warned_) {
    joined_wait_warned_ = true;
    std::string waiting;
    cluster::ForEachMember(recovery.others_not_answered(), [&](cluster::MemberId member) {
      waiting += (waiting.empty() ? "" : ", ") +
                 (member < config_.cluster.size() ? config_.cluster[member] : "member " + std::to_string(member));
    });
    Log(LogLevel::kWarning,
        "This member started with an empty dir and was told configuration epoch %llu; most of its "
        "voters are recovering too, and before the whole-cluster rule it waits to hear from every "
        "other voter of it: %s. If they are gone for good, restart this member with "
        "initial-cluster-state new (docs/SPEC.md, \"Membership\")",
        static_cast<unsigned long long>(epoch), waiting.c_str());
  }
  const bool voting = !node.Quarantined(now);
  if (voting && !was_voting_) Log(LogLevel::kNotice, "Quarantine over: this member votes again");
  was_voting_ = voting;
}

}  // namespace lockerd::server
