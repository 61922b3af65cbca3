// One cluster message of every kind (and the odd fields: binary and empty
// strings, a peek, a ballot with a step, a negative number, stamps), for the tests
// of both peer codecs. All go from member 1 to member 0.
#pragma once

#include <string>
#include <vector>

#include "cluster/messages.h"

namespace lockerd::server {

inline std::vector<cluster::Message> EveryPeerMessageKind() {
  using namespace cluster;
  Promise promise;
  promise.round_id = 9;
  promise.ballot = {71, 0};
  promise.vote = Vote::kNo;
  promise.highest = {70, 2};
  promise.accepted = {68, 1};
  promise.lease = {true, std::string("own\0er", 6), 1790000000000001, 4321};
  promise.token_counter = 1790000000000005;
  promise.quarantine_left_ms = 12;
  // Stamps (cluster/message_clocks.h): a run id near 2^63, a negative
  // clock reading, no echo yet.
  const Stamp stamp{(uint64_t{1} << 62) + 12345, -7, 0x5eed, 1'000'000};
  Message newer{1, 0, Prepare{5, "k", {7, 1}}, stamp};
  newer.epoch = (uint64_t{1} << 62) + 3;  // Configuration epochs only grow.
  Membership membership;
  membership.epoch = 12;
  membership.voters = 0b1011;
  membership.learners = uint32_t{1} << 30;
  return {
      {1, 0, Prepare{5, "job:\r\n1", {7, 1}}, stamp},
      newer,
      {1, 0, Prepare{5, "", {7, 1}, /*peek=*/true}},
      {1, 0, promise},
      {1, 0, Accept{6, "k", {8, 1}, true, "me", 42, 5000, {}}},
      {1, 0, Accept{6, "k", {9, 2}, true, "me", 42, 5050, {8, 1}}},  // A write-back.
      {1, 0, Accept{6, "k", {8, 1}, false, "", 0, 0, {}}},
      {1, 0, Accept{6, "k", {8, 1, 4}, false, "", 0, 0, {}}},  // A one-round-trip write.
      {1, 0, Accepted{6, {8, 1}, Vote::kQuarantined, {9, 0}, 800}},
      {1, 0, Accepted{6, {8, 1}, Vote::kStaleEpoch, {}, 0}},
      {1, 0, Configuration{membership}},
      {1, 0, ConfigurationQuery{}},
      {1, 0, ConfigPrepare{8, {20, 1}}},
      {1, 0, ConfigPromise{8, {20, 1}, Vote::kNo, {21, 2}, {19, 0}, ConfigValue{membership, 0b11, false}}},
      {1, 0, ConfigAccept{8, {20, 1}, ConfigValue{membership, 0b111, true}}},
      {1, 0, ConfigAccepted{8, {20, 1}, Vote::kYes, {20, 1}}},
      {1, 0, CatchUp{(uint64_t{1} << 62) + 5}},
      {1, 0, CaughtUp{(uint64_t{1} << 62) + 5, false, 1790000000000009, {30, 2}}},
      {1, 0, CaughtUp{6, true, 0, {}}},
      {1, 0, RaiseFloors{6, 1790000000000009, {30, 2, 1}}},
      {1, 0, FloorsRaised{6}},
      {1, 0, SyncRequest{3}},
      {1, 0, SyncReply{3, false, 99, {12, 2}, false}},
      {1, 0, SyncReply{4, true, 0, {}, false}},  // From a member that is itself recovering.
      {1, 0, SyncReply{5, false, 0, {0, 1}, true}},  // From a member that never voted.
      {1, 0, Learn{"k", {14, 0}, true, "me", 77, -1, {}}},
      {1, 0, Learn{"k", {15, 2}, true, "me", 77, 400, {14, 0}}},
      {1, 0, Probe{}, {(uint64_t{1} << 62) + 1, 123, 0, 0}},
      {1, 0, ProbeReply{}, {99, 124, (uint64_t{1} << 62) + 1, 123}},
  };
}

}  // namespace lockerd::server
