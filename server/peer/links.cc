#include "server/peer/links.h"

#include <algorithm>
#include <cstring>

#include "base/check.h"
#include "server/config/limits.h"
#include "base/log.h"
#include "server/peer/auth.h"
#include "server/peer/batch.h"
#include "server/peer/codec.h"
#include "server/security/tls_stream.h"
#include "server/peer/fingerprint.h"
#include "base/buffer_keeping.h"
#include "server/uv/write_now.h"

namespace lockerd::server {

using base::ReleaseIfBig;

struct PeerLinks::Link {
  enum class State { kIdle, kResolving, kConnecting, kHandshaking, kUp };

  PeerLinks* owner = nullptr;
  cluster::MemberId member = 0;
  std::string address;
  std::string host;
  int port = 0;
  State state = State::kIdle;
  uint64_t attempt = 0;          // Callbacks of an older attempt are ignored.
  int64_t attempt_started_ms = 0;
  std::vector<sockaddr_storage> addresses;  // Resolved; tried in turn.
  size_t next_address = 0;
  uv_tcp_t* socket = nullptr;  // Heap; freed in its close callback.
  std::unique_ptr<TlsStream> tls;  // With tls-cluster: this socket's session.
  std::string tls_error_logged;    // Logged at notice once per streak.
  uv_write_t write{};
  uv_timer_t timer{};  // Backoff while idle; deadlines and pings otherwise.
  std::string batch;     // This turn's messages, to go out as one PEER BATCH.
  std::string pending;   // Encoded commands for the next write.
  std::string inflight;  // The write in progress.
  bool writing = false;
  std::string replies;   // Reply bytes from the peer (+OK ..., +PONG, -ERR ...).
  std::string nonce;     // This side's nonce of the handshake under way.
  std::string peer_nonce;  // The listening member's, once it has answered.
  int64_t backoff_ms = kPeerBackoffMinMs;
  uint64_t ping_sent_ns = 0;  // 0: no ping outstanding.
  int64_t last_heard_ms = 0;
  PeerStatus status;
};

namespace {

// A request that outlives a reconnect carries the attempt it belongs to.
struct ResolveRequest {
  uv_getaddrinfo_t request{};
  PeerLinks::Link* link = nullptr;
  uint64_t attempt = 0;
};
struct ConnectRequest {
  uv_connect_t request{};
  PeerLinks::Link* link = nullptr;
  uint64_t attempt = 0;
};

PeerLinks::Link& LinkOf(uv_handle_t* handle) { return *static_cast<PeerLinks::Link*>(handle->data); }

void FreeSocket(uv_handle_t* handle) { delete reinterpret_cast<uv_tcp_t*>(handle); }

}  // namespace

PeerLinks::PeerLinks(uv_loop_t* loop, const Config& config, cluster::MemberId self, uint64_t seed)
    : loop_(loop),
      config_(config),
      self_(self),
      fingerprint_(ClusterFingerprint(config)),
      rng_(seed),
      read_buffer_(16 * 1024, '\0') {
  for (size_t i = 0; i < config.cluster.size(); ++i) {
    if (i == self) {
      links_.emplace_back();
      continue;
    }
    auto link = std::make_unique<Link>();
    link->owner = this;
    link->member = static_cast<cluster::MemberId>(i);
    link->address = config.cluster[i];
    CHECK(SplitHostPort(link->address, &link->host, &link->port));
    link->status.member = link->member;
    link->status.address = link->address;
    uv_timer_init(loop_, &link->timer);
    link->timer.data = link.get();
    link->write.data = link.get();
    links_.push_back(std::move(link));
  }
}

PeerLinks::~PeerLinks() = default;

void PeerLinks::Start() {
  if (config_.cluster_secret.size() < kClusterSecretBytesAdvised) {
    // The handshake never sends the secret, but anyone who records one (or
    // answers at a member's address) can try guesses against it offline.
    Log(LogLevel::kWarning,
        "cluster-secret is only %zu bytes: use a long random one (openssl rand -hex 32), "
        "and tls-cluster where the network is not trusted",
        config_.cluster_secret.size());
  }
  for (auto& link : links_) {
    if (link) Connect(*link);
  }
}

void PeerLinks::Connect(Link& link) {
  if (stopped_) return;
  ++link.attempt;
  link.state = Link::State::kResolving;
  link.attempt_started_ms = static_cast<int64_t>(uv_now(loop_));
  // One timer watches the whole attempt: resolve, connect and handshake must
  // finish within the peer timeout (a dropped SYN would otherwise wait for
  // the kernel's retries, minutes), then it paces the pings.
  uv_timer_start(&link.timer, OnTimer, kPeerPingIntervalMs, kPeerPingIntervalMs);
  auto* resolve = new ResolveRequest;
  resolve->link = &link;
  resolve->attempt = link.attempt;
  resolve->request.data = resolve;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  const std::string port = std::to_string(link.port);
  const int status =
      uv_getaddrinfo(loop_, &resolve->request, OnResolved, link.host.c_str(), port.c_str(), &hints);
  if (status != 0) {
    delete resolve;
    ScheduleReconnect(link, uv_strerror(status));
  }
}

void PeerLinks::OnResolved(uv_getaddrinfo_t* request, int status, addrinfo* result) {
  auto* resolve = static_cast<ResolveRequest*>(request->data);
  Link& link = *resolve->link;
  const bool current = resolve->attempt == link.attempt;
  delete resolve;
  PeerLinks& self = *link.owner;
  if (self.stopped_ || !current || link.state != Link::State::kResolving) {
    if (result != nullptr) uv_freeaddrinfo(result);
    return;
  }
  link.addresses.clear();
  for (const addrinfo* info = result; info != nullptr; info = info->ai_next) {
    sockaddr_storage address{};
    std::memcpy(&address, info->ai_addr, std::min<size_t>(info->ai_addrlen, sizeof address));
    link.addresses.push_back(address);
  }
  if (result != nullptr) uv_freeaddrinfo(result);
  if (status != 0 || link.addresses.empty()) {
    return self.ScheduleReconnect(link, status != 0 ? uv_strerror(status) : "no address");
  }
  link.next_address = 0;
  self.TryNextAddress(link);
}

void PeerLinks::TryNextAddress(Link& link) {
  CloseSocket(link);
  if (link.next_address >= link.addresses.size()) {
    return ScheduleReconnect(link, "could not connect to any of its addresses");
  }
  const sockaddr_storage& address = link.addresses[link.next_address++];
  link.socket = new uv_tcp_t;
  uv_tcp_init(loop_, link.socket);
  link.socket->data = &link;
  link.state = Link::State::kConnecting;
  auto* connect = new ConnectRequest;
  connect->link = &link;
  connect->attempt = link.attempt;
  connect->request.data = connect;
  const int status = uv_tcp_connect(&connect->request, link.socket,
                                    reinterpret_cast<const sockaddr*>(&address), OnConnected);
  if (status != 0) {
    delete connect;
    TryNextAddress(link);
  }
}

void PeerLinks::OnConnected(uv_connect_t* request, int status) {
  auto* connect = static_cast<ConnectRequest*>(request->data);
  Link& link = *connect->link;
  const bool current = connect->attempt == link.attempt &&
                       reinterpret_cast<uv_tcp_t*>(request->handle) == link.socket;
  delete connect;
  PeerLinks& self = *link.owner;
  if (self.stopped_ || !current) return;
  if (status != 0) return self.TryNextAddress(link);
  uv_tcp_nodelay(link.socket, 1);
  if (self.tls_context_ != nullptr) {
    link.tls = TlsStream::Create(self.tls_context_, TlsStream::Role::kConnect, link.host);
    if (!link.tls || link.tls->Handshake() == TlsStream::Result::kFailed) {
      return self.ScheduleReconnect(link, "cannot start a TLS session");
    }
  }
  uv_read_start(reinterpret_cast<uv_stream_t*>(link.socket), OnAlloc, OnRead);
  link.state = Link::State::kHandshaking;
  link.replies.clear();
  link.batch.clear();
  link.pending.clear();
  link.nonce = NewPeerNonce();
  link.peer_nonce.clear();
  EncodePeerHello(self.self_, self.config_.cluster.size(), self.fingerprint_, link.nonce,
                  &link.pending);
  link.last_heard_ms = static_cast<int64_t>(uv_now(self.loop_));
  link.ping_sent_ns = 0;
  ++link.status.connects;
  self.Write(link);
}

void PeerLinks::ScheduleReconnect(Link& link, const char* why) {
  const bool was_up = link.state == Link::State::kUp;
  CloseSocket(link);
  link.state = Link::State::kIdle;
  if (was_up) {
    Log(LogLevel::kNotice, "Peer %s (member %u) lost: %s", link.address.c_str(), link.member, why);
  }
  Log(LogLevel::kDebug, "Peer %s: %s; reconnecting in about %lld ms", link.address.c_str(), why,
      static_cast<long long>(link.backoff_ms));
  // Exponential backoff with jitter, so that members restarting together do
  // not reconnect in lockstep.
  const auto delay_ms = static_cast<uint64_t>(
      std::uniform_int_distribution<int64_t>(link.backoff_ms / 2, link.backoff_ms * 3 / 2)(rng_));
  link.backoff_ms = std::min(link.backoff_ms * 2, kPeerBackoffMaxMs);
  uv_timer_start(&link.timer, OnTimer, delay_ms, 0);
}

void PeerLinks::CloseSocket(Link& link) {
  SetReachable(link, false);
  link.writing = false;
  link.batch.clear();
  link.pending.clear();
  link.inflight.clear();
  ReleaseIfBig(link.batch);
  ReleaseIfBig(link.pending);
  ReleaseIfBig(link.inflight);
  link.tls.reset();
  if (link.socket != nullptr) {
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(link.socket))) {
      uv_close(reinterpret_cast<uv_handle_t*>(link.socket), FreeSocket);
    }
    link.socket = nullptr;
  }
}

