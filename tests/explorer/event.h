// One step of the bounded explorer (explorer.h): a client's write, a
// message's arrival or loss, time passing, a restart, the end of a
// member's log sync. An event names its target by position (the client,
// the member, the message's place in the in-flight list), so a trace of
// events replays exactly on the same options; its text form
// ("s0.1 d3 t1101") is what the explorer prints and what
// `lockerd_explore --replay` reads.
//
// It says nothing about whether the event is possible: the cluster being
// explored (explored_cluster.h) lists the events enabled in a state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lockerd::explorer {

enum class EventKind : uint8_t {
  kSubmit,      // Client `a` sends its next scripted write (or membership change) to member `b`.
  kDeliver,     // In-flight message `a` arrives; with round trips, so do its replies.
  kDeliverOne,  // In-flight message `a` arrives; its replies stay in flight.
  kDrop,        // In-flight message `a` is lost (with FIFO links: with the rest of its link).
  kAdvance,     // Time passes to `at_ms`; members whose timers are due then tick.
  kRestart,     // Member `a` stops cleanly and starts again (`b` = 1: wall clock stepped).
  kCrash,       // Member `a` loses its memory and starts again.
  kLoseDisk,    // Member `a` loses its memory and its disk, and starts again.
  // The members of bit mask `a` (a minority; 0: none) are now the ones cut
  // off from the rest and from each other; messages to and from them wait.
  kPartition,
  // Member `a`'s log sync ends (appendonly yes): what waited for it leaves.
  kSync,
};

struct Event {
  EventKind kind = EventKind::kDeliver;
  int32_t a = 0;
  int32_t b = 0;
  int64_t at_ms = 0;  // kAdvance only.

  friend bool operator==(const Event&, const Event&) = default;
};

// "s<client>.<member>", "d<i>", "o<i>", "x<i>", "t<ms>", "r<member>.<step>",
// "k<member>", "e<member>", "p<mask>", "f<member>".
std::string EncodeEvent(const Event& event);
std::optional<Event> DecodeEvent(std::string_view text);
// Events separated by spaces.
std::string EncodeTrace(const std::vector<Event>& trace);
std::optional<std::vector<Event>> DecodeTrace(std::string_view text);

}  // namespace lockerd::explorer
