// Log lines on stderr, each with a time, the process id and a level:
//   2026-11-26 11:37:50.123 [4242] notice: Ready to accept connections
// The level is set once at startup (`loglevel`); lines below it cost one
// comparison. Not thread-safe: the server has one thread.
#pragma once

#include <optional>
#include <string_view>

namespace lockerd::server {

enum class LogLevel { kDebug = 0, kVerbose = 1, kNotice = 2, kWarning = 3 };

std::optional<LogLevel> ParseLogLevel(std::string_view name);
std::string_view LogLevelName(LogLevel level);
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

// printf-style; the line is cut at 1 KB.
void Log(LogLevel level, const char* format, ...) __attribute__((format(printf, 2, 3)));

}  // namespace lockerd::server
