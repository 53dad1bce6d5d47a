#include "proxy/tls.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace proxy {
namespace {

// OpenSSL 3's defaults minus what is not forward-secret or not AEAD (TLS 1.2
// only; TLS 1.3 suites are all AEAD with ephemeral keys).
constexpr const char* kTls12Ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20";
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

}  // namespace

std::shared_ptr<ssl::context> make_server_tls_context(const std::string& cert_file,
                                                      const std::string& key_file) {
    check_readable("--tls-cert", cert_file);
    check_readable("--tls-key", key_file);
    auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
    SSL_CTX* native = context->native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    SSL_CTX_set_options(
        native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
    if (SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1)
        throw TlsSetupError("TLS: the cipher list is not supported by this OpenSSL");
    SSL_CTX_set_session_id_context(native, kSessionIdContext, sizeof kSessionIdContext - 1);
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
