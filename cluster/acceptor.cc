#include "cluster/acceptor.h"

#include <algorithm>

namespace lockerd::cluster {

bool Acceptor::Quarantined(int64_t now_ms) const {
  if (broken_.vote_in_quarantine) return false;
  return now_ms < quarantine_until_ms_ || !synced_;
}

void Acceptor::Apply(Register& reg, Ballot ballot, bool held, const std::string& owner,
                     uint64_t token, int64_t ttl_ms, int64_t now_ms, Ballot carry_from) {
  reg.written_ms = now_ms;
  if (!held) {
    // A transaction that granted a token and freed the key again carries
    // the token here, so that no later grant is given it again.
    RaiseTokenCounter(token);
    return table_->Free(reg, ballot, now_ms);
  }
  // A renewal (same lease: same token) never shortens the lease here. A
  // renewal can fail after reaching a few members; had it shortened their
  // copies, a later round could choose the shorter one while the holder,
  // told its renewal failed, still counts on the deadline it had.
  int64_t deadline_ms = now_ms + ttl_ms;
  // A write-back of exactly the state this member has (accepted at the
  // ballot it was read at) keeps its deadline: reading a lease through a
  // round must never lengthen it. That holds for a copy already past its
  // deadline too: it stays ended, never revived. Every copy of a state
  // lasts at least as long as its holder counts on, so one that ended here
  // says the holder's time is up; reviving it from a longer copy elsewhere
  // (its write-back inflated for members that lack the state) made two
  // members whose copies end at different times take turns reviving each
  // other, read after read, while nobody held the lock.
  const bool same_state = !carry_from.IsZero() && reg.accepted == carry_from && reg.token == token;
  if (same_state && !reg.HeldAt(now_ms)) {
    RaiseTokenCounter(token);
    return table_->Free(reg, ballot, now_ms);
  }
  if (same_state) {
    deadline_ms = reg.deadline_ms;
  } else if (reg.HeldAt(now_ms) && reg.token == token) {
    // Any other copy of the same lease (an older one, before a renewal)
    // takes the longer of the two.
    deadline_ms = std::max(deadline_ms, reg.deadline_ms);
  }
  table_->Hold(reg, ballot, owner, token, deadline_ms);
  RaiseTokenCounter(token);
}

void Acceptor::OnLearn(const Learn& learn, int64_t now_ms) {
  if (Quarantined(now_ms) || (learn.held && learn.ttl_ms <= 0)) return;
  Register& reg = table_->FindOrCreate(learn.key, now_ms);
  if (learn.ballot <= reg.accepted) return;  // Already has it, or something later.
  Apply(reg, learn.ballot, learn.held, learn.owner, learn.token, learn.ttl_ms, now_ms, learn.carry_from);
  ++stats_.learned;
}

Promise Acceptor::OnPrepare(const Prepare& prepare, int64_t now_ms) {
  Promise reply;
  reply.round_id = prepare.round_id;
  reply.ballot = prepare.ballot;
  reply.token_counter = token_counter_;
  if (Quarantined(now_ms)) {
    ++stats_.quarantine_refusals;
    reply.vote = Vote::kQuarantined;
    reply.quarantine_left_ms = std::max<int64_t>(0, quarantine_until_ms_ - now_ms);
    return reply;
  }
  if (prepare.peek) {
    // What it has accepted, with no promise: the register is not even
    // created for a key it has never seen.
    ++stats_.peeks;
    reply.vote = Vote::kYes;
    if (const Register* reg = table_->Find(prepare.key)) {
      reply.highest = reg->promised;
      reply.accepted = reg->accepted;
      if (reg->HeldAt(now_ms)) reply.lease = {true, reg->owner.str(), reg->token, reg->RemainingMs(now_ms)};
    }
    return reply;
  }
  Register& reg = table_->FindOrCreate(prepare.key, now_ms);
  if (prepare.ballot <= reg.promised) {
    ++stats_.promises_refused;
    reply.vote = Vote::kNo;
    reply.highest = reg.promised;
    return reply;
  }
  table_->SetPromised(reg, prepare.ballot);
  ++stats_.promises_granted;
  reply.vote = Vote::kYes;
  reply.highest = reg.promised;
  reply.accepted = reg.accepted;
  if (reg.HeldAt(now_ms)) {
    reply.lease.held = true;
    reply.lease.owner = reg.owner;
    reply.lease.token = reg.token;
    reply.lease.remaining_ms = reg.RemainingMs(now_ms);
  }
  return reply;
}

Accepted Acceptor::OnAccept(const Accept& accept, int64_t now_ms) {
  Accepted reply;
  reply.round_id = accept.round_id;
  reply.ballot = accept.ballot;
  if (Quarantined(now_ms)) {
    ++stats_.quarantine_refusals;
    reply.vote = Vote::kQuarantined;
    reply.quarantine_left_ms = std::max<int64_t>(0, quarantine_until_ms_ - now_ms);
    return reply;
  }
  if (accept.held && accept.ttl_ms <= 0) {
    ++stats_.malformed;  // A peer's bug or forgery: answered no, never applied.
    reply.vote = Vote::kNo;
    return reply;
  }
  Register& reg = table_->FindOrCreate(accept.key, now_ms);
  if (accept.ballot == reg.accepted && !accept.ballot.IsZero()) {
    // A duplicate commit: already applied. Applying it again would restart
    // the lease (or revive an expired one), so it changes nothing.
    ++stats_.accepts_repeated;
    reply.vote = Vote::kYes;
    reply.highest = reg.promised;
    return reply;
  }
  // Judged now, against what this member has promised since: a commit that
  // waited in a queue while a higher ballot was promised is refused.
  const Ballot promised = broken_.forget_promises ? reg.accepted : reg.promised;
  if (accept.ballot < promised || accept.ballot <= reg.accepted) {
    ++stats_.accepts_refused;
    reply.vote = Vote::kNo;
    reply.highest = reg.promised;
    return reply;
  }
  Apply(reg, accept.ballot, accept.held, accept.owner, accept.token, accept.ttl_ms, now_ms,
        accept.carry_from);
  ++stats_.accepts_applied;
  reply.vote = Vote::kYes;
  reply.highest = reg.promised;
  return reply;
}

}  // namespace lockerd::cluster
