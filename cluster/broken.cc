#include "cluster/broken.h"

namespace lockerd::cluster {

BrokenRules& Broken() {
  static BrokenRules rules;
  return rules;
}

}  // namespace lockerd::cluster
