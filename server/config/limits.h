// Bounds of the server: connections, output, waits. Each is the default of a
// setting of the same name (see config.cc); protocol limits are in
// protocol/limits.h and cluster limits in cluster/limits.h.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace lockerd::server {

// `maxclients`: connections beyond this get an error and are closed. Each
// costs a file descriptor and a few KB; Redis's default.
inline constexpr size_t kMaxClientsDefault = 10'000;

// `client-output-buffer-limit normal <hard> <soft> <soft-seconds>`: a client
// whose pending replies pass `soft` is not read from until it catches up
// (backpressure); one that stays above `soft` for `soft-seconds`, or passes
// `hard` at once (a huge KEYS reply to a client that never reads), is closed.
inline constexpr size_t kOutputHardBytesDefault = 256ull << 20;
inline constexpr size_t kOutputSoftBytesDefault = 8ull << 20;
inline constexpr int64_t kOutputSoftSecondsDefault = 60;

// File descriptors kept beyond maxclients for everything else: listeners,
// peer links, the state file, the log, libuv's own (Redis keeps 32).
// At startup lockerd raises its open-files limit to maxclients plus these;
// when the hard limit does not allow it, maxclients is lowered to fit.
inline constexpr size_t kReservedFds = 32;

// `timeout`: a client connection that makes no progress (no bytes read
// from it, no reply bytes written to it) for this many seconds is closed; 0,
// the default as in Redis, never closes. Peers and blocked clients (LOCK ...
// WAIT has its own timeout) are exempt. The largest value accepted is a
// year, which keeps the millisecond arithmetic far from overflow.
inline constexpr int64_t kIdleTimeoutSecondsDefault = 0;
inline constexpr int64_t kIdleTimeoutSecondsMax = 365ll * 24 * 3600;

// `maxwaiters-per-key`: blocked LOCK ... WAIT and WAIT clients on one key.
// Thousands may wait; an unbounded queue is a memory leak under abuse.
inline constexpr size_t kWaitersPerKeyDefault = 10'000;

// Pipelined writes one client may have in flight at once (a cluster runs
// them concurrently); beyond it the client's input waits.
inline constexpr size_t kClientWritesInFlightMax = 1024;

// Longest WAIT or LOCK ... WAIT timeout other than 0 (forever): a year. It
// keeps deadline arithmetic far from overflow.
inline constexpr int64_t kWaitTimeoutMsMax = 365ll * 24 * 3600 * 1000;

// Bytes read from a socket per read call; one buffer shared by all reads.
inline constexpr size_t kReadChunkBytes = 64 * 1024;
// Plaintext encrypted per TLS write: big enough for few syscalls, small
// enough that a huge reply is not held twice (plaintext and ciphertext).
inline constexpr size_t kTlsWriteChunkBytes = 256 * 1024;

// SCAN's COUNT: the default number of slots looked at, and the largest.
inline constexpr size_t kScanCountDefault = 10;
inline constexpr size_t kScanCountMax = 1'000'000;

// `max-key-bytes`: keys and owners are names (a resource, a UUID, a
// host:pid), never data. Bounding them bounds the table's memory per lease
// and the cost of matching a KEYS pattern against a key.
inline constexpr size_t kKeyBytesDefault = 4096;

// `maxkeys`: held leases at once. LOCK of a new key beyond it answers -OOM
// instead of growing without bound (about 200 bytes per lease).
inline constexpr size_t kMaxKeysDefault = 10'000'000;

// KEYS and SCAN MATCH patterns: glob matching costs up to pattern x key
// length per key, so patterns are kept short.
inline constexpr size_t kPatternBytesMax = 256;

// No output limit above this is accepted: replies are written with 32-bit
// lengths, and a client needing a gigabyte of replies is misbehaving.
inline constexpr size_t kOutputBytesLimitMax = 1ull << 30;

// Peer links: how often a link pings its peer, how long a silent peer is
// still counted reachable, and the reconnect backoff's bounds.
inline constexpr int64_t kPeerPingIntervalMs = 250;
inline constexpr int64_t kPeerTimeoutMs = 1000;
inline constexpr int64_t kPeerBackoffMinMs = 20;
inline constexpr int64_t kPeerBackoffMaxMs = 1000;
// A connection let in only to be a peer (protected mode, or a slot kept
// for peers beyond maxclients) that has not said PEER HELLO within this
// long is closed, so idle sockets cannot hold the peers' slots.
inline constexpr int64_t kPeerHelloTimeoutMs = 5000;

// A cluster secret shorter than this draws a warning at startup: peer
// handshakes can be recorded and the secret guessed offline.
inline constexpr size_t kClusterSecretBytesAdvised = 16;

// Bytes queued for one peer before the link is dropped and rebuilt: a
// peer that stops reading must not make this member grow without bound.
inline constexpr size_t kPeerBufferBytesMax = 64ull << 20;

// A link closes its PEER BATCH command once its payload passes this many
// bytes (a turn with more messages sends several), and a member accepts
// peer batches up to PeerBatchBytesMax() whatever proto-max-bulk-len a
// client gets: the peers' own traffic must not depend on a client limit.
inline constexpr size_t kPeerBatchFrameBytes = 16 * 1024;
inline constexpr size_t kPeerBatchBulkBytesMax = 1 << 20;
// A message's fixed fields, with room to spare.
inline constexpr size_t kPeerMessageFixedBytesMax = 256;

// The largest batch a member takes from a peer: a frame holds at most
// kPeerBatchFrameBytes and one message more, whose long fields are a key and
// an owner of up to max-key-bytes each.
inline size_t PeerBatchBytesMax(size_t max_key_bytes) {
  return std::max(kPeerBatchBulkBytesMax,
                  kPeerBatchFrameBytes + 2 * max_key_bytes + kPeerMessageFixedBytesMax);
}

// CLIENT SETNAME and SETINFO values; longer names are refused.
inline constexpr size_t kClientNameBytesMax = 256;

// Scripts (EVAL): a run longer than this is stopped, so one script cannot
// hold up every other client for long (`script-time-limit`, ms); the memory
// one run may allocate (`script-memory-limit`); compiled scripts kept, least
// recently used out first (`script-cache-max`); the longest body accepted
// (`script-max-bytes`); keys one script may declare (`script-max-keys`).
inline constexpr int64_t kScriptTimeLimitMsDefault = 100;
inline constexpr size_t kScriptMemoryLimitDefault = 64ull << 20;
inline constexpr size_t kScriptCacheMaxDefault = 1000;
inline constexpr size_t kScriptBytesMaxDefault = 1ull << 20;
inline constexpr size_t kScriptKeysMaxDefault = 128;

}  // namespace lockerd::server

namespace lockerd::server {
// appendonly yes, while the log cannot be written: how often a rewrite of
// the whole state is tried in place of appending (Server::RewriteToRecover).
inline constexpr int64_t kLogRecoveryRewriteIntervalMs = 30'000;
// A compaction's snapshot is taken this many register slots per loop turn,
// so that no turn stalls long (about 3 ms at ~350 ns a register).
inline constexpr size_t kLogSnapshotSlotsPerTurn = 8192;
}  // namespace lockerd::server
