#include "firewall/nft_element_writer.hpp"

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/set.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "firewall/addresses.hpp"
#include "firewall/nft_element_bytes.hpp"

namespace firewall::nft {
namespace {

// Room for one message in the batch: the headers, the table and set names
// and one element (key up to 36 bytes, data up to 20, a comment): well under.
constexpr std::size_t kMessageRoom = 1024;

struct SetFree {
    void operator()(nftnl_set* set) const { nftnl_set_free(set); }
};
struct UdataFree {
    void operator()(nftnl_udata_buf* buf) const { nftnl_udata_buf_free(buf); }
};

std::string describe(bool add, const Element& e) {
    return std::string(add ? "add element to " : "delete element from ") + e.set + " { " + e.key +
           " }";
}

// One element message: NEWSETELEM (`add element`, which keeps an element
// that is already there with the same value) or DELSETELEM.
struct Message {
    bool add = true;
    const Element* element = nullptr;
    std::chrono::seconds timeout{0};
    std::string comment;
};

void build(char* at, const std::string& table, const Message& m, std::uint32_t sequence) {
    const ElementBytes bytes = element_bytes(*m.element);
    nlmsghdr* header = nftnl_nlmsg_build_hdr(at, m.add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM,
                                             NFPROTO_INET, m.add ? NLM_F_CREATE : 0, sequence);
    std::unique_ptr<nftnl_set, SetFree> set(nftnl_set_alloc());
    nftnl_set_elem* element = nftnl_set_elem_alloc();
    if (!set || !element) {
        if (element) nftnl_set_elem_free(element);
        throw Error("out of memory building an nftables batch");
    }
    nftnl_set_set_str(set.get(), NFTNL_SET_TABLE, table.c_str());
    nftnl_set_set_str(set.get(), NFTNL_SET_NAME, m.element->set.c_str());
    nftnl_set_elem_add(set.get(), element);  // the set owns it now
    nftnl_set_elem_set(element, NFTNL_SET_ELEM_KEY, bytes.key.data(), bytes.key.size());
    std::unique_ptr<nftnl_udata_buf, UdataFree> comment;
    if (m.add) {
        if (!bytes.data.empty())
            nftnl_set_elem_set(element, NFTNL_SET_ELEM_DATA, bytes.data.data(), bytes.data.size());
        nftnl_set_elem_set_u64(element, NFTNL_SET_ELEM_TIMEOUT,
                               static_cast<std::uint64_t>(m.timeout.count()) * 1000);
        if (!m.comment.empty()) {
            // The comment `nft list table` shows, in nft's own user-data form.
            comment.reset(nftnl_udata_buf_alloc(m.comment.size() + 16));
            if (!comment || !nftnl_udata_put_strz(comment.get(), NFTNL_UDATA_SET_ELEM_COMMENT,
                                                  m.comment.c_str()))
                throw Error("cannot build an nftables element comment");
            nftnl_set_elem_set(element, NFTNL_SET_ELEM_USERDATA,
                               nftnl_udata_buf_data(comment.get()),
                               nftnl_udata_buf_len(comment.get()));
        }
    }
    nftnl_set_elems_nlmsg_build_payload(header, set.get());
}

}  // namespace

void ElementBatch::add(const Element& element, std::chrono::seconds timeout,
                       std::uint64_t session) {
    // nft refuses a zero timeout; an expectation lives at least a second.
    const auto seconds = std::max<std::chrono::seconds::rep>(timeout.count(), 1);
    changes_.push_back({Kind::Add, element, std::chrono::seconds(seconds), session});
}

void ElementBatch::remove(const Element& element) {
    changes_.push_back({Kind::Remove, element, {}, 0});
}

void ElementBatch::erase(const Element& element) {
    changes_.push_back({Kind::Erase, element, {}, 0});
}

std::string ElementBatch::nft_text(const std::string& table) const {
    std::string text;
    for (const Change& change : changes_) {
        switch (change.kind) {
            case Kind::Add:
                text += add_command(table, change.element, change.timeout, change.session);
                break;
            case Kind::Remove:
                text += remove_commands(table, change.element);
                break;
            case Kind::Erase:
                text += "delete element inet " + table + " " + change.element.set + " { " +
                        change.element.key + " }\n";
                break;
        }
    }
    return text;
}

void ElementBatch::append(const ElementBatch& other) {
    changes_.insert(changes_.end(), other.changes_.begin(), other.changes_.end());
}

void ElementWriter::SocketClose::operator()(mnl_socket* socket) const {
    mnl_socket_close(socket);
}

ElementWriter::ElementWriter(std::string table)
    : table_(std::move(table)),
      socket_(mnl_socket_open(NETLINK_NETFILTER)),
      sequence_(static_cast<std::uint32_t>(std::time(nullptr))) {
    if (!socket_)
        throw Error(std::string("cannot open a netfilter netlink socket: ") + std::strerror(errno));
    if (mnl_socket_bind(socket_.get(), 0, MNL_SOCKET_AUTOPID) < 0)
        throw Error(std::string("cannot bind the netfilter netlink socket: ") +
                    std::strerror(errno));
    port_id_ = mnl_socket_get_portid(socket_.get());
}

ElementWriter::~ElementWriter() = default;

// No message asks for an acknowledgement: the kernel runs a batch inside
// our sendmsg(), so when it returns, the error of every change it refused
// (and only those) is already queued on the socket. An empty socket means
// the whole transaction took effect.
void ElementWriter::apply(const ElementBatch& batch) {
    if (batch.empty()) return;
    // A Remove is two messages: add (1 s) and delete.
    std::vector<Message> messages;
    for (const ElementBatch::Change& change : batch.changes_) {
        const bool add = change.kind == ElementBatch::Kind::Add;
        if (add)
            messages.push_back(
                {true, &change.element, change.timeout, session_tag(change.session)});
        if (change.kind == ElementBatch::Kind::Remove)
            messages.push_back({true, &change.element, std::chrono::seconds(1), {}});
        if (!add) messages.push_back({false, &change.element, {}, {}});
    }
    const std::size_t needed = (messages.size() + 2) * kMessageRoom;
    if (buffer_.size() < needed) buffer_.resize(needed);
    mnl_nlmsg_batch* batched = mnl_nlmsg_batch_start(buffer_.data(), buffer_.size());
    const std::uint32_t first = ++sequence_;
    nftnl_batch_begin(static_cast<char*>(mnl_nlmsg_batch_current(batched)), first);
    mnl_nlmsg_batch_next(batched);
    for (const Message& message : messages) {
        build(static_cast<char*>(mnl_nlmsg_batch_current(batched)), table_, message, ++sequence_);
        if (!mnl_nlmsg_batch_next(batched)) throw Error("nftables batch buffer too small");
    }
    nftnl_batch_end(static_cast<char*>(mnl_nlmsg_batch_current(batched)), ++sequence_);
    mnl_nlmsg_batch_next(batched);
    const ssize_t sent = mnl_socket_sendto(socket_.get(), mnl_nlmsg_batch_head(batched),
                                           mnl_nlmsg_batch_size(batched));
    const std::size_t size = mnl_nlmsg_batch_size(batched);
    mnl_nlmsg_batch_stop(batched);
    if (sent < 0 || static_cast<std::size_t>(sent) != size)
        throw Error(std::string("cannot send an nftables batch: ") + std::strerror(errno));

    // The refusals, if any: the first one (by sequence) names the change.
    std::uint32_t refused_sequence = 0;
    int refused_error = 0;
    char reply[MNL_SOCKET_BUFFER_SIZE];
    while (true) {
        const ssize_t got =
            ::recv(mnl_socket_get_fd(socket_.get()), reply, sizeof reply, MSG_DONTWAIT);
        if (got < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            throw Error(std::string("reading the kernel's answer to an nftables batch: ") +
                        std::strerror(errno));
        }
        int left = static_cast<int>(got);
        for (auto* h = reinterpret_cast<const nlmsghdr*>(reply); mnl_nlmsg_ok(h, left);
             h = mnl_nlmsg_next(h, &left)) {
            if (h->nlmsg_type != NLMSG_ERROR || h->nlmsg_pid != port_id_) continue;
            const auto* error = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(h));
            const std::uint32_t sequence = error->msg.nlmsg_seq;
            if (error->error == 0 || sequence < first || sequence > first + messages.size() + 1)
                continue;  // an acknowledgement, or another batch's
            if (!refused_sequence || sequence < refused_sequence) {
                refused_sequence = sequence;
                refused_error = -error->error;
            }
        }
    }
    if (!refused_sequence) return;
    const std::string why = std::strerror(refused_error);
    if (refused_sequence == first || refused_sequence == first + messages.size() + 1)
        throw Error("the kernel refused an nftables batch: " + why);
    const Message& refused = messages[refused_sequence - first - 1];
    throw Error(describe(refused.add, *refused.element) + ": " + why);
}

}  // namespace firewall::nft
