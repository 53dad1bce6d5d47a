#include "proxy/tls.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "proxy/tls_binding.hpp"

namespace proxy {
namespace {

// OpenSSL 3's defaults minus what is not forward-secret or not AEAD (TLS 1.2
// only; TLS 1.3 suites are all AEAD with ephemeral keys).
const std::string kTls12Ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20";
constexpr unsigned char kSessionIdContext[] = "ftp-proxy";

void check_readable(const char* flag, const std::string& file) {
    std::ifstream in(file);
    if (!in) throw TlsSetupError(std::string(flag) + " " + file + ": " + std::strerror(errno));
}

// The reason OpenSSL gives, without its error codes.
std::string openssl_reason(const boost::system::error_code& error) {
    const unsigned long code = ERR_peek_last_error();
    ERR_clear_error();
    if (code != 0) {
        const char* reason = ERR_reason_error_string(code);
        if (reason) return reason;
    }
    return error.message();
}

void apply_tuning(SSL_CTX* native, const TlsTuning& tuning) {
    SSL_CTX_set_min_proto_version(native, tuning.min_version);
    const std::string& ciphers = tuning.ciphers.empty() ? kTls12Ciphers : tuning.ciphers;
    if (SSL_CTX_set_cipher_list(native, ciphers.c_str()) != 1) {
        ERR_clear_error();
        throw TlsSetupError("--tls-ciphers " + ciphers +
                            ": no cipher of this list is known to this OpenSSL");
    }
}

}  // namespace

std::shared_ptr<ssl::context> make_server_tls_context(const std::string& cert_file,
                                                      const std::string& key_file,
                                                      const TlsTuning& tuning) {
    check_readable("--tls-cert", cert_file);
    check_readable("--tls-key", key_file);
    auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
    SSL_CTX* native = context->native_handle();
    SSL_CTX_set_options(
        native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
    apply_tuning(native, tuning);
    SSL_CTX_set_session_id_context(native, kSessionIdContext, sizeof kSessionIdContext - 1);
    tag_issued_tickets(native);
    boost::system::error_code error;
    context->use_certificate_chain_file(cert_file, error);
    if (error)
        throw TlsSetupError("--tls-cert " + cert_file + ": no usable PEM certificate (" +
                            openssl_reason(error) + ")");
    const std::string mismatch =
        "--tls-key " + key_file + " does not match the certificate in --tls-cert " + cert_file;
    context->use_private_key_file(key_file, ssl::context::pem, error);
    if (error) {
        // OpenSSL checks the pair as it loads the key.
        // (Asio took the error off OpenSSL's queue: the code is its value.)
        const auto code = static_cast<unsigned long>(error.value());
        const bool other_key = ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH;
        const std::string reason = openssl_reason(error);
        if (other_key) throw TlsSetupError(mismatch);
        throw TlsSetupError("--tls-key " + key_file + ": no usable PEM private key (" + reason +
                            ")");
    }
    if (SSL_CTX_check_private_key(native) != 1) {
        ERR_clear_error();
        throw TlsSetupError(mismatch);
    }
    return context;
}

std::shared_ptr<ssl::context> make_client_tls_context(const std::string& ca_file, bool pinned,
                                                      const TlsTuning& tuning) {
    auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
    SSL_CTX* native = context->native_handle();
    SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    apply_tuning(native, tuning);
    // P-256 first: the key share sent in the ClientHello is the first group's, and a server that
    // does not take it (vsftpd 3.0.3 takes P-256 only) answers with a HelloRetryRequest, one more
    // round trip per full handshake (seen with tcpdump). Every TLS 1.3 server supports P-256.
    if (SSL_CTX_set1_groups_list(native, "P-256:X25519:P-384:P-521") != 1) {
        ERR_clear_error();
        throw TlsSetupError("OpenSSL knows none of the groups P-256, X25519, P-384, P-521");
    }
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
    if (pinned) return context;
    const std::string file = ca_file.empty() ? X509_get_default_cert_file() : ca_file;
    const std::string what = ca_file.empty()
                                 ? "the system CA bundle " + file + " (or give --server-tls-ca)"
                                 : "--server-tls-ca " + file;
    if (!ca_file.empty()) check_readable("--server-tls-ca", ca_file);
    if (SSL_CTX_load_verify_locations(native, file.c_str(), nullptr) != 1) {
        const unsigned long code = ERR_peek_last_error();
        ERR_clear_error();
        const char* reason = code ? ERR_reason_error_string(code) : nullptr;
        throw TlsSetupError(what + ": no usable PEM certificate" +
                            (reason ? std::string(" (") + reason + ")" : std::string()));
    }
    return context;
}

std::optional<std::array<unsigned char, 32>> parse_fingerprint(const std::string& text) {
    std::string digits;
    for (char c : text)
        if (c != ':') digits += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::array<unsigned char, 32> bytes{};
    if (digits.size() != 2 * bytes.size()) return std::nullopt;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        unsigned value = 0;
        for (char c : {digits[2 * i], digits[2 * i + 1]}) {
            const char* digit = std::strchr("0123456789abcdef", c);
            if (c == '\0' || !digit) return std::nullopt;
            value = value * 16 + static_cast<unsigned>(digit - "0123456789abcdef");
        }
        bytes[i] = static_cast<unsigned char>(value);
    }
    return bytes;
}

void prepare_server_leg(TlsStream& stream, const ServerTlsPolicy& policy) {
    SSL* native = stream.native_handle();
    boost::system::error_code not_address;
    asio::ip::make_address(policy.name, not_address);
    // SNI carries host names only (RFC 6066), never an address.
    if (not_address && !policy.name.empty()) SSL_set_tlsext_host_name(native, policy.name.c_str());
    if (policy.pin) {
        SSL_set_verify(native, SSL_VERIFY_NONE, nullptr);
        return;
    }
    if (!not_address)
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(native), policy.name.c_str());
    else
        SSL_set1_host(native, policy.name.c_str());
}

