// 'tls': what reaches the model (defaults, inheritance, overrides), the
// worker's flags, and the errors of keys that do not go together.
#include <gtest/gtest.h>

#include <algorithm>

#include "config/worker_argv.hpp"
#include "test_support.hpp"
#include "tls_test_files.hpp"

namespace {

using namespace config;
using config_test::load_errors;
using Lines = std::vector<std::string>;
using Argv = std::vector<std::string>;

constexpr const char* kPin = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

// The flags from --tls-cert on (the worker_argv tests cover the rest).
Argv tls_flags(const Config& config, std::size_t instance) {
    const Argv argv = worker_argv(config.global, config.instances.at(instance));
    const auto first = std::find_if(argv.begin(), argv.end(), [](const std::string& word) {
        return word.starts_with("--tls") || word.starts_with("--client-tls") ||
               word.starts_with("--server-tls");
    });
    const auto end = std::find(first, argv.end(), "-D");
    return Argv(first, end);
}

// An instance's settings without the files' digest (tls_files_test.cpp).
TlsSettings settings(const Config& config, std::size_t instance) {
    TlsSettings tls = config.instances.at(instance).tls;
    tls.files_sha256.clear();
    return tls;
}

class TlsSettingsTest : public config_test::TlsFilesTest {
  protected:
    void SetUp() override {
        TlsFilesTest::SetUp();
        const auto a = config_test::make_test_pem("a.test");
        const auto b = config_test::make_test_pem("b.test");
        cert_a_ = write("a.pem", a.certificate);
        key_a_ = write("a.key", a.key);
        cert_b_ = write("b.pem", b.certificate + b.key);  // key in the same file
    }
    // `text` with $A (a.pem), $KA (a.key), $B (b.pem, with its key).
    std::string yaml(std::string text) const {
        for (const auto& [name, path] :
             {std::pair{"$KA", &key_a_}, {"$A", &cert_a_}, {"$B", &cert_b_}}) {
            for (auto at = text.find(name); at != std::string::npos; at = text.find(name, at))
                text.replace(at, std::string_view(name).size(), *path);
        }
        return text;
    }
    Config load_ok(const std::string& text) const { return config_test::load_ok(yaml(text)); }

