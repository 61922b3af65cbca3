// CHECK(condition): catches our own bugs, stays on in release builds, and
// stops the process with the condition's text and place. It is never used on
// input from clients or peers: their mistakes are answered, not asserted.
#pragma once

#include <cstdio>
#include <cstdlib>

#define CHECK(condition)                                                                   \
  do {                                                                                     \
    if (!(condition)) {                                                                    \
      std::fprintf(stderr, "CHECK failed: %s at %s:%d\n", #condition, __FILE__, __LINE__); \
      std::abort();                                                                        \
    }                                                                                      \
  } while (false)
