// Configurations and epochs at one member (cluster/membership.h): a member
// votes in no round of a configuration older than the one it adopted, tells
// the sender the newer one, asks a sender that knows a newer one, runs its
// own rounds under its configuration's voters, and a round keeps the
// configuration it started under.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cluster/membership.h"
#include "cluster/node.h"
#include "tests/cluster/membership_net.h"

namespace lockerd::cluster {
namespace {

constexpr int64_t kWallMs = 1'700'000'000'000;


class NodeMembership : public ::testing::Test {
 protected:
  void Make(MemberId self, const Membership& membership) {
    NodeOptions options;
    options.membership = membership;
    options.self = self;
    options.max_lease_ms = 10'000;
    node_ = std::make_unique<Node>(options);
    StartFacts facts;
    facts.new_cluster = true;
    node_->Start(facts, now_);
    Outbox();
  }
  // What the member sent, but its probes (message_clocks.h).
  std::vector<Message> Outbox() {
    std::vector<Message> out;
    node_->TakeOutbox(&out);
    std::erase_if(out, [](const Message& message) { return std::holds_alternative<Probe>(message.body); });
    return out;
  }
  Message From(MemberId from, uint64_t epoch, Message::Body body) {
    Message message{from, node_->options().self, std::move(body)};
    message.epoch = epoch;
    return message;
  }
  WriteRequest Lock(const std::string& key) {
    WriteRequest request;
    request.request_id = 7;
    request.key = key;
    request.owner = "me";
    request.ttl_ms = 5000;
    return request;
  }

  std::unique_ptr<Node> node_;
  Time now_{1000, kWallMs};
};

TEST_F(NodeMembership, APrepareOfAnOlderEpochIsRefusedAndTheSenderToldTheNewer) {
  Make(0, Config(2, 0b111));
  node_->Receive(From(1, 1, Prepare{5, "k", {3, 1}}), now_);
  const std::vector<Message> out = Outbox();
  ASSERT_EQ(out.size(), 2u);
  const auto* told = std::get_if<Configuration>(&out[0].body);
  ASSERT_NE(told, nullptr) << "the configuration goes first, so the refusal finds it adopted";
  EXPECT_EQ(told->membership, Config(2, 0b111));
  const auto* refusal = std::get_if<Promise>(&out[1].body);
  ASSERT_NE(refusal, nullptr);
  EXPECT_EQ(refusal->vote, Vote::kStaleEpoch);
  EXPECT_EQ(out[1].epoch, 2u) << "every message carries its sender's epoch";
  EXPECT_EQ(node_->table().Find("k"), nullptr) << "nothing promised";
  EXPECT_EQ(node_->stale_epoch_refusals(), 1u);
}

TEST_F(NodeMembership, AnAcceptOfAnOlderEpochChangesNothing) {
  Make(0, Config(3, 0b111));
  node_->Receive(From(2, 2, Accept{5, "k", {3, 2}, true, "them", 9, 5000, {}}), now_);
  const std::vector<Message> out = Outbox();
  ASSERT_EQ(out.size(), 2u);
  const auto* refusal = std::get_if<Accepted>(&out[1].body);
  ASSERT_NE(refusal, nullptr);
  EXPECT_EQ(refusal->vote, Vote::kStaleEpoch);
  EXPECT_EQ(node_->table().Find("k"), nullptr);
  EXPECT_EQ(node_->acceptor().token_counter(), 0u) << "its token counts nowhere";
}

TEST_F(NodeMembership, ALearnOfAnOlderEpochIsStillAChosenValue) {
  Make(0, Config(2, 0b111));
  node_->Receive(From(1, 1, Probe{}), now_);  // Bounds member 1's clock.
  Outbox();
  Message learn = From(1, 1, Learn{"k", {4, 1}, true, "them", 9, 5000, {}});
  learn.stamp = {77, 0, 1, now_.mono_ms};
  node_->Receive(learn, now_);
  const Register* reg = node_->table().Find("k");
  ASSERT_NE(reg, nullptr);
  EXPECT_EQ(reg->accepted, (Ballot{4, 1}));
}

TEST_F(NodeMembership, AMemberBehindVotesAndAsksItsSenderForTheNewerConfiguration) {
  Make(1, Config(1, 0b111));
  node_->Receive(From(0, 2, Prepare{5, "k", {3, 0}}), now_);
  std::vector<Message> out = Outbox();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<ConfigurationQuery>(out[0].body));
  ASSERT_TRUE(std::holds_alternative<Promise>(out[1].body));
  EXPECT_EQ(std::get<Promise>(out[1].body).vote, Vote::kYes)
      << "an acceptor's rules do not depend on the configuration";
  node_->Receive(From(0, 2, Prepare{6, "j", {3, 0}}), now_);
  out = Outbox();
  ASSERT_EQ(out.size(), 1u) << "asked once per epoch";