    std::string cert_a_, key_a_, cert_b_;
};

TEST_F(TlsSettingsTest, NoTlsByDefaultAndNoFlags) {
    const Config config = load_ok(R"(instances:
  - {name: a, listen: "127.0.0.1:8021", backend: 198.19.0.1}
)");
    EXPECT_EQ(config.instances[0].tls, TlsSettings{});
    EXPECT_FALSE(config.instances[0].tls.enabled());
    EXPECT_EQ(tls_flags(config, 0), Argv{});
}

TEST_F(TlsSettingsTest, ACertificateAloneMeansOptionalWithItsOwnFileAsKey) {
    const Config config = load_ok(R"(instances:
  - name: a
    listen: 127.0.0.1:8021
    backend: 198.19.0.1
    tls:
      certificate: $B
)");
    TlsSettings expected;
    expected.certificate = expected.key = cert_b_;
    expected.client = ClientTls::optional;
    EXPECT_EQ(settings(config, 0), expected);

    EXPECT_EQ(tls_flags(config, 0),
              (Argv{"--tls-cert", cert_b_, "--tls-key", cert_b_, "--client-tls", "optional",
                    "--tls-timeout", "30", "--server-tls", "off", "--tls-min-version", "1.2"}));
}

TEST_F(TlsSettingsTest, EveryKeyBecomesAFlag) {
    const Config config = load_ok(R"(instances:
  - name: a
    listen: 127.0.0.1:8021
    backend: 198.19.0.1
    tls:
      certificate: $A
      key: $KA
      client: required
      server: required
      server_ca: $A
      server_name: ftp.example.org
      handshake_timeout: 2m
  - name: b
    listen: 127.0.0.1:8022
    backend: 198.19.0.1
    tls:
      server: auto
      server_fingerprint: "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff"
)");
    EXPECT_EQ(tls_flags(config, 0),
              (Argv{"--tls-cert", cert_a_, "--tls-key", key_a_, "--client-tls", "required",
                    "--tls-timeout", "120", "--server-tls", "required", "--tls-min-version", "1.2",
                    "--server-tls-ca", cert_a_, "--server-tls-name", "ftp.example.org"}));
    // TLS toward the server only: no certificate, so client TLS is off.
    EXPECT_EQ(config.instances[1].tls.server_fingerprint, kPin);
    EXPECT_EQ(tls_flags(config, 1),
              (Argv{"--client-tls", "off", "--tls-timeout", "30", "--server-tls", "auto",
                    "--tls-min-version", "1.2", "--server-tls-fingerprint", kPin}));
}

// An instance's map changes only the keys it names. A certificate written
// without a key brings its own key file; a pin replaces a CA from
// 'defaults' (and the reverse); `tls: off` drops it all.
TEST_F(TlsSettingsTest, InstanceKeysOverDefaults) {
    const Config config = load_ok(R"(defaults:
  tls:
    certificate: $A
    key: $KA
    client: required
    server: auto
    server_ca: $A
    handshake_timeout: 10s
instances:
  - {name: a, listen: "127.0.0.1:8021", backend: 198.19.0.1}
  - name: b
    listen: 127.0.0.1:8022
    backend: 198.19.0.1
    tls:
      client: optional
      server_fingerprint: )" + std::string(kPin) +
                                  R"(
  - name: c
    listen: 127.0.0.1:8023
    backend: 198.19.0.1
    tls:
      certificate: $B
  - {name: d, listen: "127.0.0.1:8024", backend: 198.19.0.1, tls: off}
)");
    TlsSettings a;
    a.certificate = a.server_ca = cert_a_;
    a.key = key_a_;
    a.client = ClientTls::required;
    a.server = ServerTls::automatic;
    a.handshake_timeout = std::chrono::seconds(10);
    EXPECT_EQ(settings(config, 0), a);
    TlsSettings b = a;
    b.client = ClientTls::optional;
    b.server_ca = "";
    b.server_fingerprint = kPin;
    EXPECT_EQ(settings(config, 1), b);
    TlsSettings c = a;
    c.certificate = c.key = cert_b_;
    EXPECT_EQ(settings(config, 2), c);
    EXPECT_EQ(config.instances[3].tls, TlsSettings{});
    EXPECT_EQ(tls_flags(config, 3), Argv{});
}

// Neither a certificate nor TLS toward the server: the timeout alone is
// nothing for the worker to do.
TEST_F(TlsSettingsTest, ATimeoutAloneIsNoTls) {
    const Config config = load_ok(R"(defaults:
  tls: {handshake_timeout: 5s}
instances:
  - {name: a, listen: "127.0.0.1:8021", backend: 198.19.0.1}
  - {name: f, mode: forward, listen: "127.0.0.1:8022"}
)");
    EXPECT_FALSE(config.instances[0].tls.enabled());
    EXPECT_EQ(tls_flags(config, 0), Argv{});
}

TEST_F(TlsSettingsTest, ValueErrors) {
    EXPECT_EQ(
        load_errors(R"(defaults:
  tls: {certifcate: /x.pem, client: sometimes, server: yes, handshake_timeout: 2h}
instances:
  - name: a
    listen: 127.0.0.1:8021
    backend: 198.19.0.1
    tls:
      certificate: relative.pem
      server: auto
      server_name: "bad name!"
      server_fingerprint: "00:11:22"
      colour: red
  - {name: b, listen: "127.0.0.1:8022", backend: 198.19.0.1, tls: on}
  - {name: c, listen: "127.0.0.1:8023", backend: 198.19.0.1, tls: {handshake_timeout: 0}}
)"),
        (Lines{
            "test.yaml:2:9: unknown key 'certifcate' (did you mean 'certificate'?)",
            R"(test.yaml:2:37: 'tls.client': "sometimes" is not one of off, optional or required)",
            R"(test.yaml:2:56: 'tls.server': "yes" is not one of off, auto or required)",
            "test.yaml:2:80: 'tls.handshake_timeout': 2h is out of range (1s..1h)",
            R"(test.yaml:8:20: 'tls.certificate': "relative.pem" is not an absolute path)",
            R"(test.yaml:10:20: 'tls.server_name': "bad name!" is neither an IP address nor a host name)",
            R"(test.yaml:11:27: 'tls.server_fingerprint': "00:11:22" is not a SHA-256 fingerprint (64 hex digits, colons allowed))",
            "test.yaml:12:7: unknown key 'colour' (known keys: certificate, key, client, "
            "client_reuse, server, server_ca, server_name, server_fingerprint, handshake_timeout, "
            "implicit, "
            "min_version or ciphers)",
            "test.yaml:13:67: 'tls' is 'off' or a map (certificate, key, client, "
            "client_reuse, server, server_ca, server_name, server_fingerprint, handshake_timeout, "
            "implicit, "
            "min_version or ciphers)",
            "test.yaml:14:87: 'tls.handshake_timeout': 0 is out of range (1s..1h)",
        }));
}

