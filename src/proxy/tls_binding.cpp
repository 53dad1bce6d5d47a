#include "proxy/tls_binding.hpp"

#include <openssl/rand.h>

#include <cstring>
#include <stdexcept>

namespace proxy {
namespace {

using Tag = std::array<unsigned char, 16>;

// The SSL ex_data slot holding the leg's ControlBinding (not owned).
int binding_index() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

// OpenSSL calls this as it makes each ticket (TLS 1.2 and 1.3), with the
// session the ticket will carry.
int put_tag_in_ticket(SSL* leg, void*) {
    const auto* binding = static_cast<const ControlBinding*>(SSL_get_ex_data(leg, binding_index()));
    if (!binding) return 1;  // a leg without binding: the session keeps what it carries
    SSL_SESSION* session = SSL_get0_session(leg);
    return session &&
           SSL_SESSION_set1_ticket_appdata(session, binding->tag.data(), binding->tag.size()) == 1;
}

std::optional<Tag> tag_of(SSL_SESSION* session) {
    void* data = nullptr;
    std::size_t length = 0;
    if (!session || SSL_SESSION_get0_ticket_appdata(session, &data, &length) != 1 ||
        length != Tag().size())
        return std::nullopt;
    Tag tag;
    std::memcpy(tag.data(), data, tag.size());
    return tag;
}

}  // namespace

ControlBinding new_control_binding() {
    ControlBinding binding;
    if (RAND_bytes(binding.tag.data(), static_cast<int>(binding.tag.size())) != 1)
        throw std::runtime_error("OpenSSL's random generator failed");
    return binding;
}

void tag_issued_tickets(SSL_CTX* context) {
    SSL_CTX_set_session_ticket_cb(context, put_tag_in_ticket, nullptr, nullptr);
}

void bind_issued_sessions(SSL* leg, const ControlBinding& binding) {
    SSL_set_ex_data(leg, binding_index(), const_cast<ControlBinding*>(&binding));
}

void note_control_session(SSL* control, ControlBinding& binding) {
    SSL_SESSION* session = SSL_get0_session(control);
    if (!session) return;
    if (SSL_session_reused(control) == 1) binding.inherited = tag_of(session);
    unsigned int length = 0;
    const unsigned char* id = SSL_SESSION_get_id(session, &length);
    binding.session_id.assign(id, id + length);
}

Resumption resumption_of(SSL* data_leg, const ControlBinding& binding) {
    if (SSL_session_reused(data_leg) != 1) return Resumption::None;
    SSL_SESSION* session = SSL_get0_session(data_leg);
    // Resumed from a ticket: the tag inside decides (the session ID of such a
    // session is the one the client offered, so it proves nothing).
    if (auto tag = tag_of(session))
        return *tag == binding.tag || tag == binding.inherited ? Resumption::Control
                                                               : Resumption::Other;
    // Resumed from the worker's session cache (TLS 1.2 session ID): the ID
    // was chosen by the proxy at the control connection's handshake.
    unsigned int length = 0;
    const unsigned char* id = SSL_SESSION_get_id(session, &length);
    const bool same = length != 0 && length == binding.session_id.size() &&
                      std::memcmp(id, binding.session_id.data(), length) == 0;
    return same ? Resumption::Control : Resumption::Other;
}

}  // namespace proxy