  node_->Receive(From(0, 2, Configuration{Config(2, 0b1011)}), now_);
  EXPECT_EQ(node_->membership(), Config(2, 0b1011));
  node_->Receive(From(0, 2, Configuration{Config(1, 0b1)}), now_);
  EXPECT_EQ(node_->membership().epoch, 2u) << "an older configuration is never adopted";
  node_->Receive(From(0, 2, Configuration{Config(3, 0b11, 0b10)}), now_);
  EXPECT_EQ(node_->membership().epoch, 2u) << "nor one that is not well formed";
}

TEST_F(NodeMembership, ItsRoundsAskTheVotersOfItsConfigurationAndLearnersHearTheValue) {
  // Voters 0, 2 and 3 (member 1 left), learner 4.
  Make(0, Config(5, 0b1101, 0b10000));
  node_->Submit(Lock("k"), now_);
  std::vector<Message> out = Outbox();
  std::vector<MemberId> asked;
  for (const Message& message : out) {
    ASSERT_TRUE(std::holds_alternative<Prepare>(message.body));
    EXPECT_EQ(message.epoch, 5u);
    asked.push_back(message.to);
  }
  EXPECT_EQ(asked, (std::vector<MemberId>{2, 3})) << "its own promise is delivered at once";
  const Prepare prepare = std::get<Prepare>(out[0].body);
  Promise yes;
  yes.round_id = prepare.round_id;
  yes.ballot = prepare.ballot;
  yes.highest = prepare.ballot;
  node_->Receive(From(1, 5, yes), now_);
  EXPECT_TRUE(Outbox().empty()) << "a member that left does not count towards the majority";
  node_->Receive(From(3, 5, yes), now_);
  out = Outbox();
  ASSERT_FALSE(out.empty());
  const Accept accept = std::get<Accept>(out[0].body);
  node_->Receive(From(3, 5, Accepted{accept.round_id, accept.ballot, Vote::kYes, accept.ballot, 0}), now_);
  out = Outbox();
  std::vector<MemberId> learned;
  for (const Message& message : out) {
    if (std::holds_alternative<Learn>(message.body)) learned.push_back(message.to);
  }
  EXPECT_EQ(learned, (std::vector<MemberId>{2, 4})) << "the voter that did not accept, and the learner";
  std::vector<WriteResult> results;
  node_->TakeResults(&results);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kDone);
}

TEST_F(NodeMembership, ARoundKeepsItsConfigurationAndRetriesUnderTheNewerOne) {
  Make(0, Config(1, 0b111));
  node_->Submit(Lock("k"), now_);
  std::vector<Message> out = Outbox();
  ASSERT_EQ(out.size(), 2u);
  const Prepare first = std::get<Prepare>(out[0].body);
  // Member 1 moved on to epoch 2 (member 3 joined): its refusal comes after
  // the configuration.
  node_->Receive(From(1, 2, Configuration{Config(2, 0b1111)}), now_);
  EXPECT_EQ(node_->membership().epoch, 2u);
  Promise refusal;
  refusal.round_id = first.round_id;
  refusal.ballot = first.ballot;
  refusal.vote = Vote::kStaleEpoch;
  node_->Receive(From(1, 2, refusal), now_);
  Promise no = refusal;
  no.vote = Vote::kStaleEpoch;
  node_->Receive(From(2, 2, no), now_);
  out = Outbox();
  std::vector<MemberId> asked;
  for (const Message& message : out) {
    if (const auto* prepare = std::get_if<Prepare>(&message.body)) {
      EXPECT_EQ(message.epoch, 2u);
      EXPECT_GT(prepare->ballot, first.ballot);
      asked.push_back(message.to);
    }
  }
  EXPECT_EQ(asked, (std::vector<MemberId>{1, 2, 3})) << "the retry asks the new configuration's voters";
}

TEST_F(NodeMembership, AMemberAloneThatGainsAVoterWritesThroughRounds) {
  Make(0, Config(1, 0b1));
  node_->Submit(Lock("k"), now_);
  std::vector<WriteResult> results;
  node_->TakeResults(&results);
  ASSERT_EQ(results.size(), 1u) << "alone: decided in the call";
  EXPECT_TRUE(node_->AdoptMembership(Config(2, 0b11), now_));
  node_->Submit(Lock("j"), now_);
  node_->TakeResults(&results);
  EXPECT_TRUE(results.empty()) << "two voters: it waits for the other's answers";
  const std::vector<Message> out = Outbox();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].to, 1u);
  EXPECT_GT(node_->table().idle_ms(), 0) << "with others, released keys keep tombstones";
}

}  // namespace
}  // namespace lockerd::cluster
