// Writes a script's reply to its client, in the client's protocol.
#pragma once

#include "protocol/resp_writer.h"
#include "server/script/script_value.h"

namespace lockerd::server::script {

void WriteScriptValue(protocol::RespWriter& writer, const ScriptValue& value);

}  // namespace lockerd::server::script
