// What the command table says about each command beyond COMMAND INFO's
// fields: here, which writes may pipeline (the engine reads it, engine.cc's
// PipelinedWrite).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/commands/command_table.h"
#include "server/engine/engine.h"

namespace lockerd::server {
namespace {

bool Pipelines(std::vector<std::string> args) {
  const CommandSpec* spec = FindCommand(args[0]);
  EXPECT_NE(spec, nullptr) << args[0];
  return spec != nullptr && Engine::PipelinedWrite(*spec, args);
}

TEST(CommandTable, OneKeyLockWritesPipelineAndWhatWaitsOrSpansKeysDoesNot) {
  EXPECT_TRUE(Pipelines({"LOCK", "k", "o", "1000"}));
  EXPECT_TRUE(Pipelines({"lock", "k", "o", "1000"}));
  EXPECT_TRUE(Pipelines({"EXTEND", "k", "o", "1000"}));
  EXPECT_TRUE(Pipelines({"RELEASE", "k", "o"}));
  EXPECT_TRUE(Pipelines({"UPDATE", "k", "o", "p"}));
  // LOCK ... WAIT blocks: it waits for the writes before it.
  EXPECT_FALSE(Pipelines({"LOCK", "k", "o", "1000", "WAIT", "0"}));
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"SET", "k", "o", "NX", "PX", "1000"},
                                             {"DEL", "k"},
                                             {"DELIFEQ", "k", "o"},
                                             {"DELEX", "k", "IFEQ", "o"},
                                             {"WAIT", "k", "0"},
                                             {"GET", "k"},
                                             {"EVAL", "return 1", "0"}}) {
    EXPECT_FALSE(Pipelines(args)) << args[0];
  }
}

// Only writes pipeline: a read in a pipeline runs after the writes before
// it, so that it sees them.
TEST(CommandTable, OnlyWritesArePipelined) {
  for (const CommandSpec& spec : AllCommands()) {
    const bool pipelined = (spec.flags & kFlagPipelined) != 0;
    EXPECT_TRUE(!pipelined || (spec.flags & kFlagWrite)) << spec.name;
    EXPECT_TRUE(spec.pipelined_if == nullptr || pipelined) << spec.name;
  }
}

}  // namespace
}  // namespace lockerd::server
