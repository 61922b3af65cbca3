#include "bench/loadgen/connection.h"

#include <cstdio>
#include <cstdlib>
#include <strings.h>

namespace lockerd::bench {
namespace {

constexpr uint64_t kRedialMs = 10;

std::vector<Connection*>& FlushList() {
  static std::vector<Connection*> list;
  return list;
}

Reply ErrorReply(std::string text) {
  Reply reply;
  reply.type = Reply::Type::kError;
  reply.text = std::move(text);
  return reply;
}

}  // namespace

Connection::Connection(uv_loop_t* loop, std::vector<std::string> addresses, Framing framing)
    : loop_(loop), addresses_(std::move(addresses)), framing_(framing) {
  uv_timer_init(loop_, &redial_);
  redial_.data = this;
  Dial();
}

void Connection::Dial() {
  const std::string& address = addresses_[address_index_ % addresses_.size()];
  const size_t colon = address.rfind(':');
  sockaddr_in addr{};
  uv_ip4_addr(address.substr(0, colon).c_str(), std::atoi(address.c_str() + colon + 1), &addr);
  tcp_ = new uv_tcp_t;
  uv_tcp_init(loop_, tcp_);
  tcp_->data = this;
  connect_.data = this;
  uv_tcp_connect(&connect_, tcp_, reinterpret_cast<const sockaddr*>(&addr), [](uv_connect_t* req, int status) {
    auto* self = static_cast<Connection*>(req->data);
    if (status == UV_ECANCELED) return;
    if (status != 0) return self->OnLoss(uv_strerror(status));
    uv_tcp_nodelay(self->tcp_, 1);
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(self->tcp_),
        [](uv_handle_t*, size_t, uv_buf_t* buf) {
          static char buffer[256 * 1024];
          *buf = uv_buf_init(buffer, sizeof buffer);
        },
        [](uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
          auto* conn = static_cast<Connection*>(stream->data);
          if (nread < 0) return conn->OnLoss(uv_strerror(static_cast<int>(nread)));
          conn->OnData(std::string_view(buf->base, static_cast<size_t>(nread)));
        });
    self->connected_ = true;
    self->Flush();
  });
}

void Connection::OnLoss(const char* why) {
  if (tcp_ == nullptr) return;
  if (std::getenv("LOADGEN_VERBOSE") != nullptr) std::fprintf(stderr, "link lost: %s\n", why);
  ++losses_;
  connected_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(tcp_), [](uv_handle_t* handle) {
    delete reinterpret_cast<uv_tcp_t*>(handle);
  });
  tcp_ = nullptr;
  pending_.clear();
  input_.clear();
  // Callbacks may queue new requests: they go out on the next link.
  std::deque<Callback> failed;
  failed.swap(awaiting_);
  const Reply lost = ErrorReply("connection lost");
  for (Callback& callback : failed) callback(lost);
  ++address_index_;
  uv_timer_start(&redial_, [](uv_timer_t* timer) { static_cast<Connection*>(timer->data)->Dial(); },
                 kRedialMs, 0);
}

void Connection::Send(std::string request, Callback callback) {
  pending_ += request;
  awaiting_.push_back(std::move(callback));
  if (!scheduled_) {
    scheduled_ = true;
    FlushList().push_back(this);
  }
}

void Connection::Post(std::string_view path, std::string_view json, Callback callback) {
  std::string request;
  request.reserve(128 + json.size());
  request.append("POST ").append(path).append(" HTTP/1.1\r\nHost: lockerd-loadgen\r\n");
  request.append("Content-Type: application/json\r\nContent-Length: ");
  request.append(std::to_string(json.size())).append("\r\n\r\n").append(json);
  Send(std::move(request), std::move(callback));
}

void Connection::FlushAll() {
  std::vector<Connection*> now;
  now.swap(FlushList());
  for (Connection* conn : now) conn->Flush();
}

void Connection::Flush() {
  scheduled_ = false;
  if (!connected_ || writing_ || pending_.empty()) return;
  inflight_.swap(pending_);
  pending_.clear();
  uv_buf_t buf = uv_buf_init(inflight_.data(), static_cast<unsigned>(inflight_.size()));
  write_.data = this;
  writing_ = true;
  uv_write(&write_, reinterpret_cast<uv_stream_t*>(tcp_), &buf, 1, [](uv_write_t* req, int status) {
    auto* self = static_cast<Connection*>(req->data);
    self->writing_ = false;
    self->inflight_.clear();
    if (status != 0) return self->OnLoss(uv_strerror(status));
    self->Flush();
  });
}

bool Connection::NextAnswer(Reply* reply, size_t* used) const {
  const std::string_view rest = std::string_view(input_).substr(*used);
  if (framing_ == Framing::kResp) {
    size_t consumed = 0;
    auto parsed = testing::ParseReply(rest, &consumed);
    if (!parsed) return false;
    *reply = std::move(*parsed);
    *used += consumed;
    return true;
  }
  const size_t head_end = rest.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return false;
  const std::string_view head = rest.substr(0, head_end);
  size_t length = 0;
  for (size_t line = head.find("\r\n"); line != std::string_view::npos; line = head.find("\r\n", line + 2)) {
    constexpr std::string_view kField = "content-length:";
    if (strncasecmp(head.data() + line + 2, kField.data(), kField.size()) == 0) {
      length = static_cast<size_t>(std::strtoull(head.data() + line + 2 + kField.size(), nullptr, 10));
    }
  }
  if (rest.size() < head_end + 4 + length) return false;
  const std::string_view body = rest.substr(head_end + 4, length);
  const bool ok = head.substr(0, 12) == "HTTP/1.1 200";
  reply->type = ok ? Reply::Type::kBulk : Reply::Type::kError;
  reply->text = ok ? std::string(body) : std::string(head.substr(0, head.find("\r\n"))) + " " + std::string(body);
  *used += head_end + 4 + length;
  return true;
}

void Connection::OnData(std::string_view data) {
  input_.append(data);
  size_t used = 0;
  Reply reply;
  while (tcp_ != nullptr && NextAnswer(&reply, &used)) {
    if (awaiting_.empty()) return OnLoss("an answer nobody asked for");
    Callback callback = std::move(awaiting_.front());
    awaiting_.pop_front();
    callback(reply);
  }
  if (tcp_ != nullptr) input_.erase(0, used);
}

}  // namespace lockerd::bench
