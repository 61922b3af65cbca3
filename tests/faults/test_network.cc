#include "tests/faults/test_network.h"

#include <unistd.h>

#include "tests/support/lockerd_process.h"

namespace lockerd::faults {

int Run(const std::vector<std::string>& args, std::string* output) {
  const testing::ProcessResult result = testing::RunProgram(args, {}, std::chrono::seconds(20));
  if (output != nullptr) *output = result.output;
  return result.exit_code;
}

std::unique_ptr<TestNetwork> TestNetwork::Create(size_t members, std::string* why_not) {
  if (geteuid() != 0) {
    *why_not = "not root: network namespaces need root";
    return nullptr;
  }
  std::unique_ptr<TestNetwork> network(new TestNetwork());
  if (!network->Setup(members, why_not)) return nullptr;  // The destructor cleans up.
  return network;
}

bool TestNetwork::Setup(size_t members, std::string* why_not) {
  // A run that died (kill -9, a lost machine) leaves its namespaces, bridge
  // and addresses behind; pick names and a subnet nobody holds, so that a
  // later run never routes to a dead run's members.
  std::string addresses;
  std::string names;
  Run({"ip", "-o", "addr", "show"}, &addresses);
  Run({"ip", "netns", "list"}, &names);
  const int first = static_cast<int>(getpid() % 10000);
  for (int step = 0;; ++step) {
    if (step == 250) {
      *why_not = "every test subnet 10.77.0-249.0/24 is in use (stale lkf* namespaces or bridges?)";
      return false;
    }
    const int id = (first + step) % 10000;
    prefix_ = "lkf" + std::to_string(id);
    subnet_ = "10.77." + std::to_string(id % 250) + ".";
    if (addresses.find(" " + subnet_) == std::string::npos &&
        names.find(prefix_ + "n") == std::string::npos &&
        Run({"ip", "link", "show", prefix_ + "br"}) != 0) {
      break;
    }
  }
  const std::string bridge = prefix_ + "br";
  std::string output;
  if (Run({"ip", "link", "add", bridge, "type", "bridge"}, &output) != 0) {
    *why_not = "cannot create a bridge: " + output;
    return false;
  }
  Run({"ip", "addr", "add", subnet_ + "254/24", "dev", bridge});
  Run({"ip", "link", "set", bridge, "up"});
  for (size_t i = 0; i < members; ++i) {
    const std::string ns = prefix_ + "n" + std::to_string(i);
    const std::string veth = prefix_ + "v" + std::to_string(i);
    const std::string address = subnet_ + std::to_string(i + 1);
    if (Run({"ip", "netns", "add", ns}, &output) != 0) {
      *why_not = "cannot create a network namespace: " + output;
      return false;
    }
    namespaces_.push_back(ns);
    addresses_.push_back(address);
    if (Run({"ip", "link", "add", veth, "type", "veth", "peer", "name", veth + "p"}, &output) != 0 ||
        Run({"ip", "link", "set", veth + "p", "netns", ns}, &output) != 0 ||
        Run({"ip", "link", "set", veth, "master", bridge}, &output) != 0) {
      *why_not = "cannot wire a veth pair: " + output;
      return false;
    }
    Run({"ip", "link", "set", veth, "up"});
    Run({"ip", "-n", ns, "addr", "add", address + "/24", "dev", veth + "p"});
    Run({"ip", "-n", ns, "link", "set", veth + "p", "up"});
    Run({"ip", "-n", ns, "link", "set", "lo", "up"});
    Run({"ip", "-n", ns, "route", "add", "default", "via", subnet_ + "254"});
    // Chains of our own, so that cuts and loss can be flushed apart.
    for (const char* chain : {"LKCUT", "LKLOSS"}) {
      if (Run({"ip", "netns", "exec", ns, "iptables", "-N", chain}, &output) != 0) {
        *why_not = "iptables does not work in a namespace: " + output;
        return false;
      }
    }
    Run({"ip", "netns", "exec", ns, "iptables", "-A", "INPUT", "-j", "LKCUT"});
    Run({"ip", "netns", "exec", ns, "iptables", "-A", "OUTPUT", "-j", "LKCUT"});
    Run({"ip", "netns", "exec", ns, "iptables", "-A", "INPUT", "-j", "LKLOSS"});
  }
  // tc netem is a kernel module; some kernels (this sandbox's) lack it.
  netem_ = Run({"ip", "netns", "exec", namespaces_[0], "tc", "qdisc", "add", "dev",
                prefix_ + "v0p", "root", "netem", "delay", "0ms"}) == 0;
  if (netem_) Run({"ip", "netns", "exec", namespaces_[0], "tc", "qdisc", "del", "dev", prefix_ + "v0p", "root"});
  return true;
}

TestNetwork::~TestNetwork() { Teardown(); }

void TestNetwork::Teardown() {
  for (const std::string& ns : namespaces_) Run({"ip", "netns", "del", ns});  // Deletes its veth end.
  for (size_t i = 0; i < namespaces_.size() + 1; ++i) {
    Run({"ip", "link", "del", prefix_ + "v" + std::to_string(i)});
  }
  if (!prefix_.empty()) Run({"ip", "link", "del", prefix_ + "br"});
}

void TestNetwork::Cut(size_t a, size_t b) {
  for (const auto& [here, there] : {std::pair{a, b}, std::pair{b, a}}) {
    Run({"ip", "netns", "exec", namespaces_[here], "iptables", "-A", "LKCUT", "-s",
         addresses_[there], "-j", "DROP"});
    Run({"ip", "netns", "exec", namespaces_[here], "iptables", "-A", "LKCUT", "-d",
         addresses_[there], "-j", "DROP"});
  }
}

void TestNetwork::HealAll() {
  for (const std::string& ns : namespaces_) Run({"ip", "netns", "exec", ns, "iptables", "-F", "LKCUT"});
}

void TestNetwork::SetLoss(size_t member, double share) {
  Run({"ip", "netns", "exec", namespaces_[member], "iptables", "-F", "LKLOSS"});
  if (share <= 0) return;
  Run({"ip", "netns", "exec", namespaces_[member], "iptables", "-A", "LKLOSS", "-m", "statistic",
       "--mode", "random", "--probability", std::to_string(share), "-j", "DROP"});
}

void TestNetwork::SetDelay(size_t member, int ms) {
  if (!netem_) return;
  const std::string dev = prefix_ + "v" + std::to_string(member) + "p";
  Run({"ip", "netns", "exec", namespaces_[member], "tc", "qdisc", "del", "dev", dev, "root"});
  if (ms > 0) {
    Run({"ip", "netns", "exec", namespaces_[member], "tc", "qdisc", "add", "dev", dev, "root",
         "netem", "delay", std::to_string(ms) + "ms", std::to_string(ms / 4) + "ms"});
  }
}

}  // namespace lockerd::faults
