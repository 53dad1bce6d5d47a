// A wake-up call between coroutines of one worker thread: one waits until a
// condition it checks holds, the other calls notify() whenever the condition
// may have changed. Waiters re-check after every wake-up, so a notify() with
// nobody waiting is simply lost, which is what such a loop wants.
//
//     while (queue_full()) co_await room_.wait();   // consumer side
//     room_.notify();                               // after each pop
#pragma once

#include "proxy/asio.hpp"

namespace proxy {

class Wakeup {
  public:
    explicit Wakeup(const asio::any_io_executor& executor)
        : timer_(executor, asio::steady_timer::time_point::max()) {}

    // Wakes every coroutine waiting now.
    void notify() { timer_.cancel(); }
    // Completes at the next notify().
    awaitable<void> wait() {
        error_code ignored;
        co_await timer_.async_wait(with_error(ignored));
    }

  private:
    asio::steady_timer timer_;  // never expires: only cancelled
};

}  // namespace proxy
