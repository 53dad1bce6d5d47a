// The node's fitness (pure) and its demotion: each method's actions, the
// books that keep a demotion from being applied twice or left behind, and a
// clean stop that takes it back. Real files and real child processes (a
// stand-in script for the CARP tools).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "supervisor/node_demotion.hpp"
#include "supervisor/node_fitness.hpp"

namespace supervisor {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

TEST(NodeFitness, FitWhenEveryInstanceRunsWithABackendUp) {
    const std::vector<InstanceFitness> ok = {
        {"ftp01", State::running, true, false, {Health::down, Health::up}},
        {"ftp02", State::running, true, false, {}},  // forward mode, or checks off
    };
    EXPECT_EQ(judge_node(ok), (Fitness{true, ""}));
}

TEST(NodeFitness, TheFirstFailureIsNamedAndTheRestCounted) {
    EXPECT_EQ(judge_node(std::vector<InstanceFitness>{
                  {"ftp01", State::running, true, false, {Health::down, Health::down}},
                  {"ftp02", State::fatal, true, false, {}},
                  {"ftp03", State::backoff, true, false, {Health::up}}}),
              (Fitness{false, "ftp01 has no healthy backend (and 2 more)"}));
    EXPECT_EQ(judge_node(std::vector<InstanceFitness>{{"ftp02", State::fatal, true, false, {}}}),
              (Fitness{false, "ftp02 is FATAL"}));
    // Ready-gating: not fit before the first check has answered.
    EXPECT_EQ(judge_node(std::vector<InstanceFitness>{
                  {"ftp01", State::running, true, false, {Health::unknown, Health::down}}}),
              (Fitness{false, "ftp01's backends are not checked yet"}));
    EXPECT_EQ(judge_node(std::vector<InstanceFitness>{{"ftp01", State::starting, true, false, {}}}),
              (Fitness{false, "ftp01 is STARTING"}));
    // Starting again after having served, its socket open all along (a
    // crash, a restart): connections wait in the backlog, the node serves.
    EXPECT_EQ(judge_node(std::vector<InstanceFitness>{{"ftp01", State::starting, true, true, {}}}),
              (Fitness{true, ""}));
    EXPECT_EQ(judge_node(std::vector<InstanceFitness>{{"ftp01", State::backoff, true, true, {}}}),
              (Fitness{false, "ftp01 is BACKOFF"}));
    // A worker that does not answer (stopped, stuck) serves nobody.
    EXPECT_EQ(judge_node(std::vector<InstanceFitness>{
                  {"ftp01", State::running, false, false, {Health::up}}}),
              (Fitness{false, "ftp01's worker does not answer (UNRESPONSIVE)"}));
}

TEST(DemotionActions, EachMethod) {
    config::ClusterSettings cluster;
    EXPECT_EQ(demote_action(cluster), DemotionAction{});
    cluster.demotion = config::Demotion::keepalived;
    cluster.track_file = "/run/x/track";
    EXPECT_EQ(demote_action(cluster).describe(), "write 1 to /run/x/track");
    EXPECT_EQ(promote_action(cluster).describe(), "write 0 to /run/x/track");
    cluster.demotion = config::Demotion::openbsd_carp;
    cluster.carp_group = "carp";
    cluster.demote_by = 50;
    EXPECT_EQ(demote_action(cluster).describe(), "/sbin/ifconfig -g carp carpdemote 50");
    EXPECT_EQ(promote_action(cluster).describe(), "/sbin/ifconfig -g carp -carpdemote 50");
    cluster.demotion = config::Demotion::freebsd_carp;
    EXPECT_EQ(demote_action(cluster).describe(), "/sbin/sysctl net.inet.carp.demotion=50");
    EXPECT_EQ(promote_action(cluster).describe(), "/sbin/sysctl net.inet.carp.demotion=-50");
    cluster.demotion = config::Demotion::command;
    cluster.demote_command = {"/bin/x", "down"};
    cluster.promote_command = {"/bin/x", "up"};
    EXPECT_EQ(demote_action(cluster).describe(), "/bin/x down");
    EXPECT_EQ(promote_action(cluster).describe(), "/bin/x up");
}

// A stand-in for a CARP tool: appends its arguments to calls.log.
constexpr const char* kRecorder = "#!/bin/sh\necho \"$*\" >> \"$(dirname \"$0\")/calls.log\"\n";

class NodeDemotionTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char pattern[] = "/tmp/ftpx-demotion-XXXXXX";
        ASSERT_NE(nullptr, ::mkdtemp(pattern));
        dir_ = pattern;
        std::ofstream(dir_ / "carp") << kRecorder;
        fs::permissions(dir_ / "carp", fs::perms::owner_all);
    }
    void TearDown() override { fs::remove_all(dir_); }

    config::ClusterSettings command_method() const {
        config::ClusterSettings cluster;
        cluster.demotion = config::Demotion::command;
        cluster.demote_command = {(dir_ / "carp").string(), "demote"};
        cluster.promote_command = {(dir_ / "carp").string(), "promote"};
        return cluster;
    }
    // Runs the io_context until `done` holds (bounded).
    template <typename Done>
    void run_until(Done done) {
        for (int i = 0; i < 200 && !done(); ++i) io_.run_for(std::chrono::milliseconds(50));
        io_.restart();
    }
    std::string calls() const {
        std::ifstream file(dir_ / "calls.log");
        std::ostringstream text;
        text << file.rdbuf();
        return text.str();
    }
    bool books_exist() const { return fs::exists(dir_ / "demotion.json"); }
    // A clean stop, as ftpproxyd does it at exit.
    void release(NodeDemotion& demotion) {
        bool done = false;
        asio::co_spawn(io_, demotion.release(), [&done](std::exception_ptr) { done = true; });
        run_until([&done] { return done; });
    }

    fs::path dir_;
    asio::io_context io_;
    ChildReaper reaper_{io_};
};

