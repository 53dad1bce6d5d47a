// A budget for log lines that a peer can provoke at will: refused commands,
// port theft, odd server replies. A client repeating a refused command in a
// loop would otherwise write millions of lines; one session must not be able
// to flood the log that every other session's lines go to.
//
// A token bucket: `burst` lines at once, then one more per `refill`. Lines
// over the budget are counted; the next line logged says how many were left
// out, and so does the end of the session.
#pragma once

#include <chrono>
#include <cstdint>

namespace proxy {

class LogLimiter {
  public:
    using Clock = std::chrono::steady_clock;

    LogLimiter(unsigned burst, Clock::duration refill, Clock::time_point now);

    // True when a line may be logged now; false counts it as left out.
    bool allow(Clock::time_point now);
    // Lines left out since the last call, and resets the count.
    std::uint64_t take_suppressed();

  private:
    unsigned burst_;
    Clock::duration refill_;
    unsigned tokens_;
    Clock::time_point refilled_at_;
    std::uint64_t suppressed_ = 0;
};

}  // namespace proxy
