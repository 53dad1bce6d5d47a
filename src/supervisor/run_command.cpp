#include "supervisor/run_command.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <memory>

#include "common/spawn.hpp"
#include "common/unique_fd.hpp"

namespace supervisor {

namespace {

// A command that closed its output gets this long to exit.
constexpr std::chrono::seconds kMaxWaitAfterOutput{5};

// Shared by the coroutine and the reaper's callback.
struct Run {
    explicit Run(asio::any_io_executor executor) : exited_event(executor) {}
    pid_t pid = -1;
    bool exited = false;
    int status = 0;
    asio::steady_timer exited_event;  // cancelled when the child has exited
};

}  // namespace

std::string join_command(const std::vector<std::string>& argv) {
    std::string text;
    for (const auto& word : argv) {
        if (!text.empty()) text += ' ';
        text += word;
    }
    return text;
}

awaitable<CommandResult> run_command(ChildReaper& reaper, std::vector<std::string> argv,
                                     std::chrono::seconds timeout) {
    auto executor = co_await asio::this_coro::executor;
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) {
        co_return CommandResult{false, std::string("pipe: ") + std::strerror(errno), {}};
    }
    common::UniqueFd out_read(out[0]);
    common::UniqueFd out_write(out[1]);
    common::UniqueFd null(open("/dev/null", O_RDONLY | O_CLOEXEC));
    const common::SpawnResult spawned =
        common::spawn_process(argv, {{null.get(), 0}, {out_write.get(), 1}, {out_write.get(), 2}});
    out_write.reset();
    if (spawned.pid < 0) co_return CommandResult{false, spawned.error, {}};

    auto run = std::make_shared<Run>(executor);
    run->pid = spawned.pid;
    reaper.watch(spawned.pid, [run](int status) {
        run->exited = true;
        run->status = status;
        run->exited_event.cancel();
    });

    // The deadline kills the command and stops the reading.
    asio::posix::stream_descriptor reader(executor, out_read.release());
    bool timed_out = false;
    asio::steady_timer deadline(executor);
    deadline.expires_after(timeout);
    deadline.async_wait([&reader, &timed_out, run](error_code error) {
        if (error) return;
        timed_out = true;
        if (!run->exited) ::kill(run->pid, SIGKILL);
        error_code ignored;
        reader.close(ignored);
    });

    CommandResult result;
    char chunk[1024];
    for (;;) {
        error_code error;
        const std::size_t n =
            co_await reader.async_read_some(asio::buffer(chunk), with_error(error));
        if (error) break;  // EOF: the command (and whatever it started) closed its output
        const std::size_t room =
            kMaxCommandOutput - std::min(kMaxCommandOutput, result.output.size());
        result.output.append(chunk, std::min(n, room));
    }
    if (!run->exited) {
        run->exited_event.expires_after(kMaxWaitAfterOutput);
        error_code ignored;
        co_await run->exited_event.async_wait(with_error(ignored));
    }
    deadline.cancel();
    if (!run->exited) {  // output closed, but the command lingers past every bound
        ::kill(run->pid, SIGKILL);
        reaper.forget(run->pid);
        result.status = "did not exit";
    } else if (timed_out) {
        result.status = "timed out after " + std::to_string(timeout.count()) + " s";
    } else {
        result.status = common::describe_wait_status(run->status);
        result.ok = WIFEXITED(run->status) && WEXITSTATUS(run->status) == 0;
    }
    while (!result.output.empty() &&
           (result.output.back() == '\n' || result.output.back() == ' ')) {
        result.output.pop_back();
    }
    co_return result;
}

}  // namespace supervisor
