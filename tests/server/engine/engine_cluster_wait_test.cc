// LOCK ... WAIT on a cluster: three engines wired by hand, so a test can
// hold back chosen peer messages and make the races a real network makes.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "server/engine/engine.h"
#include "server/commands/command_table.h"
#include "tests/server/engine/engine_fixture.h"
#include "tests/support/resp_reply.h"

namespace lockerd::server {
namespace {

using cluster::Message;

class EngineTrio : public ::testing::Test {
 protected:
  static constexpr size_t kMembers = 3;

  EngineTrio() {
    for (size_t i = 0; i < kMembers; ++i) {
      configs_.push_back(TrioMemberConfig(i));
    }
    for (size_t i = 0; i < kMembers; ++i) {
      engines_.push_back(std::make_unique<Engine>(LockerdCommands(), configs_[i], now_, /*seed=*/i + 1));
    }
  }
  ~EngineTrio() override {
    for (auto& [member, client] : clients_) engines_[member]->RemoveClient(client.get());
  }

  Client& NewClient(size_t member) {
    Engine& engine = *engines_[member];
    clients_.emplace_back(member, std::make_unique<Client>(engine.NextClientId(), "127.0.0.1:5000",
                                                           "127.0.0.1:7000", now_.mono_ms));
    engine.AddClient(clients_.back().second.get());
    return *clients_.back().second;
  }

  void Send(size_t member, Client& client, std::vector<std::string> args) {
    engines_[member]->Execute(client, args, now_);
    EndTurns();
  }

  std::vector<testing::Reply> Take(Client& client) {
    auto replies = testing::ParseReplies(client.reply());
    client.reply().clear();
    return replies;
  }

  // Ends every member's loop turn, as the server does (turn_driver.h), and
  // puts what they send into the network.
  void EndTurns() {
    std::vector<Message> out;
    for (auto& engine : engines_) {
      do {
        engine->EndTurn(now_, driver_, &out);
        network_.insert(network_.end(), out.begin(), out.end());
      } while (engine->HasPendingWork());
    }
  }

  // Delivers messages until none is left that `deliver` lets through; the
  // rest stay in the network.
  void Pump(const std::function<bool(const Message&)>& deliver = [](const Message&) { return true; }) {
    while (true) {
      EndTurns();
      std::vector<Message> held;
      bool delivered = false;
      std::vector<Message> batch;
      batch.swap(network_);
      for (const Message& message : batch) {
        if (!deliver(message)) {
          held.push_back(message);
          continue;
        }
        engines_[message.to]->ReceivePeer(message, now_);
        delivered = true;
      }
      EndTurns();
      held.insert(held.end(), network_.begin(), network_.end());
      network_.swap(held);
      if (!delivered) return;
    }
  }


  cluster::Time now_{0, 1'700'000'000'000};
  std::vector<Config> configs_;
  std::vector<std::unique_ptr<Engine>> engines_;
  BufferedTurnDriver driver_;
  std::vector<std::pair<size_t, std::unique_ptr<Client>>> clients_;
  std::vector<Message> network_;
};

bool IsPromiseTo(const Message& message, cluster::MemberId member) {
  return message.to == member && std::holds_alternative<cluster::Promise>(message.body);
}

TEST_F(EngineTrio, LockIsTakenWhenTheWaitersRoundIsAnsweredByAMajority) {
  Client& holder = NewClient(0);
  Send(0, holder, {"LOCK", "k", "h", "5000"});
  Pump();
  const auto granted = Take(holder);
  ASSERT_EQ(granted.size(), 1u);
  EXPECT_GT(granted[0].integer, 0);
}

// The waiter's round asks the members while the key is held; the holder
// releases before the answers reach the waiter's member, which sees the
// release first. The answers then refuse the waiter on what was true before
// the release; it must try again at once, not wait for a wake-up that has
// already happened (it used to sleep until the old lease would have ended).
TEST_F(EngineTrio, ReleaseSeenWhileTheWaitersRoundIsInFlightIsNotLost) {
  Client& holder = NewClient(0);
  Client& waiter = NewClient(1);
  Send(0, holder, {"LOCK", "k", "h", "5000"});
  Pump();
  const int64_t first = Take(holder).at(0).integer;

  Send(1, waiter, {"LOCK", "k", "w", "5000", "WAIT", "10000"});
  // The waiter's member asks; the members' answers stay on the wire.
  Pump([](const Message& message) { return !IsPromiseTo(message, 1); });
  ASSERT_FALSE(network_.empty()) << "the answers to the waiter's round are held back";
  std::vector<Message> answers;
  answers.swap(network_);
  EXPECT_TRUE(Take(waiter).empty()) << "still asking";

  Send(0, holder, {"RELEASE", "k", "h"});
  Pump();  // The release reaches every member, the waiter's too.
  ASSERT_EQ(Take(holder).at(0).integer, 1);

  network_ = std::move(answers);
  Pump();
  const auto woken = Take(waiter);
  ASSERT_EQ(woken.size(), 1u) << "the waiter got the lock without waiting for the old lease to end";
  EXPECT_GT(woken[0].integer, first);
}

// A member that has run few rounds of its own starts its next round above
// the ballots it has seen from busier peers, so a waiter woken by a busy
// member's release wins at the first attempt instead of being outvoted and
// backing off.
TEST_F(EngineTrio, WokenWaiterOnAQuietMemberWinsAtTheFirstAttempt) {
  Client& holder = NewClient(0);
  Client& waiter = NewClient(1);
  for (int i = 0; i < 50; ++i) {  // Member 0's ballots run far ahead.
    Send(0, holder, {"LOCK", "busy" + std::to_string(i), "h", "5000"});
    Pump();
  }
  Take(holder);
  Send(0, holder, {"LOCK", "k", "h", "5000"});
  Pump();
  const int64_t first = Take(holder).at(0).integer;
  Send(1, waiter, {"LOCK", "k", "w", "5000", "WAIT", "10000"});
  Pump();
  EXPECT_TRUE(Take(waiter).empty()) << "waits";

  const uint64_t retried_before = engines_[1]->node().coordinator().stats().rounds_retried;
  Send(0, holder, {"RELEASE", "k", "h"});
  Pump();
  const auto woken = Take(waiter);
  ASSERT_EQ(woken.size(), 1u);
  EXPECT_GT(woken[0].integer, first);
  EXPECT_EQ(engines_[1]->node().coordinator().stats().rounds_retried, retried_before);
}

// A pipelined write in flight, then a command refused before it runs
// (unknown, wrong arity, NOPERM ...): the refusal is answered after the
// write's reply, or a pipelining client would pair the replies wrongly.
TEST_F(EngineTrio, RefusalsWaitBehindTheRepliesOfWritesInFlight) {
  Client& client = NewClient(0);
  Send(0, client, {"LOCK", "k", "me", "5000"});
  Send(0, client, {"NOSUCHCOMMAND"});
  Send(0, client, {"LOCK", "k"});
  EXPECT_TRUE(Take(client).empty()) << "nothing before the LOCK's own reply";
  Pump();
  const auto replies = Take(client);
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(replies[0].type, testing::Reply::Type::kInteger) << replies[0].text;
  EXPECT_EQ(replies[1].text.rfind("ERR unknown command", 0), 0u) << replies[1].text;
  EXPECT_EQ(replies[2].text.rfind("ERR wrong number of arguments", 0), 0u) << replies[2].text;
}

}  // namespace
}  // namespace lockerd::server
