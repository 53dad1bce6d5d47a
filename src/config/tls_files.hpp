// The files of 'tls', read and checked as the worker will load them
// (src/proxy/tls.cpp), so that `ftpproxyctl check` and a reload refuse a
// certificate the worker would refuse at start. Each file is read once per
// load: the checks and the digest see the same bytes. Internal to the
// config library.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>

#include "config/model.hpp"

namespace config {

// A certificate chain or a CA bundle is kilobytes (Debian's whole bundle
// is about 200 KiB); more is not a PEM file the worker should read.
inline constexpr std::size_t kMaxTlsFileSize = 4 << 20;

// What is wrong with a file, and which of the keys naming it the error is
// about (the key file may be the certificate file).
struct TlsFileProblem {
    enum class Key { certificate, key, server_ca } key;
    std::string message;  // whole, with the key names: "'tls.key': ..."
};

// OpenSSL knows at least one cipher of this TLS 1.2 cipher list (what the
// worker's --tls-ciphers needs to start).
bool is_known_cipher_list(const std::string& ciphers);

class TlsFiles {
  public:
    // The chain in `certificate` and the private key in `key` (empty: in the
    // certificate file): readable, PEM, usable by OpenSSL as the worker sets
    // it up, and a matching pair.
    std::optional<TlsFileProblem> check_pair(const std::string& certificate,
                                             const std::string& key_file);
    // At least one PEM certificate to verify the server with.
    std::optional<TlsFileProblem> check_ca(const std::string& server_ca);
    // SHA-256 over the files `tls` names (certificate, key, server_ca);
    // empty when it names none.
    std::string digest(const TlsSettings& tls);

  private:
    struct Read {
        std::string bytes;
        std::string problem;  // empty: read
    };
    // Regular files only, opened without blocking, at most kMaxTlsFileSize:
    // a FIFO or a device must not hang `check` (or the config fuzzer).
    const Read& read(const std::string& path);

    std::map<std::string, Read> cache_;
};

}  // namespace config
