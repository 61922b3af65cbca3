// Parsing of the clients' scripts (client_script.h) and the named presets.
// It checks the words and key numbers only; what a write does is the
// cluster's business.
#include "tests/explorer/client_script.h"

#include <charconv>

namespace lockerd::explorer {
namespace {

struct Preset {
  const char* name;
  const char* script;
};

// Shapes of client traffic; which member each write goes through, and when,
// is the explorer's to choose.
constexpr Preset kPresets[] = {
    {"lock", "A: lock; B: lock"},
    {"lock-release", "A: lock, release; B: lock, release"},
    // A client that comes back with its owner name after another client.
    {"relock", "A: lock, release, lock; C: lock, release"},
    // One client that takes the key three times under one owner name.
    {"again", "A: lock, release, lock, release, lock"},
    {"extend", "A: lock 100, extend 100; D: lock"},
    {"two-keys", "A: lock k0, lock k1; B: lock k1, lock k0"},
    // Two workers sharing one owner name (Celery's task id): SET NX, then
    // DEL (issue 15's finding on the wider client matrix).
    {"shared-owner", "A: setnx, del, setnx; A: setnx"},
    // Membership changes (issue 18) around lock traffic: the first with
    // --members 1 --spares 2, the others with --members 3 --spares 1.
    {"grow-1-to-3", "A: lock, release; B: lock; O: add m1, add m2"},
    {"grow-and-shrink-3-4-3", "A: lock; B: lock; O: add m3 @m1, remove m0 @m1"},
    // The simulator's kReplaceTheWriters: a spare added by one writer, that
    // writer removed by the other, the other by the spare.
    {"replace-the-writers", "A: lock; B: lock; O: add m3 @m1, remove m0 @m1, remove m1 @m2"},
};

using Kind = cluster::MembershipRequest::Kind;

struct ChangeWord {
  const char* word;
  Kind kind;
};

constexpr ChangeWord kChangeWords[] = {
    {"add", Kind::kAddVoter}, {"add-learner", Kind::kAddLearner}, {"remove", Kind::kRemove},
    {"promote", Kind::kPromote}, {"demote", Kind::kDemote},          {"settle", Kind::kSettle},
};

std::string_view Trim(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  return text;
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  for (;;) {
    const size_t at = text.find(separator);
    parts.push_back(Trim(text.substr(0, at)));
    if (at == std::string_view::npos) return parts;
    text = text.substr(at + 1);
  }
}

// A member id: "3" or "m3", below `processes`.
std::optional<cluster::MemberId> ParseMember(std::string_view word, size_t processes,
                                             std::string_view text, std::string* problem) {
  if (!word.empty() && word.front() == 'm') word.remove_prefix(1);
  int64_t number = 0;
  const auto [end, error] = std::from_chars(word.data(), word.data() + word.size(), number);
  if (error != std::errc() || end != word.data() + word.size() || number < 0) {
    *problem = "bad member in '" + std::string(text) + "'";
    return std::nullopt;
  }
  if (static_cast<size_t>(number) >= processes) {
    *problem = "member m" + std::to_string(number) + " in '" + std::string(text) + "' but only " +
               std::to_string(processes) + " processes";
    return std::nullopt;
  }
  return static_cast<cluster::MemberId>(number);
}

std::optional<ScriptedWrite> ParseWrite(std::string_view text, size_t keys_count,
                                        size_t processes, std::string* problem) {
  ScriptedWrite write;
  std::vector<std::string_view> words = Split(text, ' ');
  std::erase_if(words, [](std::string_view word) { return word.empty(); });
  if (words.empty()) {
    *problem = "an empty step";
    return std::nullopt;
  }
  if (words.back().front() == '@') {
    const std::optional<cluster::MemberId> via =
        ParseMember(words.back().substr(1), processes, text, problem);
    if (!via) return std::nullopt;
    write.via = via;
    words.pop_back();
    if (words.empty()) {
      *problem = "nothing to send in '" + std::string(text) + "'";
      return std::nullopt;
    }
  }
  for (const ChangeWord& change : kChangeWords) {
    if (words[0] != change.word) continue;
    write.change = change.kind;
    if (words.size() != (change.kind == Kind::kSettle ? 1u : 2u)) {
      *problem = change.kind == Kind::kSettle
                     ? "'settle' names no member, not '" + std::string(text) + "'"
                     : "'" + std::string(change.word) + "' names one member, not '" +
                           std::string(text) + "'";
      return std::nullopt;
    }
    if (change.kind == Kind::kSettle) return write;
    const std::optional<cluster::MemberId> member = ParseMember(words[1], processes, text, problem);
    if (!member) return std::nullopt;
    write.member = *member;
    return write;
  }
  if (words[0] == "lock") {
    write.op = cluster::WriteOp::kLock;
  } else if (words[0] == "setnx") {
    write.op = cluster::WriteOp::kLock;
    write.only_if_free = true;
  } else if (words[0] == "del") {
    write.op = cluster::WriteOp::kDelete;
  } else if (words[0] == "extend") {
    write.op = cluster::WriteOp::kExtend;
  } else if (words[0] == "release") {
    write.op = cluster::WriteOp::kRelease;
  } else {
    *problem = "unknown write '" + std::string(words[0]) + "'";
    return std::nullopt;
  }
  for (size_t i = 1; i < words.size(); ++i) {
    std::string_view word = words[i];
    if (word.empty()) continue;
    const bool key = word.front() == 'k';
    if (key) word.remove_prefix(1);
    int64_t number = 0;
    const auto [end, error] = std::from_chars(word.data(), word.data() + word.size(), number);
    if (error != std::errc() || end != word.data() + word.size() || number < 0) {
      *problem = "bad word '" + std::string(words[i]) + "' in '" + std::string(text) + "'";
      return std::nullopt;
    }
    if (key) {
      if (static_cast<size_t>(number) >= keys_count) {
        *problem =
            "key k" + std::to_string(number) + " but only " + std::to_string(keys_count) + " keys";
        return std::nullopt;
      }
      write.key = static_cast<size_t>(number);
    } else {
      write.ttl_ms = number;
    }
  }
  return write;
}

}  // namespace

std::optional<std::vector<ClientScript>> ParseScripts(std::string_view text, size_t keys_count,
                                                      size_t processes, std::string* problem) {
  for (const Preset& preset : kPresets) {
    if (text == preset.name) text = preset.script;
  }
  std::vector<ClientScript> clients;
  for (const std::string_view part : Split(text, ';')) {
    const size_t colon = part.find(':');
    if (colon == std::string_view::npos || Trim(part.substr(0, colon)).empty()) {
      *problem = "a client is 'owner: write, write, ...', not '" + std::string(part) + "'";
      return std::nullopt;
    }
    ClientScript client;
    client.owner = std::string(Trim(part.substr(0, colon)));
    for (const std::string_view write_text : Split(part.substr(colon + 1), ',')) {
      std::optional<ScriptedWrite> write = ParseWrite(write_text, keys_count, processes, problem);
      if (!write) return std::nullopt;
      client.writes.push_back(*write);
    }
    clients.push_back(std::move(client));
  }
  return clients;
}

std::string ScriptPresets() {
  std::string text;
  for (const Preset& preset : kPresets) {
    text += std::string("  ") + preset.name + " = " + preset.script + "\n";
  }
  return text;
}

std::string KeyName(size_t key) { return "k" + std::to_string(key); }

std::string ChangeText(const ScriptedWrite& write) {
  if (!write.change) return "write";
  for (const ChangeWord& change : kChangeWords) {
    if (change.kind != *write.change) continue;
    if (change.kind == Kind::kSettle) return change.word;
    return std::string(change.word) + " m" + std::to_string(write.member);
  }
  return "change";
}

}  // namespace lockerd::explorer
