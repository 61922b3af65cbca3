// A private network for the fault suite: each member in its own network
// namespace, joined by veth pairs to a bridge in the root namespace (where
// the clients run), on addresses of a private test range. Links between
// members are cut and healed with iptables inside the namespaces; packet
// loss uses iptables' statistic match; delay uses tc netem where the kernel
// has it. Everything the network creates it deletes again.
//
// Needs root and a kernel that allows network namespaces; Create() says
// why not otherwise, and the suite then runs on loopback without partitions.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace lockerd::faults {

class TestNetwork {
 public:
  static std::unique_ptr<TestNetwork> Create(size_t members, std::string* why_not);
  ~TestNetwork();
  TestNetwork(const TestNetwork&) = delete;
  TestNetwork& operator=(const TestNetwork&) = delete;

  const std::string& address(size_t member) const { return addresses_[member]; }
  const std::string& ns(size_t member) const { return namespaces_[member]; }
  bool netem_available() const { return netem_; }

  // Drops every packet between members a and b, both ways.
  void Cut(size_t a, size_t b);
  void HealAll();
  // Drops this share (0..1) of the packets a member receives; 0 stops it.
  void SetLoss(size_t member, double share);
  // Delays what a member sends by `ms` (tc netem); no-op without netem.
  void SetDelay(size_t member, int ms);

 private:
  TestNetwork() = default;
  bool Setup(size_t members, std::string* why_not);
  void Teardown();

  std::string prefix_;  // Names: <prefix>br, <prefix>m<i>, ...
  std::string subnet_;  // "10.77.<n>."
  std::vector<std::string> namespaces_;
  std::vector<std::string> addresses_;
  bool netem_ = false;
};

// Runs a program (no shell); returns its exit code, output in *output.
int Run(const std::vector<std::string>& args, std::string* output = nullptr);

}  // namespace lockerd::faults
