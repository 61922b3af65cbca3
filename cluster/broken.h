// Deliberately broken rules, for the simulator's self-test only: each flag
// makes one rule of CLUSTER-SAFETY.md false, so a test can prove that the
// simulator's checkers notice. Every flag is false in lockerd; nothing but
// tests/sim sets them.
#pragma once

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
};

// The process-wide flags (all false unless a test sets them).
BrokenRules& Broken();

}  // namespace lockerd::cluster
