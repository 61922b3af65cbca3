// Recognises a command that is really an HTTP request sent to the RESP port
// (a browser, or a cross-protocol attack through an HTTP client): "POST",
// "Host:", or "<METHOD> <path> HTTP/1.x". Such a connection is answered with
// a protocol error and closed, never executed.
#pragma once

#include <span>
#include <string>

namespace lockerd::protocol {

bool LooksLikeHttp(std::span<const std::string> args);

}  // namespace lockerd::protocol