TEST_F(TlsSettingsTest, KeysThatNeedAnother) {
    EXPECT_EQ(load_errors(yaml(R"(defaults:
  tls:
    client: required
    server_name: ftp.example.org
instances:
  - name: a
    listen: 127.0.0.1:8021
    backend: 198.19.0.1
    tls:
      key: $KA
      client: optional
      server: auto
      server_ca: $A
      server_fingerprint: )" + std::string(kPin) +
                               R"(
  - {name: b, listen: "127.0.0.1:8022", backend: 198.19.0.1}
)")),
              (Lines{
                  "test.yaml:3:13: 'tls.client': required needs 'tls.certificate' (the "
                  "certificate the proxy shows its clients)",
                  "test.yaml:4:18: 'tls.server_name' needs 'tls.server': auto or required (it "
                  "is off by default)",
                  "test.yaml:10:12: 'tls.key' without 'tls.certificate'",
                  "test.yaml:11:15: 'tls.client': optional needs 'tls.certificate' (the "
                  "certificate the proxy shows its clients)",
                  "test.yaml:14:27: 'tls.server_fingerprint' and 'tls.server_ca' (line 13) "
                  "exclude each other: a pinned certificate is checked by its fingerprint alone",
              }));
    // Instance b takes the same keys from 'defaults': reported once, there.
}

TEST_F(TlsSettingsTest, ServerKeysNeedServerTls) {
    EXPECT_EQ(load_errors(yaml(R"(instances:
  - name: a
    listen: 127.0.0.1:8021
    backend: 198.19.0.1
    tls:
      server: off
      server_ca: $A
      server_fingerprint: )" + std::string(kPin) +
                               R"(
)")),
              (Lines{"test.yaml:7:18: 'tls.server_ca' needs 'tls.server': auto or required (it "
                     "is off)",
                     "test.yaml:8:27: 'tls.server_fingerprint' needs 'tls.server': auto or "
                     "required (it is off)",
                     "test.yaml:8:27: 'tls.server_fingerprint' and 'tls.server_ca' (line 7) "
                     "exclude each other: a pinned certificate is checked by its fingerprint "
                     "alone"}));
}

TEST_F(TlsSettingsTest, ForwardModeCannotTerminateTls) {
    EXPECT_EQ(load_errors(yaml(R"(defaults:
  tls: {server: auto}
instances:
  - {name: a, listen: "127.0.0.1:8021", backend: 198.19.0.1}
  - {name: b, mode: forward, listen: "127.0.0.1:8022"}
  - {name: c, mode: forward, listen: "127.0.0.1:8023", tls: {certificate: $B}}
  - {name: d, mode: forward, listen: "127.0.0.1:8024", tls: off}
)")),
              (Lines{"test.yaml:5:21: forward mode cannot terminate TLS: its clients reach "
                     "servers it holds no certificate or name for ('tls' of 'defaults' at line 2 "
                     "applies here: write 'tls: off' in this instance)",
                     "test.yaml:6:61: forward mode cannot terminate TLS: its clients reach "
                     "servers it holds no certificate or name for (remove 'tls' or write 'tls: "
                     "off')"}));
    // Both in 'defaults': once, there.
    EXPECT_EQ(load_errors(R"(defaults:
  mode: forward
  tls: {server: required}
instances:
  - {name: a, listen: "127.0.0.1:8021"}
  - {name: b, listen: "127.0.0.1:8022"}
)"),
              (Lines{"test.yaml:3:8: forward mode cannot terminate TLS: its clients reach servers "
                     "it holds no certificate or name for (remove 'tls' or write 'tls: off')"}));
}

TEST_F(TlsSettingsTest, TlsIsASettingKey) {
    EXPECT_EQ(load_errors("defaults: {tsl: off}\ninstances: []\n"),
              (Lines{"test.yaml:1:12: unknown key 'tsl' (did you mean 'tls'?)"}));
}

}  // namespace

