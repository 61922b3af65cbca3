// Socket address helpers: "ip:port" text in Redis's format ("[::1]:6379" for
// IPv6), loopback detection for protected mode, and parsing a bind address.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <optional>
#include <string>

namespace lockerd::server {

std::string FormatAddress(const sockaddr_storage& address);
bool IsLoopback(const sockaddr_storage& address);
// "127.0.0.1" or "::1" with a port; nullopt for text that is neither.
std::optional<sockaddr_storage> ParseBindAddress(const std::string& host, int port);

}  // namespace lockerd::server
