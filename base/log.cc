#include "base/log.h"

#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <ctime>

namespace lockerd::server {
namespace {

LogLevel g_level = LogLevel::kNotice;

}  // namespace

std::optional<LogLevel> ParseLogLevel(std::string_view name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "verbose") return LogLevel::kVerbose;
  if (name == "notice") return LogLevel::kNotice;
  if (name == "warning") return LogLevel::kWarning;
  return std::nullopt;
}

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kVerbose: return "verbose";
    case LogLevel::kNotice: return "notice";
    case LogLevel::kWarning: return "warning";
  }
  return "notice";
}

void SetLogLevel(LogLevel level) { g_level = level; }
bool LogEnabled(LogLevel level) { return level >= g_level; }

void Log(LogLevel level, const char* format, ...) {
  if (!LogEnabled(level)) return;
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  tm local{};
  localtime_r(&now.tv_sec, &local);
  char stamp[32];
  strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &local);
  char message[1024];
  va_list args;
  va_start(args, format);
  vsnprintf(message, sizeof message, format, args);
  va_end(args);
  const std::string_view name = LogLevelName(level);
  std::fprintf(stderr, "%s.%03ld [%d] %.*s: %s\n", stamp, now.tv_nsec / 1'000'000,
               static_cast<int>(getpid()), static_cast<int>(name.size()), name.data(), message);
}

}  // namespace lockerd::server
