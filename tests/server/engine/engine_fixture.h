// An engine with in-memory clients and a fake clock: commands in, reply
// bytes out, time advanced by hand. No sockets, no sleeps.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "server/engine/engine.h"
#include "server/commands/command_table.h"
#include "tests/support/resp_reply.h"

namespace lockerd::server {

// The settings of member `self` of a three-member cluster on loopback.
inline Config TrioMemberConfig(size_t self, std::string secret = "secret") {
  Config config;
  config.cluster = {"127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"};
  config.advertise = config.cluster[self];
  config.self_index = self;
  config.cluster_secret = std::move(secret);
  return config;
}

class EngineTest : public ::testing::Test {
 protected:
  static constexpr int64_t kWallMs = 1'700'000'000'000;

  explicit EngineTest(Config config = {}) : config_(std::move(config)), engine_(LockerdCommands(), config_, now_) {}
  ~EngineTest() override {
    for (auto& client : clients_) engine_.RemoveClient(client.get());
  }

  Client& NewClient() {
    clients_.push_back(std::make_unique<Client>(engine_.NextClientId(), "127.0.0.1:5000" +
                                                    std::to_string(clients_.size()),
                                                "127.0.0.1:6379", now_.mono_ms));
    engine_.AddClient(clients_.back().get());
    return *clients_.back();
  }

  void Disconnect(Client& client) {
    engine_.RemoveClient(&client);
    for (auto it = clients_.begin(); it != clients_.end(); ++it) {
      if (it->get() == &client) {
        clients_.erase(it);
        return;
      }
    }
  }

  // Runs a command and returns the replies written so far for this client
  // (none while it is blocked).
  std::vector<testing::Reply> Send(Client& client, std::vector<std::string> args) {
    engine_.Execute(client, args, now_);
    EndTurn();
    return Take(client);
  }

  // The single reply a command gives at once.
  testing::Reply One(Client& client, std::vector<std::string> args) {
    auto replies = Send(client, std::move(args));
    EXPECT_EQ(replies.size(), 1u);
    return replies.empty() ? testing::Reply{} : replies[0];
  }

  std::vector<testing::Reply> Take(Client& client) {
    auto replies = testing::ParseReplies(client.reply());
    client.reply().clear();
    return replies;
  }

  // The end of every loop turn, as the server does it (turn_driver.h),
  // turn after turn until nothing is left for the next.
  void EndTurn() {
    do {
      engine_.EndTurn(now_, driver_, &peer_messages_);
    } while (engine_.HasPendingWork());
  }

  // Moves the clock and fires what is due, as the server's timer does.
  void Advance(int64_t ms) {
    const int64_t until = now_.mono_ms + ms;
    while (true) {
      const auto next = engine_.NextWakeMs();
      if (!next || *next > until) break;
      now_.mono_ms = std::max(now_.mono_ms, *next);
      now_.wall_ms = kWallMs + now_.mono_ms;
      engine_.Tick(now_);
      EndTurn();
    }
    now_.mono_ms = until;
    now_.wall_ms = kWallMs + until;
    engine_.Tick(now_);
    EndTurn();
  }

  Config config_;
  cluster::Time now_{0, kWallMs};
  Engine engine_;
  BufferedTurnDriver driver_;
  std::vector<cluster::Message> peer_messages_;  // None: one member.
  std::vector<std::unique_ptr<Client>> clients_;
};

}  // namespace lockerd::server