namespace config {
namespace {

TEST_F(TlsSettingsTest, ImplicitMinVersionAndCiphers) {
    const Config config = load_ok(R"(instances:
  - name: a
    listen: 127.0.0.1:990
    backend: 198.19.0.1
    tls:
      certificate: $A
      key: $KA
      implicit: true
      min_version: "1.3"
      ciphers: ECDHE+AESGCM
)");
    EXPECT_EQ(tls_flags(config, 0),
              (Argv{"--tls-cert", cert_a_, "--tls-key", key_a_, "--client-tls", "optional",
                    "--tls-timeout", "30", "--server-tls", "off", "--tls-min-version", "1.3",
                    "--tls-implicit", "--tls-ciphers", "ECDHE+AESGCM"}));
    EXPECT_EQ(
        load_errors(R"(instances:
  - name: a
    listen: 127.0.0.1:990
    backend: 198.19.0.1
    tls: {server: auto, implicit: true, min_version: 1.1, ciphers: NOSUCHCIPHER}
  - name: b
    listen: 127.0.0.1:991
    backend: 198.19.0.1
    tls:
      certificate: )" +
                    cert_a_ + R"(
      key: )" + key_a_ +
                    R"(
      client: off
      implicit: yes
)"),
        (Lines{
            "test.yaml:5:35: 'tls.implicit' needs 'tls.certificate' (every session starts "
            "with the proxy's handshake)",
            R"(test.yaml:5:54: 'tls.min_version': "1.1" is not one of 1.2 or 1.3)",
            R"(test.yaml:5:68: 'tls.ciphers': "NOSUCHCIPHER" names no cipher this OpenSSL knows)",
            "test.yaml:13:17: 'tls.implicit' and 'tls.client': off contradict each other: "
            "every session is TLS",
        }));
}

// vsftpd's require_ssl_reuse, for the proxy's clients.
TEST_F(TlsSettingsTest, ClientReuse) {
    const Config config = load_ok(R"(defaults:
  tls: {certificate: $B, client_reuse: required}
instances:
  - {name: a, listen: "127.0.0.1:8021", backend: 198.19.0.1}
  - {name: b, listen: "127.0.0.1:8022", backend: 198.19.0.1, tls: {client_reuse: optional}}
)");
    EXPECT_EQ(config.instances[0].tls.client_reuse, ClientReuse::required);
    EXPECT_EQ(tls_flags(config, 0),
              (Argv{"--tls-cert", cert_b_, "--tls-key", cert_b_, "--client-tls", "optional",
                    "--tls-timeout", "30", "--server-tls", "off", "--tls-min-version", "1.2",
                    "--client-tls-reuse", "required"}));
    EXPECT_EQ(tls_flags(config, 1),
              (Argv{"--tls-cert", cert_b_, "--tls-key", cert_b_, "--client-tls", "optional",
                    "--tls-timeout", "30", "--server-tls", "off", "--tls-min-version", "1.2"}));
    EXPECT_EQ(
        load_errors(yaml(R"(instances:
  - {name: a, listen: "127.0.0.1:8021", backend: 198.19.0.1, tls: {client_reuse: always}}
  - {name: b, listen: "127.0.0.1:8022", backend: 198.19.0.1, tls: {client_reuse: required}}
  - name: c
    listen: 127.0.0.1:8023
    backend: 198.19.0.1
    tls: {client_reuse: required, certificate: $B, client: off}
)")),
        (Lines{
            R"(test.yaml:2:82: 'tls.client_reuse': "always" is not one of optional or required)",
            "test.yaml:3:82: 'tls.client_reuse': required needs TLS toward clients "
            "('tls.certificate', and 'tls.client' not off)",
            "test.yaml:7:25: 'tls.client_reuse': required needs TLS toward clients "
            "('tls.certificate', and 'tls.client' not off)",
        }));
}

}  // namespace
}  // namespace config
