// Real PEM certificates and keys for the 'tls' tests, made with OpenSSL's
// C API in a temporary directory (no openssl binary needed): EC P-256,
// self-signed, valid for a day.
#pragma once

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

namespace config_test {

struct TestPem {
    std::string certificate;  // PEM text
    std::string key;          // PEM text, unencrypted
    std::string encrypted_key;
};

namespace pem_detail {

template <auto Free>
struct Freer {
    template <typename T>
    void operator()(T* p) const {
        Free(p);
    }
};

inline std::string bio_text(BIO* bio) {
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<std::size_t>(size));
}

}  // namespace pem_detail

// `rsa_bits` 0: an EC P-256 key; else an RSA key of that size.
inline TestPem make_test_pem(const std::string& common_name, unsigned rsa_bits = 0) {
    using namespace pem_detail;
    std::unique_ptr<EVP_PKEY, Freer<EVP_PKEY_free>> key(rsa_bits ? EVP_RSA_gen(rsa_bits)
                                                                 : EVP_EC_gen("P-256"));
    std::unique_ptr<X509, Freer<X509_free>> cert(X509_new());
    if (!key || !cert) throw std::runtime_error("OpenSSL: cannot make a key");
    static long serial = 1;
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
    X509_set_pubkey(cert.get(), key.get());
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                               0);
    X509_set_issuer_name(cert.get(), name);
    if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0)
        throw std::runtime_error("OpenSSL: cannot sign");
    TestPem pem;
    std::unique_ptr<BIO, Freer<BIO_free>> out(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509(out.get(), cert.get());
    pem.certificate = bio_text(out.get());
    out.reset(BIO_new(BIO_s_mem()));
    PEM_write_bio_PrivateKey(out.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    pem.key = bio_text(out.get());
    out.reset(BIO_new(BIO_s_mem()));
    char passphrase[] = "secret";
    PEM_write_bio_PrivateKey(out.get(), key.get(), EVP_aes_128_cbc(), nullptr, 0, nullptr,
                             passphrase);
    pem.encrypted_key = bio_text(out.get());
    return pem;
}

// A fresh directory per test, removed after it; write() returns the path.
class TlsFilesTest : public testing::Test {
  protected:
    void SetUp() override {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "ftpproxy-tls-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::string write(const std::string& name, const std::string& text) const {
        const std::string path = dir_ + "/" + name;
        std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
        return path;
    }

    std::string dir_;
};

}  // namespace config_test
