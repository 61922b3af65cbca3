#include "server/script/script_reply.h"

#include <string>

namespace lockerd::server::script {

void WriteScriptValue(protocol::RespWriter& writer, const ScriptValue& value) {
  switch (value.kind) {
    case ScriptValue::Kind::kNull:
      return writer.WriteNull();
    case ScriptValue::Kind::kNullArray:
      return writer.WriteNullArray();
    case ScriptValue::Kind::kInteger:
      return writer.WriteInteger(value.integer);
    case ScriptValue::Kind::kBulk:
      return writer.WriteBulk(value.text);
    case ScriptValue::Kind::kStatus: {
      // A script chooses this text: a line break would end the reply early.
      std::string line = value.text;
      for (char& c : line) c = (c == '\r' || c == '\n') ? ' ' : c;
      return writer.WriteSimpleString(line);
    }
    case ScriptValue::Kind::kError:
      return writer.WriteError(value.text);
    case ScriptValue::Kind::kArray:
      writer.WriteArrayHeader(value.items.size());
      for (const ScriptValue& item : value.items) WriteScriptValue(writer, item);
      return;
  }
}

}  // namespace lockerd::server::script
