// Lease table: insert, lookup and expiry cost per lease, at table sizes up
// to a million, and the cost of expiring many leases that end at once.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "cluster/lease_table.h"

namespace {

using lockerd::cluster::Ballot;
using lockerd::cluster::LeaseTable;

std::vector<std::string> Keys(int64_t count) {
  std::vector<std::string> keys;
  keys.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) keys.push_back("lease:" + std::to_string(1000000 + i));
  return keys;
}

void BM_LeaseTableInsert(benchmark::State& state) {
  const auto keys = Keys(state.range(0));
  for (auto _ : state) {
    LeaseTable table(0);
    for (size_t i = 0; i < keys.size(); ++i) {
      auto& reg = table.FindOrCreate(keys[i], 0);
      table.Hold(reg, Ballot{i + 1, 0}, "owner-0123456789", i + 1, 60'000 + static_cast<int64_t>(i));
    }
    benchmark::DoNotOptimize(table.held_count());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_LeaseTableInsert)->Arg(1000)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

void BM_LeaseTableLookup(benchmark::State& state) {
  const auto keys = Keys(state.range(0));
  LeaseTable table(0);
  for (size_t i = 0; i < keys.size(); ++i) {
    auto& reg = table.FindOrCreate(keys[i], 0);
    table.Hold(reg, Ballot{i + 1, 0}, "owner", i + 1, 60'000);
  }
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(table.FindHeld(keys[i], 1));
    i = (i + 7919) % keys.size();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LeaseTableLookup)->Arg(1000)->Arg(1'000'000);

// Leases below are held until 1000 ms; a lease is due once its deadline has
// passed.
constexpr int64_t kAfterDeadline = 1001;

void BM_LeaseTableExpireAllAtOnce(benchmark::State& state) {
  // A million leases with the same deadline, expired in budgeted slices as
  // the server does (10,000 per loop turn): reports the cost per lease.
  const auto keys = Keys(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    LeaseTable table(0);
    for (size_t i = 0; i < keys.size(); ++i) {
      auto& reg = table.FindOrCreate(keys[i], 0);
      table.Hold(reg, Ballot{i + 1, 0}, "owner", i + 1, 1000);
    }
    state.ResumeTiming();
    while (table.ExpireDue(kAfterDeadline, 10'000)) {
    }
    if (table.held_count() != 0) {
      state.SkipWithError("leases were left held");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_LeaseTableExpireAllAtOnce)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

void BM_LeaseTableExpireSlice(benchmark::State& state) {
  // One budgeted slice of 10,000 expiries: the longest the loop is held.
  const auto keys = Keys(1'000'000);
  LeaseTable table(0);
  for (size_t i = 0; i < keys.size(); ++i) {
    auto& reg = table.FindOrCreate(keys[i], 0);
    table.Hold(reg, Ballot{i + 1, 0}, "owner", i + 1, 1000);
  }
  uint64_t round = 1;
  for (auto _ : state) {
    if (!table.ExpireDue(kAfterDeadline, 10'000)) {
      // Refill with ballots above every earlier one: a register keeps its
      // ballot floor after expiry, so reusing ballots would hold nothing and
      // refill on every iteration.
      state.PauseTiming();
      ++round;
      for (size_t i = 0; i < keys.size(); ++i) {
        auto& reg = table.FindOrCreate(keys[i], 0);
        table.Hold(reg, Ballot{round * 2'000'000 + i, 0}, "owner", i + 1, 1000);
      }
      if (table.held_count() != keys.size()) {
        state.SkipWithError("the refill did not hold every lease");
        break;
      }
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(state.iterations() * 10'000);
}
BENCHMARK(BM_LeaseTableExpireSlice)->Unit(benchmark::kMillisecond);

}  // namespace
