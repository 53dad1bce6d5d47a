// The files 'tls' names, checked at load as the worker will load them, and
// their digest: a certificate renewed in place changes the instance.
#include "config/tls_files.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "config/diff.hpp"
#include "test_support.hpp"
#include "tls_test_files.hpp"

namespace {

using namespace config;
using config_test::load_errors;
using config_test::load_ok;
using Lines = std::vector<std::string>;

class TlsFileChecks : public config_test::TlsFilesTest {
  protected:
    void SetUp() override {
        TlsFilesTest::SetUp();
        a_ = config_test::make_test_pem("a.test");
        b_ = config_test::make_test_pem("b.test");
    }

    // One instance with `tls_lines` (each "      KEY: VALUE\n"), from line 6 on.
    static std::string instance_with(const std::string& tls_lines) {
        return "instances:\n  - name: a\n    listen: 127.0.0.1:8021\n    backend: "
               "198.19.0.1\n    tls:\n" +
               tls_lines;
    }

    config_test::TestPem a_, b_;
};

TEST_F(TlsFileChecks, AMatchingPairLoads) {
    const std::string cert = write("a.pem", a_.certificate);
    const std::string key = write("a.key", a_.key);
    const std::string both = write("both.pem", a_.certificate + a_.key);
    const std::string chain = write("chain.pem", a_.certificate + b_.certificate);
    load_ok(instance_with("      certificate: " + cert + "\n      key: " + key + "\n"));
    load_ok(instance_with("      certificate: " + both + "\n"));
    load_ok(instance_with("      certificate: " + chain + "\n      key: " + key + "\n"));
}

TEST_F(TlsFileChecks, CertificateErrors) {
    const std::string key = write("a.key", a_.key);
    const std::string junk = write("junk.pem", "not PEM at all\n");
    const std::string missing = dir_ + "/missing.pem";
    EXPECT_EQ(
        load_errors(instance_with("      certificate: " + missing + "\n")),
        (Lines{"test.yaml:6:20: 'tls.certificate': " + missing + ": No such file or directory"}));
    EXPECT_EQ(load_errors(instance_with("      certificate: " + dir_ + "\n")),
              (Lines{"test.yaml:6:20: 'tls.certificate': " + dir_ + ": not a regular file"}));
    EXPECT_EQ(load_errors(instance_with("      certificate: /dev/zero\n")),
              (Lines{"test.yaml:6:20: 'tls.certificate': /dev/zero: not a regular file"}));
    EXPECT_EQ(load_errors(instance_with("      certificate: " + junk + "\n")),
              (Lines{"test.yaml:6:20: 'tls.certificate': " + junk + " has no PEM certificate"}));
    // A key is not a certificate.
    EXPECT_EQ(load_errors(instance_with("      certificate: " + key + "\n")),
              (Lines{"test.yaml:6:20: 'tls.certificate': " + key + " has no PEM certificate"}));
    const std::string big = write("big.pem", std::string(kMaxTlsFileSize + 1, '-'));
    EXPECT_EQ(load_errors(instance_with("      certificate: " + big + "\n")),
              (Lines{"test.yaml:6:20: 'tls.certificate': " + big + ": larger than 4194304 bytes"}));
}

// The worker's OpenSSL refuses what its security level refuses (Debian 12:
// level 2, RSA keys of 2048 bits at least): so does the check.
TEST_F(TlsFileChecks, ACertificateOpenSslRefuses) {
    const auto weak = config_test::make_test_pem("weak.test", 1024);
    const std::string cert = write("weak.pem", weak.certificate + weak.key);
    const auto errors = load_errors(instance_with("      certificate: " + cert + "\n"));
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].rfind("test.yaml:6:20: 'tls.certificate': " + cert +
                                  " holds a certificate OpenSSL refuses (",
                              0),
              0u)
        << errors[0];
}

TEST_F(TlsFileChecks, KeyErrors) {
    const std::string cert = write("a.pem", a_.certificate);
    const std::string other = write("b.key", b_.key);
    const std::string encrypted = write("enc.key", a_.encrypted_key);
    const std::string missing = dir_ + "/missing.key";
    const auto errors = [&](const std::string& key) {
        return load_errors(
            instance_with("      certificate: " + cert + "\n      key: " + key + "\n"));
    };
    EXPECT_EQ(errors(missing),
              (Lines{"test.yaml:7:12: 'tls.key': " + missing + ": No such file or directory"}));
    EXPECT_EQ(errors(cert),
              (Lines{"test.yaml:7:12: 'tls.key': " + cert + " has no PEM private key"}));
    EXPECT_EQ(errors(other),
              (Lines{"test.yaml:7:12: 'tls.key': " + other +
                     " does not match the certificate in 'tls.certificate' " + cert}));
    EXPECT_EQ(errors(encrypted),
              (Lines{"test.yaml:7:12: 'tls.key': " + encrypted +
                     " holds an encrypted private key: the worker reads it without a passphrase"}));
}