void PeerLinks::OnTimer(uv_timer_t* timer) {
  Link& link = LinkOf(reinterpret_cast<uv_handle_t*>(timer));
  PeerLinks& self = *link.owner;
  if (self.stopped_) return;
  if (link.state == Link::State::kIdle) return self.Connect(link);
  const auto now_ms = static_cast<int64_t>(uv_now(self.loop_));
  if (link.state != Link::State::kUp) {
    if (now_ms - link.attempt_started_ms > kPeerTimeoutMs) {
      self.ScheduleReconnect(link, "connect or handshake timed out");
    }
    return;
  }
  self.Heartbeat(link);
}

void PeerLinks::Heartbeat(Link& link) {
  const auto now_ms = static_cast<int64_t>(uv_now(loop_));
  if (now_ms - link.last_heard_ms > kPeerTimeoutMs) {
    return ScheduleReconnect(link, "no answer within the peer timeout");
  }
  if (link.ping_sent_ns != 0) return;
  link.ping_sent_ns = uv_hrtime();
  EncodePeerPing(&link.pending);
  Write(link);
}

void PeerLinks::Send(const cluster::Message& message) {
  if (message.to >= links_.size() || !links_[message.to]) return;
  Link& link = *links_[message.to];
  if (link.state != Link::State::kUp) {
    ++link.status.messages_dropped;
    return;
  }
  AppendPeerMessage(message, &link.batch);
  ++link.status.messages_sent;
  if (link.batch.size() >= kPeerBatchFrameBytes) CloseBatch(link);
  if (link.pending.size() + link.inflight.size() > kPeerBufferBytesMax) {
    ScheduleReconnect(link, "peer is not reading (buffer limit)");
  }
}

