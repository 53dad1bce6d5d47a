#include "netns.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <stdexcept>

namespace firewall::test {
namespace {

// A crashed run cannot run destructors: its namespaces go the next time.
void remove_leftovers() {
    static const std::regex ours(R"(ftpx-fwc?-([0-9]+))");
    const std::string listing = shell_output("ip netns list");
    for (std::sregex_iterator it(listing.begin(), listing.end(), ours), end; it != end; ++it) {
        const pid_t pid = static_cast<pid_t>(std::stol((*it)[1].str()));
        if (pid != ::getpid() && ::kill(pid, 0) != 0)
            shell("ip netns delete " + it->str() + " 2>/dev/null");
    }
}

}  // namespace

int shell(const std::string& command) {
    const int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string shell_output(const std::string& command) {
    std::string text;
    FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    if (!pipe) return text;
    std::array<char, 4096> buffer;
    while (std::size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe))
        text.append(buffer.data(), n);
    ::pclose(pipe);
    return text;
}

Netns::Netns(const std::string& prefix) : name_(prefix + "-" + std::to_string(::getpid())) {
    remove_leftovers();
    shell("ip netns delete " + name_ + " 2>/dev/null");
    if (shell("ip netns add " + name_) != 0)
        throw std::runtime_error("ip netns add " + name_ + " failed");
    run("ip link set lo up");
}

Netns::~Netns() {
    shell("ip netns delete " + name_);
}

std::string Netns::exec(const std::string& command) const {
    return shell_output("ip netns exec " + name_ + " sh -c '" + command + "'");
}

int Netns::run(const std::string& command) const {
    return shell("ip netns exec " + name_ + " sh -c '" + command + "'");
}

InNetns::InNetns(const Netns& netns) {
    previous_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    const int target = ::open(("/run/netns/" + netns.name()).c_str(), O_RDONLY | O_CLOEXEC);
    const bool entered = previous_ >= 0 && target >= 0 && ::setns(target, CLONE_NEWNET) == 0;
    if (target >= 0) ::close(target);
    if (!entered) {
        if (previous_ >= 0) ::close(previous_);
        throw std::runtime_error("cannot enter network namespace " + netns.name());
    }
}

InNetns::~InNetns() {
    if (::setns(previous_, CLONE_NEWNET) != 0) std::abort();  // tests must not go on astray
    ::close(previous_);
}

}  // namespace firewall::test