// Without 'key', the key is looked for in the certificate file, and its
// problems are the certificate's.
TEST_F(TlsFileChecks, KeyInTheCertificateFile) {
    const std::string alone = write("alone.pem", a_.certificate);
    const std::string mixed = write("mixed.pem", a_.certificate + b_.key);
    EXPECT_EQ(load_errors(instance_with("      certificate: " + alone + "\n")),
              (Lines{"test.yaml:6:20: 'tls.certificate': " + alone +
                     " has no PEM private key (write 'tls.key' when the key is in a file of its "
                     "own)"}));
    EXPECT_EQ(load_errors(instance_with("      certificate: " + mixed + "\n")),
              (Lines{"test.yaml:6:20: 'tls.certificate': the private key in " + mixed +
                     " does not match its certificate"}));
}

TEST_F(TlsFileChecks, ServerCaErrors) {
    const std::string key = write("a.key", a_.key);
    const std::string ca = write("ca.pem", a_.certificate + b_.certificate);
    const std::string missing = dir_ + "/missing-ca.pem";
    const auto errors = [&](const std::string& path) {
        return load_errors(
            instance_with("      server: required\n      server_ca: " + path + "\n"));
    };
    load_ok(instance_with("      server: required\n      server_ca: " + ca + "\n"));
    EXPECT_EQ(errors(missing), (Lines{"test.yaml:7:18: 'tls.server_ca': " + missing +
                                      ": No such file or directory"}));
    EXPECT_EQ(errors(key),
              (Lines{"test.yaml:7:18: 'tls.server_ca': " + key + " has no PEM certificate"}));
}

// Files named in 'defaults' are checked there, once, with the line there.
TEST_F(TlsFileChecks, DefaultsFilesAreCheckedOnce) {
    const std::string missing = dir_ + "/missing.pem";
    EXPECT_EQ(
        load_errors("defaults:\n  tls:\n    certificate: " + missing +
                    "\ninstances:\n"
                    "  - {name: a, listen: \"127.0.0.1:8021\", backend: 198.19.0.1}\n"
                    "  - {name: b, listen: \"127.0.0.1:8022\", backend: 198.19.0.1}\n"),
        (Lines{"test.yaml:3:18: 'tls.certificate': " + missing + ": No such file or directory"}));
}

// ftpproxyd restarts an instance whose TLS files changed, even when the
// file names (and so the worker's command line) stay the same.
TEST_F(TlsFileChecks, ARenewedCertificateChangesTheInstance) {
    const std::string cert = write("a.pem", a_.certificate);
    const std::string key = write("a.key", a_.key);
    const std::string ca = write("ca.pem", b_.certificate);
    const std::string text =
        "instances:\n"
        "  - name: tls\n    listen: 127.0.0.1:8021\n    backend: 198.19.0.1\n"
        "    tls: {certificate: " +
        cert + ", key: " + key + ", server: required, server_ca: " + ca +
        "}\n"
        "  - {name: plain, listen: \"127.0.0.1:8022\", backend: 198.19.0.1}\n";
    const Config before = load_ok(text);
    EXPECT_EQ(before.instances[0].tls.files_sha256.size(), 64u);
    EXPECT_EQ(before.instances[1].tls.files_sha256, "");
    EXPECT_EQ(diff_configs(before, load_ok(text)), (ConfigDiff{{"tls", "plain"}, {}, {}, {}}));

    // Renewed: a new certificate and key under the same names.
    const auto renewed = config_test::make_test_pem("a.test");
    write("a.pem", renewed.certificate);
    write("a.key", renewed.key);
    const Config after = load_ok(text);
    EXPECT_NE(after.instances[0].tls.files_sha256, before.instances[0].tls.files_sha256);
    EXPECT_EQ(diff_configs(before, after), (ConfigDiff{{"plain"}, {"tls"}, {}, {}}));

    // The CA bundle counts too.
    write("ca.pem", b_.certificate + renewed.certificate);
    EXPECT_EQ(diff_configs(after, load_ok(text)), (ConfigDiff{{"plain"}, {"tls"}, {}, {}}));
}

}  // namespace