void PeerLinks::FlushAll() {
  for (auto& link : links_) {
    if (link && link->state == Link::State::kUp && !(link->pending.empty() && link->batch.empty())) {
      Write(*link);
    }
  }
}

void PeerLinks::CloseBatch(Link& link) {
  if (link.batch.empty()) return;
  FramePeerBatch(link.batch, &link.pending);
  link.batch.clear();
}

void PeerLinks::Write(Link& link) {
  if (link.writing || link.socket == nullptr) return;
  CloseBatch(link);
  while (true) {
    if (link.tls) {
      // Handshake messages first; then what is queued, which the session
      // takes only once the handshake is done (until then it waits here).
      link.inflight.clear();
      link.tls->TakeOutput(&link.inflight);
      if (!link.pending.empty() && link.tls->Write(link.pending) == link.pending.size()) {
        link.pending.clear();
        link.tls->TakeOutput(&link.inflight);
      }
      if (link.tls->failed()) return ScheduleReconnect(link, link.tls->error().c_str());
    } else {
      link.inflight.swap(link.pending);
    }
    if (link.inflight.empty()) return;
    const uv::WriteStart start = uv::WriteNowOrLater(
        reinterpret_cast<uv_stream_t*>(link.socket), &link.write, link.inflight, OnWritten);
    if (start.error != 0) return ScheduleReconnect(link, uv_strerror(start.error));
    if (start.in_flight) {
      link.writing = true;
      return;
    }
    link.inflight.clear();  // All went at once: the next bytes, if any.
    ReleaseIfBig(link.inflight);
  }
}