// Demoted from the start (ready-gating), promoted when fit, demoted again
// when not, and promoted at a clean stop; each change once.
TEST_F(NodeDemotionTest, FollowsFitnessAndTakesItBackAtAStop) {
    NodeDemotion demotion(io_, reaper_, dir_.string());
    demotion.configure(command_method());
    run_until([&] { return demotion.applied(); });
    EXPECT_EQ(calls(), "demote\n");
    EXPECT_TRUE(books_exist());
    demotion.want(false, "");
    run_until([&] { return !demotion.applied(); });
    demotion.want(true, "ftp01 has no healthy backend");
    run_until([&] { return demotion.applied(); });
    EXPECT_EQ(demotion.reason(), "ftp01 has no healthy backend");
    demotion.want(true, "ftp01 has no healthy backend");  // no change: nothing runs
    release(demotion);
    EXPECT_EQ(calls(), "demote\npromote\ndemote\npromote\n");
    EXPECT_FALSE(demotion.applied());
    EXPECT_FALSE(books_exist());
}

// A run that was killed while demoted left its books: the next run does
// not demote a second time (CARP counters add up), and takes the old
// demotion back when fit.
TEST_F(NodeDemotionTest, AnEarlierRunsDemotionIsNotAppliedTwice) {
    {
        NodeDemotion killed(io_, reaper_, dir_.string());
        killed.configure(command_method());
        run_until([&] { return killed.applied(); });
    }  // gone without release(): as after SIGKILL
    ASSERT_TRUE(books_exist());
    NodeDemotion next(io_, reaper_, dir_.string());
    next.configure(command_method());
    io_.run_for(std::chrono::milliseconds(500));  // every chance to run something
    io_.restart();
    EXPECT_TRUE(next.applied());
    EXPECT_EQ(calls(), "demote\n");
    next.want(false, "");
    run_until([&] { return !next.applied(); });
    EXPECT_EQ(calls(), "demote\npromote\n");
    EXPECT_FALSE(books_exist());
}

// Other settings while demoted (a reload, or a restart with another file):
// the old demotion is taken back with the old settings, then the new
// method demotes.
TEST_F(NodeDemotionTest, ChangedSettingsUndoTheOldDemotionFirst) {
    NodeDemotion demotion(io_, reaper_, dir_.string());
    demotion.configure(command_method());
    run_until([&] { return demotion.applied(); });
    config::ClusterSettings keepalived;
    keepalived.demotion = config::Demotion::keepalived;
    keepalived.track_file = (dir_ / "track").string();
    demotion.configure(keepalived);
    run_until([&] { return fs::exists(dir_ / "track"); });
    EXPECT_EQ(calls(), "demote\npromote\n");
    std::ifstream track(dir_ / "track");
    std::string value;
    std::getline(track, value);
    EXPECT_EQ(value, "1");
    EXPECT_TRUE(demotion.applied());
}

// A command that fails is reported and tried again; the books only record
// what was done.
TEST_F(NodeDemotionTest, AFailingCommandIsReportedAndNotRecorded) {
    config::ClusterSettings cluster = command_method();
    cluster.demote_command = {"/bin/sh", "-c", "echo no carp here; exit 3"};
    NodeDemotion demotion(io_, reaper_, dir_.string());
    demotion.configure(cluster);
    run_until([&] { return !demotion.error().empty(); });
    EXPECT_EQ(demotion.error(), "/bin/sh -c echo no carp here; exit 3: exit 3: no carp here");
    EXPECT_FALSE(demotion.applied());
    EXPECT_FALSE(books_exist());
}

}  // namespace
}  // namespace supervisor
