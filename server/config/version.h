// Version strings. Client libraries read `redis_version` (INFO) and
// `version` (HELLO) to decide which commands they may send; lockerd answers
// with the Redis version whose command surface it follows.
#pragma once

#include <string_view>

namespace lockerd::server {

inline constexpr std::string_view kLockerdVersion = "0.1.0";
inline constexpr std::string_view kRedisCompatVersion = "7.2.0";

}  // namespace lockerd::server
