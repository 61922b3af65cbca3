// RESP parser: ns per command for a pipelined batch (what redis-benchmark -P
// sends) and for inline commands (what telnet and PING_INLINE send).
#include <benchmark/benchmark.h>

#include <string>

#include "protocol/resp_parser.h"
#include "protocol/resp_writer.h"

namespace {

using lockerd::protocol::ParseStatus;
using lockerd::protocol::RespParser;

std::string PipelinedLocks(int count) {
  std::string batch;
  for (int i = 0; i < count; ++i) {
    const std::string key = "key:" + std::to_string(100000 + i);
    batch += "*4\r\n$4\r\nLOCK\r\n$" + std::to_string(key.size()) + "\r\n" + key +
             "\r\n$36\r\n8f14e45f-ceea-467f-a0e6-8e3a1f1c2b7d\r\n$4\r\n5000\r\n";
  }
  return batch;
}

void ParseAll(benchmark::State& state, const std::string& batch, int commands) {
  RespParser parser;
  for (auto _ : state) {
    std::string_view input = batch;
    int parsed = 0;
    while (!input.empty()) {
      const auto result = parser.Feed(input);
      input.remove_prefix(result.consumed_bytes);
      if (result.status != ParseStatus::kComplete) break;
      benchmark::DoNotOptimize(parser.command().data());
      ++parsed;
    }
    if (parsed != commands) state.SkipWithError("parse failed");
  }
  state.SetItemsProcessed(state.iterations() * commands);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(batch.size()));
}

void BM_ParsePipelinedLock16(benchmark::State& state) { ParseAll(state, PipelinedLocks(16), 16); }
BENCHMARK(BM_ParsePipelinedLock16);

void BM_ParseInlinePing16(benchmark::State& state) {
  std::string batch;
  for (int i = 0; i < 16; ++i) batch += "PING\r\n";
  ParseAll(state, batch, 16);
}
BENCHMARK(BM_ParseInlinePing16);

void BM_ParseSplitEvery7Bytes(benchmark::State& state) {
  // The worst case for an incremental parser: the same batch in tiny reads.
  const std::string batch = PipelinedLocks(16);
  RespParser parser;
  for (auto _ : state) {
    int parsed = 0;
    for (size_t offset = 0; offset < batch.size(); offset += 7) {
      std::string_view input = std::string_view(batch).substr(offset, 7);
      while (!input.empty()) {
        const auto result = parser.Feed(input);
        input.remove_prefix(result.consumed_bytes);
        if (result.status == ParseStatus::kComplete) ++parsed;
      }
    }
    benchmark::DoNotOptimize(parsed);
  }
  state.SetItemsProcessed(state.iterations() * 16);
}
BENCHMARK(BM_ParseSplitEvery7Bytes);

void BM_WriteTokenReplies16(benchmark::State& state) {
  std::string out;
  lockerd::protocol::RespWriter writer(&out);
  for (auto _ : state) {
    out.clear();
    for (int i = 0; i < 16; ++i) writer.WriteInteger(1795693218720000 + i);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * 16);
}
BENCHMARK(BM_WriteTokenReplies16);

}  // namespace