// After the handshake: empty if the certificate is the pinned one (or no
// pin is set), else why not.
static std::string server_certificate_problem(TlsStream& stream, const ServerTlsPolicy& policy) {
    if (!policy.pin) return {};
    X509* certificate = SSL_get0_peer_certificate(stream.native_handle());
    if (!certificate) return "the server sent no certificate";
    std::array<unsigned char, 32> digest{};
    unsigned int length = 0;
    if (X509_digest(certificate, EVP_sha256(), digest.data(), &length) != 1 ||
        length != digest.size())
        return "cannot compute the certificate's SHA-256 fingerprint";
    if (digest == *policy.pin) return {};
    std::string hex;
    for (unsigned char byte : digest) {
        static constexpr char kDigits[] = "0123456789abcdef";
        if (!hex.empty()) hex += ':';
        hex += kDigits[byte >> 4];
        hex += kDigits[byte & 15];
    }
    return "the certificate's SHA-256 fingerprint " + hex +
           " is not the one of --server-tls-fingerprint";
}

// Why a handshake toward the server failed, in words an operator can act on
// ("certificate verify failed: self-signed certificate").
static std::string handshake_failure(TlsStream& stream, const boost::system::error_code& error) {
    const long verify = SSL_get_verify_result(stream.native_handle());
    if (verify != X509_V_OK) {
        ERR_clear_error();
        return std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
    }
    return openssl_reason(error);
}

std::string server_leg_problem(TlsStream& stream, const ServerTlsPolicy& policy,
                               const boost::system::error_code& error) {
    if (error) return handshake_failure(stream, error);
    return server_certificate_problem(stream, policy);
}

std::string describe_tls(TlsStream& stream) {
    SSL* native = stream.native_handle();
    return std::string(SSL_get_version(native)) + " " + SSL_get_cipher_name(native);
}

awaitable<void> tls_shutdown(TlsStream& stream) {
    auto& socket = stream.next_layer();
    asio::steady_timer deadline(socket.get_executor(), kTlsShutdownTimeout);
    // A shutdown, not a close: reads pending on the stream (the other
    // direction of a data channel) then see an end of stream, not an error.
    deadline.async_wait([&socket](error_code error) {
        if (!error) socket.shutdown(tcp::socket::shutdown_both, error);
    });
    error_code ignored;
    co_await stream.async_shutdown(with_error(ignored));
    deadline.cancel();
}

}  // namespace proxy
