// This member's own view of a few keys, as GET and the other local reads
// see it: what read-only scripts and transactions that write nothing run on.
#pragma once

#include <string>
#include <vector>

#include "cluster/messages.h"
#include "cluster/time.h"

namespace lockerd::server {

class Engine;

std::vector<cluster::LeaseView> LocalLeases(const Engine& engine, const std::vector<std::string>& names,
                                            cluster::Time now);

}  // namespace lockerd::server