void PeerLinks::OnWritten(uv_write_t* request, int status) {
  Link& link = *static_cast<Link*>(request->data);
  PeerLinks& self = *link.owner;
  if (reinterpret_cast<uv_tcp_t*>(request->handle) != link.socket) return;  // An old socket.
  link.writing = false;
  link.inflight.clear();
  ReleaseIfBig(link.inflight);
  if (self.stopped_) return;
  if (status < 0) return self.ScheduleReconnect(link, uv_strerror(status));
  self.Write(link);
}

void PeerLinks::OnAlloc(uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) {
  PeerLinks& self = *LinkOf(handle).owner;
  *buf = uv_buf_init(self.read_buffer_.data(), static_cast<unsigned>(self.read_buffer_.size()));
}

void PeerLinks::OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  Link& link = LinkOf(reinterpret_cast<uv_handle_t*>(stream));
  PeerLinks& self = *link.owner;
  if (reinterpret_cast<uv_tcp_t*>(stream) != link.socket || self.stopped_) return;
  if (nread < 0) return self.ScheduleReconnect(link, uv_strerror(static_cast<int>(nread)));
  if (link.tls) {
    const TlsStream::Result result =
        link.tls->Feed(std::string_view(buf->base, static_cast<size_t>(nread)), &link.replies);
    if (result == TlsStream::Result::kFailed) {
      // A certificate either side rejects ends here, on every attempt:
      // said once at notice, then at debug until it changes.
      const bool repeated = link.tls->error() == link.tls_error_logged;
      link.tls_error_logged = link.tls->error();
      Log(repeated ? LogLevel::kDebug : LogLevel::kNotice, "Peer %s (member %u): %s",
          link.address.c_str(), link.member, link.tls->error().c_str());
      return self.ScheduleReconnect(link, "TLS failed");
    }
    if (result == TlsStream::Result::kClosed) return self.ScheduleReconnect(link, "peer closed");
    // The peer answers only once it accepted this member's certificate.
    if (!link.replies.empty()) link.tls_error_logged.clear();
    self.Write(link);  // Handshake answers, or what waited for the handshake.
    if (link.socket == nullptr) return;
  } else {
    link.replies.append(buf->base, static_cast<size_t>(nread));
  }
  if (link.replies.size() > 64 * 1024) return self.ScheduleReconnect(link, "peer sent junk");
  self.OnReplies(link);
}

