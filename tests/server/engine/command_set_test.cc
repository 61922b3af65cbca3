// The engine runs the CommandSet it is given and knows no command by name:
// a made-up set of three commands, one of them starting a transaction by
// its TxnRole, is dispatched, refused and queued from the set alone.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/errors.h"
#include "server/engine/command_spec.h"
#include "server/engine/engine.h"
#include "server/engine/turn_driver.h"
#include "tests/support/resp_reply.h"

namespace lockerd::server {
namespace {

using testing::Reply;

void Greet(CommandContext& c) { c.client.writer().WriteSimpleString("hi " + c.args[1]); }
void Begin(CommandContext& c) {
  c.client.StartTransaction().state = Transaction::State::kQueuing;
  c.client.writer().WriteSimpleString("BEGUN");
}
void Queue(Engine&, Client& client, const CommandSpec& spec, std::span<const std::string>) {
  client.writer().WriteSimpleString("held back: " + std::string(spec.name));
}

constexpr CommandSpec kSet[] = {
    {"begin", 1, kFlagFast, 0, 0, 0, 0, "test", "Starts a batch.", "0", {}, Begin, {}, nullptr,
     TxnRole::kMulti},
    {"greet", 2, kFlagFast, 0, 0, 0, 0, "test", "Greets.", "0", {}, Greet},
};

class CommandSetTest : public ::testing::Test {
 protected:
  CommandSetTest()
      : catalog_(std::vector<AclCommand>{{"begin", 0, 0, 0, 0}, {"greet", 0, 0, 0, 0}}),
        commands_{kSet, &catalog_, Queue},
        engine_(commands_, Config{}, now_),
        client_(engine_.NextClientId(), "127.0.0.1:50000", "127.0.0.1:6379", 0) {
    engine_.AddClient(&client_);
  }
  ~CommandSetTest() override { engine_.RemoveClient(&client_); }

  Reply One(std::vector<std::string> args) {
    engine_.Execute(client_, args, now_);
    engine_.EndTurn(now_, driver_, &peer_messages_);
    auto replies = testing::ParseReplies(client_.reply());
    client_.reply().clear();
    EXPECT_EQ(replies.size(), 1u);
    return replies.empty() ? Reply{} : replies[0];
  }

  cluster::Time now_{0, 1'700'000'000'000};
  AclCatalog catalog_;
  CommandSet commands_;
  Engine engine_;
  Client client_;
  BufferedTurnDriver driver_;
  std::vector<cluster::Message> peer_messages_;
};

TEST_F(CommandSetTest, RunsOnlyTheCommandsOfItsSet) {
  EXPECT_EQ(One({"GREET", "you"}).text, "hi you");
  EXPECT_EQ(One({"greet"}).text, errors::WrongArity("greet"));
  const std::vector<std::string> lock_args{"k", "me", "100"};
  EXPECT_EQ(One({"LOCK", "k", "me", "100"}).text, errors::UnknownCommand("LOCK", lock_args));
}

TEST_F(CommandSetTest, QueuesThroughTheSetsOwnTransactionCommands) {
  EXPECT_EQ(One({"begin"}).text, "BEGUN");
  EXPECT_EQ(One({"greet", "you"}).text, "held back: greet");
  // Refused in the transaction, a kMulti command refuses what follows.
  client_.transaction.reset();
  EXPECT_EQ(One({"begin", "extra"}).text, errors::WrongArity("begin"));
  EXPECT_EQ(One({"greet", "you"}).text, errors::kQueuedRefused);
}

}  // namespace
}  // namespace lockerd::server
