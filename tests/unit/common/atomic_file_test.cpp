#include "common/atomic_file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "read_file.hpp"

namespace {

namespace fs = std::filesystem;
using common::write_file_atomically;
using test_support::read_file;

class AtomicFile : public testing::Test {
  protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "ftpproxy-atomic-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        directory_ = pattern;
    }
    void TearDown() override { fs::remove_all(directory_); }

    std::vector<std::string> entries() const {
        std::vector<std::string> names;
        for (const auto& entry : fs::directory_iterator(directory_)) {
            names.push_back(entry.path().filename().string());
        }
        std::sort(names.begin(), names.end());
        return names;
    }

    fs::path directory_;
};

TEST_F(AtomicFile, CreatesWithContentAndMode) {
    const fs::path path = directory_ / "rules.nft";
    write_file_atomically(path, "table inet ftpproxy {}\n");
    EXPECT_EQ(read_file(path), "table inet ftpproxy {}\n");
    struct stat info {};
    ASSERT_EQ(::stat(path.c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 07777, 0644u);
    EXPECT_EQ(entries(), (std::vector<std::string>{"rules.nft"}));
}

TEST_F(AtomicFile, ReplacesAndLeavesNoTemporaryFile) {
    const fs::path path = directory_ / "pf.conf";
    write_file_atomically(path, std::string(100000, 'x'));
    write_file_atomically(path, "short\n", 0600);
    EXPECT_EQ(read_file(path), "short\n");
    struct stat info {};
    ASSERT_EQ(::stat(path.c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 07777, 0600u);
    EXPECT_EQ(entries(), (std::vector<std::string>{"pf.conf"}));
}

TEST_F(AtomicFile, EmptyContent) {
    const fs::path path = directory_ / "empty";
    write_file_atomically(path, "");
    EXPECT_TRUE(fs::exists(path));
    EXPECT_EQ(fs::file_size(path), 0u);
}

TEST_F(AtomicFile, MissingDirectoryThrowsAndNamesTheFile) {
    const fs::path path = directory_ / "missing" / "rules.nft";
    try {
        write_file_atomically(path, "x");
        FAIL() << "no exception";
    } catch (const std::system_error& error) {
        EXPECT_EQ(error.code(), std::errc::no_such_file_or_directory);
        EXPECT_NE(std::string(error.what()).find(path.string()), std::string::npos) << error.what();
    }
}

TEST_F(AtomicFile, FailedRenameRemovesTheTemporaryFile) {
    // A directory in the way: rename(2) refuses to replace it with a file.
    const fs::path path = directory_ / "in-the-way";
    fs::create_directory(path);
    EXPECT_THROW(write_file_atomically(path, "x"), std::system_error);
    EXPECT_EQ(entries(), (std::vector<std::string>{"in-the-way"}));
}

}  // namespace
