// Opening a link inside another network namespace.
//
// A socket belongs to the namespace it was created in, for good, whatever
// thread later uses it. So a driver needs to be in the interface's namespace
// only while it opens its sockets (and attaches its XDP program): NetnsScope
// moves the calling thread there and back. Only that thread moves (setns on a
// network namespace is per thread), so one process can hold both ends of a
// veth pair that crosses namespaces: tests and benchmarks rely on it.
#pragma once

#include <cstdint>
#include <string>

namespace vitesse {

class NetnsScope {
 public:
  // `name` as `ip netns` knows it (/run/netns/<name>), or a path to a
  // namespace file (/proc/<pid>/ns/net); empty stays where we are. Throws
  // std::runtime_error if the namespace cannot be entered.
  explicit NetnsScope(const std::string& name);
  ~NetnsScope();
  NetnsScope(const NetnsScope&) = delete;
  NetnsScope& operator=(const NetnsScope&) = delete;

 private:
  int home_ = -1;  // the namespace to return to; -1 if we never left
};

// Identifies the calling thread's network namespace (its inode number), so
// per-interface state can be keyed by (namespace, ifindex).
uint64_t current_netns_id();

}  // namespace vitesse