void PeerLinks::OnReplies(Link& link) {
  // A peer answers only the handshake ("+OK <id> <fingerprint>" or an
  // error) and pings (+PONG).
  size_t end;
  while ((end = link.replies.find("\r\n")) != std::string::npos) {
    const std::string line = link.replies.substr(0, end);
    link.replies.erase(0, end + 2);
    link.last_heard_ms = static_cast<int64_t>(uv_now(loop_));
    if (line.rfind("+CHALLENGE ", 0) == 0 && link.state == Link::State::kHandshaking &&
        link.peer_nonce.empty()) {
      link.peer_nonce = line.substr(sizeof("+CHALLENGE ") - 1);
      if (!LooksLikePeerNonce(link.peer_nonce)) return ScheduleReconnect(link, "bad challenge");
      EncodePeerAuth(PeerProof(config_.cluster_secret, PeerRole::kConnecting, link.nonce,
                               link.peer_nonce, self_, link.member, fingerprint_),
                     &link.pending);
      Write(link);
      if (link.socket == nullptr) return;  // The write failed: reconnecting.
    } else if (line.rfind("+OK ", 0) == 0 && link.state == Link::State::kHandshaking &&
               !link.peer_nonce.empty()) {
      // The peer says who it is: the member this link is meant for, with
      // the same member list and lease settings, and proves it knows the
      // cluster secret.
      const std::string expected = "+OK " + std::to_string(link.member) + " " + fingerprint_ + " ";
      if (line.rfind(expected, 0) != 0) {
        Log(LogLevel::kWarning,
            "Peer %s is not member %u of this cluster (%s); check --cluster and --advertise "
            "on both",
            link.address.c_str(), link.member, line.c_str());
        return ScheduleReconnect(link, "wrong member");
      }
      const std::string proof = PeerProof(config_.cluster_secret, PeerRole::kListening, link.nonce,
                                          link.peer_nonce, self_, link.member, fingerprint_);
      if (!ProofEquals(std::string_view(line).substr(expected.size()), proof)) {
        Log(LogLevel::kWarning,
            "Peer %s (member %u) did not prove the cluster secret; check --cluster-secret",
            link.address.c_str(), link.member);
        return ScheduleReconnect(link, "wrong cluster secret");
      }
      link.state = Link::State::kUp;
      SetReachable(link, true);
      link.backoff_ms = kPeerBackoffMinMs;
      Log(LogLevel::kNotice, "Peer %s (member %u) connected", link.address.c_str(), link.member);
    } else if (line == "+PONG") {
      if (link.ping_sent_ns != 0) {
        link.status.rtt_ms = static_cast<double>(uv_hrtime() - link.ping_sent_ns) / 1e6;
      }
      link.ping_sent_ns = 0;
      SetReachable(link, link.state == Link::State::kUp);
    } else {
      Log(LogLevel::kWarning, "Peer %s refused this member: %s", link.address.c_str(),
          line.c_str());
      return ScheduleReconnect(link, "refused");
    }
  }
}

void PeerLinks::SetReachable(Link& link, bool reachable) {
  if (link.status.reachable == reachable) return;
  link.status.reachable = reachable;
  if (on_reachable_) on_reachable_(link.member, reachable);
}

void PeerLinks::PeerSeen(cluster::MemberId member) {
  if (stopped_ || member >= links_.size() || !links_[member]) return;
  Link& link = *links_[member];
  if (link.state != Link::State::kIdle) return;
  link.backoff_ms = kPeerBackoffMinMs;
  Connect(link);
}

void PeerLinks::Stop() {
  stopped_ = true;
  for (auto& link : links_) {
    if (!link) continue;
    CloseSocket(*link);
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&link->timer))) {
      uv_close(reinterpret_cast<uv_handle_t*>(&link->timer), nullptr);
    }
  }
}

std::vector<PeerStatus> PeerLinks::Status() const {
  std::vector<PeerStatus> statuses;
  for (const auto& link : links_) {
    if (link) statuses.push_back(link->status);
  }
  return statuses;
}

}  // namespace lockerd::server
