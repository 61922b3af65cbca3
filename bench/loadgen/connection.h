// One client connection of the load generator: RESP to lockerd and
// redis-server, or HTTP/1.1 to etcd's JSON gateway. Requests queued in one
// loop turn go out in one write; answers come back in order to the
// callbacks queued with them. HTTP answers arrive as a bulk reply holding
// the body (an error reply for any status but 200).
//
// A connection can outlive its server: when the link drops, every waiting
// callback gets an error reply and the connection dials the next address in
// its list, so a load run goes on through a member being killed.
#pragma once

#include <uv.h>

#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "tests/support/resp_reply.h"

namespace lockerd::bench {

using testing::Reply;

enum class Framing { kResp, kHttp };

class Connection {
 public:
  using Callback = std::function<void(const Reply&)>;

  Connection(uv_loop_t* loop, std::vector<std::string> addresses, Framing framing);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Queues raw request bytes; the write happens in FlushAll.
  void Send(std::string request, Callback callback);
  // An HTTP POST of a JSON body to `path`.
  void Post(std::string_view path, std::string_view json, Callback callback);

  // Writes what every connection queued this loop turn.
  static void FlushAll();

  // Link losses seen so far.
  int losses() const { return losses_; }

 private:
  void Dial();
  void Flush();
  void OnData(std::string_view data);
  void OnLoss(const char* why);
  bool NextAnswer(Reply* reply, size_t* used) const;

  uv_loop_t* loop_;
  std::vector<std::string> addresses_;
  size_t address_index_ = 0;
  Framing framing_;
  uv_tcp_t* tcp_ = nullptr;  // Owned until its close callback runs.
  uv_connect_t connect_{};
  uv_write_t write_{};
  uv_timer_t redial_{};
  bool connected_ = false;
  bool writing_ = false;
  bool scheduled_ = false;
  int losses_ = 0;
  std::string pending_;
  std::string inflight_;
  std::string input_;
  std::deque<Callback> awaiting_;  // Sent or queued, in order.
};

}  // namespace lockerd::bench
