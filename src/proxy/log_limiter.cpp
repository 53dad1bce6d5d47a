#include "proxy/log_limiter.hpp"

#include <algorithm>
#include <utility>

namespace proxy {

LogLimiter::LogLimiter(unsigned burst, Clock::duration refill, Clock::time_point now)
    : burst_(burst), refill_(refill), tokens_(burst), refilled_at_(now) {}

bool LogLimiter::allow(Clock::time_point now) {
    if (tokens_ < burst_ && now >= refilled_at_ + refill_) {
        const auto earned = static_cast<std::uint64_t>((now - refilled_at_) / refill_);
        tokens_ = static_cast<unsigned>(std::min<std::uint64_t>(burst_, tokens_ + earned));
        refilled_at_ += refill_ * static_cast<Clock::rep>(earned);
    }
    if (tokens_ == 0) {
        ++suppressed_;
        return false;
    }
    if (tokens_ == burst_) refilled_at_ = now;  // the refill period starts with the first spend
    --tokens_;
    return true;
}

std::uint64_t LogLimiter::take_suppressed() {
    return std::exchange(suppressed_, 0);
}

}  // namespace proxy
