#include "cluster/broken.h"

namespace lockerd::cluster {
namespace {

struct NamedRule {
  const char* name;
  bool BrokenRules::*flag;
};

constexpr NamedRule kRules[] = {
    {"forget-promises", &BrokenRules::forget_promises},
    {"success-without-majority", &BrokenRules::success_without_majority},
    {"vote-in-quarantine", &BrokenRules::vote_in_quarantine},
    {"token-without-floor", &BrokenRules::token_without_floor},
    {"fast-write-fresh-ballot", &BrokenRules::fast_write_fresh_ballot},
    {"sync-answers-while-recovering", &BrokenRules::sync_answers_while_recovering},
    {"downtime-from-wall-clock", &BrokenRules::downtime_from_wall_clock},
    {"save-held-leases-only", &BrokenRules::save_held_leases_only},
    {"apply-stale-commits", &BrokenRules::apply_stale_commits},
    {"first-start-votes-at-once", &BrokenRules::first_start_votes_at_once},
    {"first-start-counts-undecided", &BrokenRules::first_start_counts_undecided},
    {"retry-forgets-its-accepts", &BrokenRules::retry_forgets_its_accepts},
    {"answers-before-sync", &BrokenRules::answers_before_sync},
    {"restart-ignores-round-reserve", &BrokenRules::restart_ignores_round_reserve},
    {"change-without-settling", &BrokenRules::change_without_settling},
    {"votes-in-old-epochs", &BrokenRules::votes_in_old_epochs},
    {"empty-dir-takes-first-configuration", &BrokenRules::empty_dir_takes_first_configuration},
    {"recovery-counts-undecided", &BrokenRules::recovery_counts_undecided},
    {"joined-falls-back-early", &BrokenRules::joined_falls_back_early},
};

}  // namespace

bool BreakRule(std::string_view name, BrokenRules& rules) {
  for (const NamedRule& rule : kRules) {
    if (name == rule.name) {
      rules.*rule.flag = true;
      return true;
    }
  }
  return false;
}

std::string BrokenRuleNames() {
  std::string names;
  for (const NamedRule& rule : kRules) names += (names.empty() ? "" : ", ") + std::string(rule.name);
  return names;
}

std::string BrokenRuleNames(const BrokenRules& rules) {
  std::string names;
  for (const NamedRule& rule : kRules) {
    if (rules.*rule.flag) names += (names.empty() ? "" : ", ") + std::string(rule.name);
  }
  return names;
}

}  // namespace lockerd::cluster
