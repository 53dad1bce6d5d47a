// The configuration file's digest: SHA-256 as sha256sum prints it, of the
// bytes the loader read, whether or not the file is valid.
#include "config/file_digest.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>

#include "config/loader.hpp"

namespace {

using namespace config;

TEST(FileDigest, Sha256AsSha256sumPrintsIt) {
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_hex("abc"),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256_hex(std::string("a\0b", 3)), sha256_hex(std::string("a\0b", 3)));
    EXPECT_NE(sha256_hex(std::string("a\0b", 3)), sha256_hex("a"));
}

TEST(FileDigest, RecognisesADigest) {
    EXPECT_TRUE(is_sha256_hex(sha256_hex("x")));
    EXPECT_TRUE(is_sha256_hex("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
    EXPECT_FALSE(is_sha256_hex(sha256_hex("x").substr(1)));
    EXPECT_FALSE(is_sha256_hex(sha256_hex("x") + "0"));
    EXPECT_FALSE(is_sha256_hex("g" + sha256_hex("x").substr(1)));
    EXPECT_FALSE(is_sha256_hex("/etc/ftpproxy/ftpproxy.yaml"));
}

TEST(FileDigest, TheLoaderHashesTheFileAsRead) {
    char path[] = "/tmp/ftpproxy-digest-XXXXXX";
    const int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    ::close(fd);
    std::ofstream(path, std::ios::binary) << "instances: []\n";
    LoadResult loaded = load_config_file(path);
    ASSERT_TRUE(loaded.config);
    EXPECT_EQ(loaded.sha256, "283f2dd5b64488f3f069e024136a02ef878b054a53b3187157548857234d9817");
    EXPECT_EQ(loaded.config->sha256, loaded.sha256);

    // An invalid file has a digest too (check --compare reports it).
    std::ofstream(path, std::ios::binary) << "instances: 3\n";
    loaded = load_config_file(path);
    EXPECT_FALSE(loaded.config);
    EXPECT_EQ(loaded.sha256, sha256_hex("instances: 3\n"));
    ::unlink(path);

    EXPECT_EQ(load_config_file(path).sha256, "");
    EXPECT_EQ(load_config_text("instances: []\n", "x.yaml").config->sha256, "");
}

}  // namespace
