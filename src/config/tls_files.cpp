#include "config/tls_files.hpp"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <string_view>

#include "common/unique_fd.hpp"
#include "config/file_digest.hpp"

namespace config {

namespace {

template <auto Free>
struct Freer {
    template <typename T>
    void operator()(T* p) const {
        Free(p);
    }
};
using BioPtr = std::unique_ptr<BIO, Freer<BIO_free>>;
using X509Ptr = std::unique_ptr<X509, Freer<X509_free>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Freer<EVP_PKEY_free>>;
using ContextPtr = std::unique_ptr<SSL_CTX, Freer<SSL_CTX_free>>;
struct InfoFreer {
    void operator()(STACK_OF(X509_INFO) * blocks) const {
        sk_X509_INFO_pop_free(blocks, X509_INFO_free);
    }
};

using Key = TlsFileProblem::Key;

// An encrypted key would need a passphrase, which nobody is there to type:
// never prompt (OpenSSL's default callback reads the terminal).
int no_passphrase(char*, int, int, void*) {
    return 0;
}

BioPtr memory_bio(const std::string& bytes) {
    // kMaxTlsFileSize keeps the size within an int.
    return BioPtr(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

// OpenSSL's reason for the last error, without its codes; the queue is cleared.
std::string openssl_reason() {
    const unsigned long code = ERR_peek_last_error();
    ERR_clear_error();
    const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
    return reason != nullptr ? reason : "unknown reason";
}

// After the last certificate of a chain, PEM's "no start line" is the end
// of the file, not an error (as in SSL_CTX_use_certificate_chain_file).
bool only_end_of_file() {
    const unsigned long code = ERR_peek_last_error();
    const bool end = code == 0 || (ERR_GET_LIB(code) == ERR_LIB_PEM &&
                                   ERR_GET_REASON(code) == PEM_R_NO_START_LINE);
    if (end) ERR_clear_error();
    return end;
}

std::string quoted_tls_key(std::string_view key) {
    return "'tls." + std::string(key) + "'";
}

// The leaf, then the rest of the chain, into `context`: what the worker's
// SSL_CTX_use_certificate_chain_file does, on the bytes that were read.
std::optional<std::string> load_chain(SSL_CTX* context, const std::string& bytes) {
    const BioPtr bio = memory_bio(bytes);
    const X509Ptr leaf(PEM_read_bio_X509_AUX(bio.get(), nullptr, no_passphrase, nullptr));
    if (!leaf) {
        ERR_clear_error();
        return "has no PEM certificate";
    }
    if (SSL_CTX_use_certificate(context, leaf.get()) != 1)
        return "holds a certificate OpenSSL refuses (" + openssl_reason() + ")";
    while (X509Ptr next{PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr)}) {
        if (SSL_CTX_add1_chain_cert(context, next.get()) != 1)
            return "holds a chain certificate OpenSSL refuses (" + openssl_reason() + ")";
    }
    if (!only_end_of_file())
        return "has a chain certificate that cannot be read (" + openssl_reason() + ")";
    return std::nullopt;
}

}  // namespace

bool is_known_cipher_list(const std::string& ciphers) {
    const ContextPtr context(SSL_CTX_new(TLS_method()));
    const bool known = context && SSL_CTX_set_cipher_list(context.get(), ciphers.c_str()) == 1;
    ERR_clear_error();
    return known;
}

const TlsFiles::Read& TlsFiles::read(const std::string& path) {
    const auto cached = cache_.find(path);
    if (cached != cache_.end()) return cached->second;
    Read& result = cache_[path];
    const common::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    struct stat info {};
    if (!fd || ::fstat(fd.get(), &info) != 0) {
        result.problem = std::strerror(errno);
        return result;
    }
    if (!S_ISREG(info.st_mode)) {
        result.problem = "not a regular file";
        return result;
    }
    // In pieces: most files are a few kilobytes, and /proc files say size 0.
    std::string bytes;
    std::array<char, 64 * 1024> piece{};
    while (bytes.size() <= kMaxTlsFileSize) {
        const ssize_t got = ::read(fd.get(), piece.data(), piece.size());
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            result.problem = std::strerror(errno);
            return result;
        }
        if (got == 0) break;
        bytes.append(piece.data(), static_cast<std::size_t>(got));
    }
    if (bytes.size() > kMaxTlsFileSize) {
        result.problem = "larger than " + std::to_string(kMaxTlsFileSize) + " bytes";
        return result;
    }
    static_assert(kMaxTlsFileSize < INT_MAX);
    result.bytes = std::move(bytes);
    return result;
}

std::optional<TlsFileProblem> TlsFiles::check_pair(const std::string& certificate,
                                                   const std::string& key_file) {
    const bool one_file = key_file.empty();
    const std::string& key = one_file ? certificate : key_file;
    const auto problem = [](Key where, std::string message) {
        return TlsFileProblem{where, quoted_tls_key(where == Key::key ? "key" : "certificate") +
                                         ": " + std::move(message)};
    };
    const Read& chain = read(certificate);
    if (!chain.problem.empty())
        return problem(Key::certificate, certificate + ": " + chain.problem);
    const ContextPtr context(SSL_CTX_new(TLS_server_method()));
    if (!context) return problem(Key::certificate, "OpenSSL: " + openssl_reason());
    if (auto wrong = load_chain(context.get(), chain.bytes))
        return problem(Key::certificate, certificate + " " + *wrong);

    const Key where = one_file ? Key::certificate : Key::key;
    const Read& pem = read(key);
    if (!pem.problem.empty()) return problem(where, key + ": " + pem.problem);
    const BioPtr bio = memory_bio(pem.bytes);
    const KeyPtr private_key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
    if (!private_key) {
        ERR_clear_error();
        if (pem.bytes.find("ENCRYPTED") != std::string::npos)
            return problem(where, key +
                                      " holds an encrypted private key: the worker reads it "
                                      "without a passphrase");
        return problem(where, key + " has no PEM private key" +
                                  (one_file ? std::string(" (write 'tls.key' when the key is in "
                                                          "a file of its own)")
                                            : std::string()));
    }
    const std::string mismatch =
        one_file ? "the private key in " + key + " does not match its certificate"
                 : key + " does not match the certificate in " + quoted_tls_key("certificate") +
                       " " + certificate;
    // OpenSSL checks the pair as it takes the key (a key of another type
    // goes to another slot, and only SSL_CTX_check_private_key sees it).
    if (SSL_CTX_use_PrivateKey(context.get(), private_key.get()) != 1) {
        const unsigned long code = ERR_peek_last_error();
        if (ERR_GET_LIB(code) == ERR_LIB_X509 &&
            ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH) {
            ERR_clear_error();
            return problem(where, mismatch);
        }
        return problem(where,
                       key + " holds a private key OpenSSL refuses (" + openssl_reason() + ")");
    }
    if (SSL_CTX_check_private_key(context.get()) != 1) {
        ERR_clear_error();
        return problem(where, mismatch);
    }
    return std::nullopt;
}

std::optional<TlsFileProblem> TlsFiles::check_ca(const std::string& server_ca) {
    const auto problem = [](std::string message) {
        return TlsFileProblem{Key::server_ca,
                              quoted_tls_key("server_ca") + ": " + std::move(message)};
    };
    const Read& bundle = read(server_ca);
    if (!bundle.problem.empty()) return problem(server_ca + ": " + bundle.problem);
    // As SSL_CTX_load_verify_locations reads it: every PEM block, at least
    // one certificate among them.
    const BioPtr bio = memory_bio(bundle.bytes);
    const std::unique_ptr<STACK_OF(X509_INFO), InfoFreer> blocks(
        PEM_X509_INFO_read_bio(bio.get(), nullptr, no_passphrase, nullptr));
    if (!blocks) return problem(server_ca + " cannot be read (" + openssl_reason() + ")");
    ERR_clear_error();
    for (int i = 0; i < sk_X509_INFO_num(blocks.get()); ++i)
        if (sk_X509_INFO_value(blocks.get(), i)->x509 != nullptr) return std::nullopt;
    return problem(server_ca + " has no PEM certificate");
}

std::string TlsFiles::digest(const TlsSettings& tls) {
    std::string listing;
    for (const auto& [name, path] : {std::pair{"certificate", &tls.certificate},
                                     {"key", &tls.key},
                                     {"server_ca", &tls.server_ca}}) {
        if (path->empty()) continue;
        // Each file's own digest, so that no two sets of files give one text.
        listing += std::string(name) + " " + *path + " " + sha256_hex(read(*path).bytes) + "\n";
    }
    return listing.empty() ? std::string() : sha256_hex(listing);
}

}  // namespace config
