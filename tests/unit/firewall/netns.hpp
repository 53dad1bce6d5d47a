// Network namespaces for the nftables tests: made with `ip netns add`,
// deleted by the destructor whatever the test's outcome, and namespaces a
// crashed earlier run left behind are deleted at the next start. Names are
// ftpx-fw-<pid> (firewall) and ftpx-fwc-<pid> (client).
#pragma once

#include <string>

namespace firewall::test {

// `sh -c command`: exit code, and output (stdout+stderr) when asked.
int shell(const std::string& command);
std::string shell_output(const std::string& command);

class Netns {
  public:
    // Throws std::runtime_error when the namespace cannot be made.
    explicit Netns(const std::string& prefix);
    ~Netns();
    Netns(const Netns&) = delete;
    Netns& operator=(const Netns&) = delete;

    const std::string& name() const { return name_; }
    // Runs a shell command inside; returns its output.
    std::string exec(const std::string& command) const;
    // Runs a shell command inside; returns its exit code.
    int run(const std::string& command) const;

  private:
    std::string name_;
};

// Moves the calling thread into a namespace (setns) until destroyed. Sockets
// and libnftables contexts made meanwhile belong to that namespace.
class InNetns {
  public:
    explicit InNetns(const Netns& netns);
    ~InNetns();
    InNetns(const InNetns&) = delete;
    InNetns& operator=(const InNetns&) = delete;

  private:
    int previous_ = -1;
};

}  // namespace firewall::test
