// The text of INFO: "# Section" headers and "field:value" lines, CRLF
// separated, in Redis's format so that client libraries can parse it
// (ioredis reads loading:0, others read redis_version and role).
#pragma once

#include <span>
#include <string>

#include "cluster/time.h"

namespace lockerd::server {

class Engine;

// `sections` as given to INFO (any case); empty means the default set.
std::string BuildInfo(const Engine& engine, std::span<const std::string> sections,
                      cluster::Time now);

}  // namespace lockerd::server
