// Deliberately broken rules, for the checkers' self-tests only: each flag
// makes one rule of CLUSTER-SAFETY.md false, so a test can prove that a
// checker (the simulator's, the explorer's, the fault suite's) notices.
//
// They travel in the node's options (NodeOptions::broken), passed down to
// the parts each flag breaks; there is no process-wide switch. Only tests
// set them: tests/sim, tests/explorer and the fault suite's test-only
// binary (tests/faults/lockerd_broken_main.cc). lockerd itself has no
// setting or flag that reaches them, so every flag is false there.
#pragma once

#include <string>
#include <string_view>

namespace lockerd::cluster {

struct BrokenRules {
  // A member forgets its promises: it accepts a commit below a ballot it
  // promised (its ballot goes down once a promise has been given).
  bool forget_promises = false;
  // A coordinator acts on the first promise and answers success on the
  // first accept, without a majority.
  bool success_without_majority = false;
  // A member restarted without its state votes during its quarantine.
  bool vote_in_quarantine = false;
  // Tokens come from the counter alone, without the wall-clock floor.
  bool token_without_floor = false;
  // A one-round-trip write takes a fresh ballot instead of the step right
  // after the ballot of the state it was decided from, so a competing round
  // can be chosen between the two and then be outranked by it.
  bool fast_write_fresh_ballot = false;
  // A member that is itself recovering answers others' recovery with its
  // empty memory, and the answer counts (finding 1 of issue 14).
  bool sync_answers_while_recovering = false;
  // A clean restart takes the downtime from the wall clock, which may have
  // stepped while the member was down (finding 2).
  bool downtime_from_wall_clock = false;
  // A clean stop saves held leases only, forgetting free registers and
  // their ballots (finding 3).
  bool save_held_leases_only = false;
  // A member applies commits (Accept, Learn) whatever their age, so one
  // delayed past its key's tombstone revives a released lease.
  bool apply_stale_commits = false;
  // A member with an empty dir in a cluster votes at once, as if the
  // cluster were new, even when it lost its disk.
  bool first_start_votes_at_once = false;
  // A first-start check counts the empty answer of a member that is
  // checking too as proof that the cluster is new, although that member may
  // have lost its disk as well (two disks lost at once in five members).
  bool first_start_counts_undecided = false;
  // A pre-empted write's retry decides from what it finds as if no earlier
  // attempt had sent accepts: a DEL carried on by a rival deletes the next
  // holder's lease, and a SET NX whose own grant was carried on answers
  // null (found by the compatibility matrix, issue 15).
  bool retry_forgets_its_accepts = false;
  // A member with the log sends its answers to peers' rounds (promises,
  // accepts) before its turn's changes are durable, as it may its own
  // rounds' proposals: a crash then forgets a vote a coordinator counted.
  bool answers_before_sync = false;
  // A member restarted from its log keeps the promises the log holds, not
  // raising them above the reserve it may have promised up to unsynced.
  bool restart_ignores_round_reserve = false;
  // A membership change is recorded settled as it is chosen: the old
  // voters do not write their keys again under the new configuration nor
  // report their floors, so the change after it may leave a majority that
  // never saw a lease of two changes before.
  bool change_without_settling = false;
  // A member votes in rounds of any epoch, not only its own configuration's
  // and newer: an old configuration's round can finish after the next
  // change was chosen.
  bool votes_in_old_epochs = false;
  // A member with an empty dir in a cluster starts from the member list's
  // first configuration (epoch 1, every listed member a voter), as if the
  // configuration had never changed, instead of joining (epoch 0) until a
  // member tells it the configuration or every listed member knows none.
  bool empty_dir_takes_first_configuration = false;
  // A recovery after lost memory counts the empty answer of a member that
  // is checking whether the cluster is new, although that member may have
  // lost its disk too (two memories lost at once).
  bool recovery_counts_undecided = false;
  // A member that joined with an empty dir takes the whole-cluster rule
  // under a configuration it was told as soon as a majority of it is
  // recovering, without hearing from every member of it (one that missed
  // its own removal may have told it an old one).
  bool joined_falls_back_early = false;
};

// The rules by name ("forget-promises", ...), for the test tools' flags:
// sets the named flag in `rules` and returns true, or returns false (and
// changes nothing) for an unknown name. Listed once, in broken.cc.
bool BreakRule(std::string_view name, BrokenRules& rules);
// Every name BreakRule knows, comma-separated.
std::string BrokenRuleNames();
// The names of the flags set in `rules`, comma-separated ("" when none).
std::string BrokenRuleNames(const BrokenRules& rules);

}  // namespace lockerd::cluster
