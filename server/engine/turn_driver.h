// The contract between the engine and whoever drives it: the server's
// loop, the engine tests, the fuzzers, the benchmark. At the end of each
// loop turn (after the turn's input and timers) the driver calls
// Engine::EndTurn, which does the engine's part and calls back here for
// what only the driver can do (IO). Every driver goes through it, so tests
// and fuzzers cannot drift from what the server does.
#pragma once

namespace lockerd::server {

class Client;

class TurnDriver {
 public:
  virtual ~TurnDriver() = default;
  // The client got a reply, or was unblocked, from outside its own command
  // (another client's command, a peer's message, a timer), and any command
  // it deferred behind its pipelined writes has run: write its replies out
  // and feed it the input it sent while it was blocked (which may run
  // more commands).
  virtual void Continue(Client& client) = 0;
  // CLIENT KILL named the client: close its connection. The engine does
  // not touch the client afterwards.
  virtual void Close(Client& client) = 0;
};

// A driver without connections, for the engine tests and benchmarks:
// replies stay in each client's buffer for the caller to read, and killed
// clients are only counted (the caller removes them).
class BufferedTurnDriver final : public TurnDriver {
 public:
  void Continue(Client&) override {}
  void Close(Client&) override { ++closed_; }
  int closed() const { return closed_; }

 private:
  int closed_ = 0;
};

}  // namespace lockerd::server
