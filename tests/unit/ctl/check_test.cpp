// ftpproxyctl check: the verdict, the file's digest, and --compare with a
// digest or a peer's file (exit 0 only when they are the same).
#include "ctl/check.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "ctl/exit_codes.hpp"

namespace {

using namespace ctl;
namespace fs = std::filesystem;

constexpr const char* kOurs = "283f2dd5b64488f3f069e024136a02ef878b054a53b3187157548857234d9817";
constexpr const char* kTheirs = "ee3180ab961366a62cb92e6d049d8369d9a0cb76e462c5ac1e9b5acd3a55b380";

class Check : public testing::Test {
  protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "ftpproxy-check-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        directory_ = pattern;
        ours_ = write("ours.yaml", "instances: []\n");
        peer_ = write("peer.yaml", "instances: []\n# peer\n");
    }
    void TearDown() override { fs::remove_all(directory_); }

    std::string write(const std::string& name, const std::string& text) {
        const std::string path = (directory_ / name).string();
        std::ofstream(path, std::ios::binary) << text;
        return path;
    }

    fs::path directory_;
    std::string ours_;
    std::string peer_;
};

TEST_F(Check, PrintsTheVerdictAndTheDigest) {
    const CheckOutcome outcome = check_file(ours_, std::nullopt);
    EXPECT_EQ(outcome.exit_code, kExitOk);
    EXPECT_EQ(outcome.text, ours_ + ": OK, 0 instance(s)\n" + ours_ + ": sha256 " + kOurs + "\n");
}

TEST_F(Check, ComparesWithADigestInEitherCase) {
    CheckOutcome outcome = check_file(ours_, std::string(kOurs));
    EXPECT_EQ(outcome.exit_code, kExitOk);
    EXPECT_NE(outcome.text.find(ours_ + ": same as the given digest (sha256 " + kOurs + ")\n"),
              std::string::npos)
        << outcome.text;
    std::string upper = kOurs;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_EQ(check_file(ours_, upper).exit_code, kExitOk);

    outcome = check_file(ours_, std::string(kTheirs));
    EXPECT_EQ(outcome.exit_code, kExitFailed);
    EXPECT_NE(outcome.text.find(ours_ + ": NOT the same as the given digest: sha256 " + kOurs +
                                " here, " + kTheirs + " there\n"),
              std::string::npos)
        << outcome.text;
}

TEST_F(Check, ComparesWithAPeersFile) {
    CheckOutcome outcome = check_file(ours_, peer_);
    EXPECT_EQ(outcome.exit_code, kExitFailed);
    EXPECT_NE(outcome.text.find(ours_ + ": NOT the same as " + peer_ + ": sha256 " + kOurs +
                                " here, " + kTheirs + " there\n"),
              std::string::npos)
        << outcome.text;
    const std::string copy = write("copy.yaml", "instances: []\n");
    outcome = check_file(ours_, copy);
    EXPECT_EQ(outcome.exit_code, kExitOk);
    EXPECT_NE(outcome.text.find(": same as " + copy), std::string::npos) << outcome.text;
}

TEST_F(Check, WhatCannotBeComparedIsSaid) {
    const std::string missing = (directory_ / "nope.yaml").string();
    CheckOutcome outcome = check_file(ours_, missing);
    EXPECT_EQ(outcome.exit_code, kExitFailed);
    EXPECT_NE(outcome.text.find("--compare " + missing +
                                ": neither a sha256 digest (64 hex digits) nor a readable file "
                                "(cannot open: No such file or directory)\n"),
              std::string::npos)
        << outcome.text;
    outcome = check_file(missing, std::string(kOurs));
    EXPECT_EQ(outcome.exit_code, kExitFailed);
    EXPECT_NE(outcome.text.find(missing + ": cannot be compared: it could not be read\n"),
              std::string::npos)
        << outcome.text;
}

// A file with errors is still compared (same broken file or not), and fails.
TEST_F(Check, AnInvalidFileFailsEvenWhenTheSame) {
    const std::string bad = write("bad.yaml", "instances: 3\n");
    const CheckOutcome outcome = check_file(bad, bad);
    EXPECT_EQ(outcome.exit_code, kExitFailed);
    EXPECT_NE(outcome.text.find("1 error(s); ftpproxyd would refuse this file"), std::string::npos)
        << outcome.text;
    EXPECT_NE(outcome.text.find(bad + ": same as " + bad), std::string::npos) << outcome.text;
}

}  // namespace
