// Five nodes (by default; the first configuration has three voters) on an
// in-order network, for the tests of membership change: messages to or
// from a cut node are lost, `drop` loses chosen ones, and a node can be
// restarted without its memory or without its dir. Each Step delivers
// every message sent so far, then lets a millisecond pass. The simulator
// and the explorer run the same code under faults; these tests pin steps.
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cluster/membership_change.h"
#include "cluster/node.h"

namespace lockerd::cluster {

inline Membership Config(uint64_t epoch, uint32_t voters, uint32_t learners = 0) {
  Membership membership;
  membership.epoch = epoch;
  membership.voters = voters;
  membership.learners = learners;
  return membership;
}

class MembershipNet {
 public:
  using Kind = MembershipRequest::Kind;
  static constexpr int64_t kWallMs = 1'700'000'000'000;

  explicit MembershipNet(size_t nodes = 5, size_t voters = 3, BrokenRules broken = {})
      : voters_(voters), broken_(broken) {
    for (size_t i = 0; i < nodes; ++i) {
      nodes_.push_back(std::make_unique<Node>(Options(i, /*joins=*/false)));
      StartFacts facts;
      facts.new_cluster = true;
      nodes_.back()->Start(facts, Now());
    }
  }

  Node& node(size_t i) { return *nodes_[i]; }
  Time Now() const { return {now_ms_, kWallMs + now_ms_}; }
  void Cut(size_t i) { cut_.insert(i); }
  void Heal(size_t i) { cut_.erase(i); }
  std::function<bool(const Message&)> drop = [](const Message&) { return false; };

  // Disk lost: started again as a member that joins, with an empty dir.
  void LoseDisk(size_t i) {
    ++restarts_;
    nodes_[i] = std::make_unique<Node>(Options(i, /*joins=*/true));
    nodes_[i]->Start(StartFacts{}, Now());
    std::erase_if(wire_, [&](const Message& m) { return m.to == i; });
  }
  // A listed member started with an empty dir, as the server starts one
  // (it joins by itself: Node::Start).
  void StartEmpty(size_t i) {
    ++restarts_;
    nodes_[i] = std::make_unique<Node>(Options(i, /*joins=*/false));
    nodes_[i]->Start(StartFacts{}, Now());
    std::erase_if(wire_, [&](const Message& m) { return m.to == i; });
  }
  // What members started with an empty dir assume (initial-cluster-state).
  NodeOptions::FirstConfiguration first_configuration = NodeOptions::FirstConfiguration::kWhenEveryMemberKnowsNone;
  // A crash without its memory (no log), its configuration kept.
  void RestartUnclean(size_t i) {
    const MembershipState state = nodes_[i]->membership_state();
    ++restarts_;
    nodes_[i] = std::make_unique<Node>(Options(i, /*joins=*/false));
    StartFacts facts;
    facts.unclean = true;
    facts.membership = state;
    nodes_[i]->Start(facts, Now());
    std::erase_if(wire_, [&](const Message& m) { return m.to == i; });
  }

  // Runs until `request_id` is answered at `at` (or `steps` ms pass).
  WriteResult Wait(size_t at, uint64_t request_id, int steps = 20'000) {
    for (int step = 0; step < steps; ++step) {
      std::vector<WriteResult> results;
      nodes_[at]->TakeResults(&results);
      for (const WriteResult& result : results) {
        if (result.request_id == request_id) return result;
      }
      Step();
    }
    ADD_FAILURE() << "request " << request_id << " at member " << at << " was never answered";
    return {};
  }
  uint64_t SubmitLock(size_t at, const std::string& key, const std::string& owner) {
    WriteRequest request;
    request.request_id = ++next_id_;
    request.key = key;
    request.owner = owner;
    request.ttl_ms = 9000;
    nodes_[at]->Submit(request, Now());
    return request.request_id;
  }
  WriteResult Lock(size_t at, const std::string& key, const std::string& owner) {
    return Wait(at, SubmitLock(at, key, owner));
  }
  uint64_t SubmitChange(size_t at, Kind kind, MemberId member) {
    MembershipRequest request;
    request.request_id = ++next_id_;
    request.kind = kind;
    request.member = member;
    nodes_[at]->ChangeMembership(request, Now());
    return request.request_id;
  }
  WriteResult Change(size_t at, Kind kind, MemberId member) { return Wait(at, SubmitChange(at, kind, member)); }

  void Steps(int n) {
    for (int i = 0; i < n; ++i) Step();
  }
  void Step() {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      std::vector<Message> out;
      nodes_[i]->TakeOutbox(&out);
      for (Message& message : out) {
        if (!cut_.contains(i) && !cut_.contains(message.to) && !drop(message)) wire_.push_back(std::move(message));
      }
    }
    std::deque<Message> now;
    now.swap(wire_);
    for (const Message& message : now) {
      if (message.to < nodes_.size()) nodes_[message.to]->Receive(message, Now());
    }
    ++now_ms_;
    for (auto& node : nodes_) node->Tick(Now());
  }

 private:
  // A restarted node gets a seed and an incarnation of its own.
  NodeOptions Options(size_t i, bool joins) {
    NodeOptions options;
    options.membership = Membership::Initial(voters_);
    if (joins) {
      const size_t count = nodes_.size();
      options.membership.epoch = 0;
      options.membership.voters = ((uint32_t{1} << count) - 1) & ~(uint32_t{1} << i);
    }
    options.self = static_cast<MemberId>(i);
    options.max_lease_ms = 10'000;
    options.seed = 100 + i + 17 * restarts_;
    options.incarnation = 1000 + i + 100 * restarts_;
    options.broken = broken_;
    options.first_configuration = first_configuration;
    return options;
  }

  size_t voters_;
  BrokenRules broken_;
  int restarts_ = 0;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::deque<Message> wire_;
  std::set<size_t> cut_;
  int64_t now_ms_ = 1000;
  uint64_t next_id_ = 0;
};

}  // namespace lockerd::cluster
