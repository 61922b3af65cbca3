// A client's replies, in the order of its commands, while some of them wait
// for a majority: the whole reply-ordering state, in one place.
//
// A command answered at once writes straight to reply(), unless writes
// before it are still in flight: then its bytes go into a slot of their
// own, held back until every slot before it is done. A pipelined write
// (Engine::PipelinedWrite) that leaves its round in flight takes a slot its
// reply fills when the round completes (SlotScope).
#pragma once

#include <cstdint>
#include <deque>
#include <string>

#include "protocol/resp_writer.h"

namespace lockerd::server {

class ReplyOrder {
 public:
  ReplyOrder() : writer_(&reply_) {}
  ReplyOrder(const ReplyOrder&) = delete;
  ReplyOrder& operator=(const ReplyOrder&) = delete;

  // Replies not yet handed to the socket.
  protocol::RespWriter& writer() { return writer_; }
  const protocol::RespWriter& writer() const { return writer_; }
  std::string& reply() { return reply_; }
  const std::string& reply() const { return reply_; }

  // Writes that must answer before what is written now are in flight.
  bool has_slots() const { return !slots_.empty(); }

  // Writes one answer that needs no round in its place: `write` runs with
  // the writer pointed at a slot of its own when writes are in flight.
  template <typename Write>
  void AnswerNow(const Write& write) {
    if (!has_slots()) return write();
    BeginSlot();
    write();
    EndSlot(/*done=*/true);
  }

  // The command that runs now (Engine::Execute): while writes are in
  // flight, what it writes goes into a slot of its own. `pipelined_write`:
  // it may leave its one write in flight (Engine::PipelinedWrite).
  void BeginCommand(bool pipelined_write) {
    command_ = Command{};
    command_.pipelined_write = pipelined_write;
    if (has_slots()) {
      command_.capturing = true;
      command_.slot = BeginSlot();
    }
  }
  // Its slot is done, unless its write took it (SlotForWrite).
  void EndCommand() {
    if (command_.capturing) EndSlot(/*done=*/!command_.slot_taken);
    command_ = Command{};
  }
  // Whether the running command's write may stay in flight while later
  // commands run; true once per command (one write per command), false
  // outside a command.
  bool TakePipelinedWrite() {
    const bool pipelined = command_.pipelined_write;
    command_.pipelined_write = false;
    return pipelined;
  }
  // The slot the running command's write, left in flight, fills when it
  // completes: the command's own slot, or a new one after all output so far.
  uint64_t SlotForWrite() {
    if (command_.capturing) {
      command_.slot_taken = true;
      return command_.slot;
    }
    slots_.push_back({next_slot_++, false, {}});
    return slots_.back().seq;
  }

 private:
  struct Slot {
    uint64_t seq = 0;
    bool done = false;
    std::string bytes;
  };

 public:
  // While alive, the writer writes into slot `seq`; then the slot is done.
  class SlotScope {
   public:
    SlotScope(ReplyOrder& order, uint64_t seq) : order_(order), saved_(order.writer_.output()) {
      slot_ = order.FindSlot(seq);
      if (slot_ != nullptr) order.writer_.set_output(&slot_->bytes);
    }
    ~SlotScope() {
      order_.writer_.set_output(saved_);
      if (slot_ != nullptr) slot_->done = true;
      order_.FlushSlots();
    }
    SlotScope(const SlotScope&) = delete;
    SlotScope& operator=(const SlotScope&) = delete;

   private:
    ReplyOrder& order_;
    std::string* saved_;
    Slot* slot_ = nullptr;
  };

 private:
  struct Command {
    bool pipelined_write = false;
    bool capturing = false;   // Its output goes into `slot`.
    bool slot_taken = false;  // Its write, in flight, fills `slot`.
    uint64_t slot = 0;
  };

  // Sends what the writer writes from now on into a new slot.
  uint64_t BeginSlot() {
    slots_.push_back({next_slot_++, false, {}});
    writer_.set_output(&slots_.back().bytes);
    return slots_.back().seq;
  }
  // Back to reply(); `done`: the slot is complete (else a write fills it).
  void EndSlot(bool done) {
    slots_.back().done = done;
    writer_.set_output(&reply_);
    FlushSlots();
  }
  Slot* FindSlot(uint64_t seq) {
    if (slots_.empty() || seq < slots_.front().seq) return nullptr;
    const uint64_t index = seq - slots_.front().seq;
    return index < slots_.size() ? &slots_[index] : nullptr;
  }
  void FlushSlots() {
    while (!slots_.empty() && slots_.front().done) {
      reply_ += slots_.front().bytes;
      slots_.pop_front();
    }
  }

  std::string reply_;
  protocol::RespWriter writer_;
  std::deque<Slot> slots_;
  uint64_t next_slot_ = 0;
  Command command_;
};

}  // namespace lockerd::server
