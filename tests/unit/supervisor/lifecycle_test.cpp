// The worker life cycle and its backoff, driven with a fake clock: every
// transition of lifecycle.hpp's diagram, and the restart delays.
#include "supervisor/lifecycle.hpp"

#include <gtest/gtest.h>

namespace {

using namespace supervisor;
using namespace std::chrono_literals;
using Do = Step::Do;

constexpr Step kSpawn{Do::spawn};
constexpr Step kNothing{};

Step wait_for(milliseconds delay) {
    return {Do::wait, delay};
}

class LifecycleTest : public ::testing::Test {
  protected:
    Clock::time_point now{std::chrono::hours(1)};
    Lifecycle life;

    // start -> spawned -> startup elapsed: RUNNING.
    void run_worker() {
        ASSERT_EQ(life.start(now), kSpawn);
        ASSERT_EQ(life.spawned(now), wait_for(1000ms));
        now += 1s;
        ASSERT_EQ(life.timer_expired(now), kNothing);
        ASSERT_EQ(life.state(), State::running);
    }

    // The worker dies after `uptime`; the step that follows.
    Step crash_after(Clock::duration uptime) {
        now += uptime;
        return life.worker_exited("killed by SIGKILL", now);
    }
};

TEST(Backoff, FirstFailureAtOnceThenDoublingUpToTheCap) {
    Backoff backoff{RestartPolicy{}};
    std::vector<milliseconds> delays;
    for (int i = 0; i < 9; ++i) delays.push_back(backoff.next_delay(0s).value());
    EXPECT_EQ(delays, (std::vector<milliseconds>{0ms, 1000ms, 2000ms, 4000ms, 8000ms, 16000ms,
                                                 32000ms, 60000ms, 60000ms}));
    EXPECT_EQ(backoff.next_delay(0s), std::nullopt) << "the 10th failure in a row is the limit";
}

TEST(Backoff, AStableRunStartsOver) {
    Backoff backoff{RestartPolicy{}};
    for (int i = 0; i < 5; ++i) backoff.next_delay(1s);
    EXPECT_EQ(backoff.next_delay(59s), 16000ms) << "59 s is not yet stable";
    EXPECT_EQ(backoff.next_delay(60s), 0ms) << "60 s is: at once again";
    EXPECT_EQ(backoff.failures(), 1);
}

TEST(Backoff, FollowsThePolicy) {
    RestartPolicy policy;
    policy.first_delay = 100ms;
    policy.max_delay = 250ms;
    policy.max_failures = 5;
    Backoff backoff{policy};
    EXPECT_EQ(backoff.next_delay(0s), 0ms);
    EXPECT_EQ(backoff.next_delay(0s), 100ms);
    EXPECT_EQ(backoff.next_delay(0s), 200ms);
    EXPECT_EQ(backoff.next_delay(0s), 250ms);
    EXPECT_EQ(backoff.next_delay(0s), std::nullopt);
}

TEST_F(LifecycleTest, StartsStoppedAndBecomesRunningAfterTheStartupPeriod) {
    EXPECT_EQ(life.state(), State::stopped);
    EXPECT_EQ(life.start(now), kSpawn);
    EXPECT_EQ(life.spawned(now), wait_for(1000ms));
    EXPECT_EQ(life.state(), State::starting);
    EXPECT_EQ(life.timer_expired(now + 1s), kNothing);
    EXPECT_EQ(life.state(), State::running);
    EXPECT_EQ(life.start(now), kNothing) << "already running";
}

TEST_F(LifecycleTest, ADeadWorkerIsRestartedAtOnceThenWithGrowingDelays) {
    run_worker();
    EXPECT_EQ(crash_after(10s), kSpawn);
    EXPECT_EQ(life.restarts(), 1);
    ASSERT_TRUE(life.last_exit().has_value());
    EXPECT_EQ(life.last_exit()->reason, "killed by SIGKILL");
    EXPECT_EQ(life.last_exit()->at, now);

    life.spawned(now);
    EXPECT_EQ(crash_after(100ms), wait_for(1000ms));
    EXPECT_EQ(life.state(), State::backoff);
    EXPECT_EQ(life.timer_expired(now + 1s), kSpawn);
    life.spawned(now);
    EXPECT_EQ(crash_after(100ms), wait_for(2000ms));
    EXPECT_EQ(life.restarts(), 3);
}

TEST_F(LifecycleTest, KeepsDyingUntilFatal) {
    run_worker();
    for (int i = 0; i < 9; ++i) {
        const Step step = crash_after(10ms);
        ASSERT_NE(step, kNothing) << "failure " << i + 1;
        life.spawned(now);
    }
    EXPECT_EQ(crash_after(10ms), kNothing);
    EXPECT_EQ(life.state(), State::fatal);
    EXPECT_EQ(life.restarts(), 10) << "every failure counts, the 10th too";
    EXPECT_EQ(life.timer_expired(now + 1h), kNothing) << "a stale timer does not revive it";
    EXPECT_EQ(life.start(now), kSpawn) << "the operator can";
    EXPECT_EQ(life.spawned(now), wait_for(1000ms));
    EXPECT_EQ(crash_after(10ms), kSpawn) << "with a fresh backoff";
}

TEST_F(LifecycleTest, EveryFailedStartCountsTheLastOneToo) {
    EXPECT_EQ(life.start(now), kSpawn);
    for (int i = 1; i <= 10; ++i) {
        life.spawn_failed("cannot listen on 127.0.0.1:21: bind: Address already in use", now);
        EXPECT_EQ(life.restarts(), i) << "failure " << i;
    }
    EXPECT_EQ(life.state(), State::fatal);
}

TEST_F(LifecycleTest, AFailureAfterAStableRunRestartsAtOnce) {
    run_worker();
    crash_after(1s);  // at once
    life.spawned(now);
    EXPECT_EQ(crash_after(1s), wait_for(1000ms));
    life.timer_expired(now);
    life.spawned(now);
    EXPECT_EQ(crash_after(2min), kSpawn);
}

TEST_F(LifecycleTest, SpawnFailuresBackOffLikeCrashes) {
    EXPECT_EQ(life.start(now), kSpawn);
    EXPECT_EQ(life.spawn_failed("cannot listen on 127.0.0.1:21: bind: Address in use", now),
              kSpawn);
    EXPECT_EQ(life.spawn_failed("cannot listen on 127.0.0.1:21: bind: Address in use", now),
              wait_for(1000ms));
    EXPECT_EQ(life.state(), State::backoff);
    EXPECT_EQ(life.last_exit()->reason, "cannot listen on 127.0.0.1:21: bind: Address in use");
}

TEST_F(LifecycleTest, DrainEndsStopped) {
    run_worker();
    EXPECT_EQ(life.drain(now), Step{Do::drain_worker});
    EXPECT_EQ(life.state(), State::draining);
    EXPECT_EQ(life.drain(now), kNothing);
    EXPECT_EQ(life.worker_exited("exit 0", now + 5s), kNothing);
    EXPECT_EQ(life.state(), State::stopped);
    EXPECT_EQ(life.restarts(), 0) << "an exit that was asked for is no failure";
    EXPECT_EQ(life.last_exit()->reason, "exit 0");
}

TEST_F(LifecycleTest, StopClosesSessionsAndCutsADrainShort) {
    run_worker();
    EXPECT_EQ(life.stop(now), Step{Do::stop_worker});
    EXPECT_EQ(life.state(), State::draining);
    EXPECT_EQ(life.worker_exited("exit 0", now), kNothing);
    EXPECT_EQ(life.state(), State::stopped);
    EXPECT_EQ(life.stop(now), kNothing) << "already stopped";

    run_worker();
    EXPECT_EQ(life.drain(now), Step{Do::drain_worker});
    EXPECT_EQ(life.stop(now), Step{Do::stop_worker});
}

TEST_F(LifecycleTest, StopOrDrainDuringBackoffCancelsTheRestart) {
    run_worker();
    crash_after(1s);
    life.spawned(now);
    crash_after(1s);
    ASSERT_EQ(life.state(), State::backoff);
    EXPECT_EQ(life.stop(now), kNothing);
    EXPECT_EQ(life.state(), State::stopped);
    EXPECT_EQ(life.timer_expired(now + 1min), kNothing) << "the pending restart is void";

    run_worker();
    crash_after(1s);
    life.spawned(now);
    crash_after(1s);
    EXPECT_EQ(life.drain(now), kNothing);
    EXPECT_EQ(life.state(), State::stopped);
}

TEST_F(LifecycleTest, StartWhileDrainingStartsANewWorker) {
    run_worker();
    life.drain(now);
    EXPECT_EQ(life.start(now), kSpawn);
    EXPECT_EQ(life.spawned(now), wait_for(1000ms));
    EXPECT_EQ(life.state(), State::starting);
}

TEST_F(LifecycleTest, RestartReplacesInAnyStateWithAFreshBackoff) {
    run_worker();
    crash_after(1s);
    life.spawned(now);
    crash_after(1s);
    ASSERT_EQ(life.failures_in_a_row(), 2);
    EXPECT_EQ(life.restart(now), kSpawn);
    EXPECT_EQ(life.failures_in_a_row(), 0);
    life.spawned(now);
    EXPECT_EQ(crash_after(1s), kSpawn);
}

TEST_F(LifecycleTest, StaleStartupTimerAfterACrashDoesNothing) {
    ASSERT_EQ(life.start(now), kSpawn);
    life.spawned(now);
    EXPECT_EQ(crash_after(10ms), kSpawn);
    EXPECT_EQ(life.state(), State::backoff);
    // The runner cancels the timer; if it fired anyway it must not count.
    life.spawned(now);
    EXPECT_EQ(life.state(), State::starting);
}

TEST(State, NamesAreUpperCase) {
    EXPECT_EQ(to_string(State::starting), "STARTING");
    EXPECT_EQ(to_string(State::running), "RUNNING");
    EXPECT_EQ(to_string(State::backoff), "BACKOFF");
    EXPECT_EQ(to_string(State::draining), "DRAINING");
    EXPECT_EQ(to_string(State::stopped), "STOPPED");
    EXPECT_EQ(to_string(State::fatal), "FATAL");
}

}  // namespace
