// How the pf backend runs pfctl, and the privileged helper that runs it for
// a worker that has given up root (privilege separation, as OpenBSD's
// daemons do it). pfctl needs root and /dev/pf; the worker drops to an
// unprivileged user and chroots right after start. So, while still root, it
// forks a helper that keeps root and does exactly one thing: run the
// configured pfctl with arguments of the three shapes the pf backend uses,
// for the worker at the other end of a socketpair. Anything else is refused.
// The helper exits when the worker's end closes.
//
// While the worker serves, pfctl runs must not hold its only thread (a fork
// and exec per negotiation would stall every session of the worker): the
// helper runs requests concurrently, each in a child of its own, and the
// worker reads the replies on its io_context.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

// clang-format off
#include <utility>
#include <boost/asio/io_context.hpp>
// clang-format on

#include "firewall/process.hpp"

namespace firewall {

class PfctlRunner {
  public:
    using Done = std::function<void(ProgramResult)>;
    virtual ~PfctlRunner() = default;
    // At start and at exit, with no io_context running: runs argv and waits
    // (at exit, first for the runs still under way). Throws Error when it
    // cannot be run.
    virtual ProgramResult run_now(const std::vector<std::string>& argv,
                                  const std::string& input) = 0;
    // While serving: `done` gets the result, once, possibly before run()
    // returns. A run that could not happen has exit_code -1 and the reason
    // as its output.
    virtual void run(std::vector<std::string> argv, std::string input, Done done) = 0;
};

// Runs pfctl in this process with run_program(), waiting for it (a worker
// that is not root, and tests). The same function for run() and run_now().
using ProgramRunner =
    std::function<ProgramResult(const std::vector<std::string>&, const std::string&)>;
// run_program() bounded by kPfctlTimeout.
ProgramResult run_pfctl(const std::vector<std::string>& argv, const std::string& input);
std::shared_ptr<PfctlRunner> make_direct_runner(ProgramRunner program = run_pfctl);

// Whether the helper may run argv: argv[0] is `pfctl` and the rest is one of
//   -a ftp-proxy -sA
//   -a ftp-proxy/PID.SESSION -f -
//   -a ftp-proxy/PID.SESSION -F rules
bool pfctl_request_allowed(const std::vector<std::string>& argv, const std::string& pfctl);

// Runs that may be under way in the helper at once; more wait in the worker.
inline constexpr std::size_t kMaxConcurrentPfctl = 16;

// Forks the helper (call it while still root, before chroot); returns the
// runner that forwards each request to it, whose replies are read on `io`.
// The helper kills a pfctl that runs longer than `timeout`, and the runner
// gives up on a reply that is kHelperGrace later still, so every run()
// gets its answer in bounded time whatever happens to pfctl or the helper.
// Throws Error.
inline constexpr std::chrono::milliseconds kHelperGrace{5'000};
std::shared_ptr<PfctlRunner> start_privileged_runner(
    const std::string& pfctl, boost::asio::io_context& io,
    std::chrono::milliseconds timeout = kPfctlTimeout);

}  // namespace firewall
