// Which control connection a client's data connection belongs to, in TLS
// terms (--client-tls-reuse, RFC 4217 section 10.2). Resuming "a" TLS
// session proves little: a ticket another client got from this worker
// resumes as well. So every session the proxy issues on a client's control
// connection carries that connection's random tag inside its ticket (which
// only this worker can decrypt, so no client can forge it), and a data
// connection is the control connection's only if the session it resumed
// carries the tag.
#pragma once

#include <openssl/ssl.h>

#include <array>
#include <optional>
#include <vector>

namespace proxy {

struct ControlBinding {
    std::array<unsigned char, 16> tag{};  // random; put in the tickets issued
    // A control connection that itself resumed a TLS 1.2 session (a client
    // reconnecting with a cached one) also owns that session's tag. (With
    // TLS 1.3 the session after the handshake is already the one of the
    // new tickets, tagged anew: clients resume those.)
    std::optional<std::array<unsigned char, 16>> inherited;
    // TLS 1.2 resumption by session ID (a client without tickets): the
    // control connection's ID, server-chosen.
    std::vector<unsigned char> session_id;
};

// A fresh binding, with a random tag.
ControlBinding new_control_binding();

// Installs, on the worker's context toward clients, the callback that puts
// the tag of bind_issued_sessions() into each ticket issued.
void tag_issued_tickets(SSL_CTX* context);

// Before the handshake of a leg facing the client: the tickets it issues
// carry binding's tag. `binding` must outlive the leg.
void bind_issued_sessions(SSL* leg, const ControlBinding& binding);

// After the control connection's handshake: what else identifies its
// session (the inherited tag, the session ID).
void note_control_session(SSL* control, ControlBinding& binding);

enum class Resumption {
    None,     // a full handshake
    Control,  // resumed a session of its own control connection
    Other,    // resumed a session issued to another control connection
};

// After the handshake of a client's data connection.
Resumption resumption_of(SSL* data_leg, const ControlBinding& binding);

}  // namespace proxy
