// Writes set and map elements of one nftables table straight to the kernel:
// each transaction is one nf_tables batch built with libnftnl and sent with
// libmnl, one sendmsg and the kernel's acknowledgements.
//
// Why not libnftables, which writes the table itself (NftablesBackend::run)?
// Per data connection, libnftables parses the command text, then refreshes
// its cache (our previous transaction changed the ruleset's generation, so
// every transaction lists the tables and sets again: four more netlink round
// trips and the kernel's dumps) before it sends the same messages. Measured
// in NftablesNetns.CostPerDataConnection (docs/performance.md).
//
// Not thread-safe: a worker drives it from its one io_context thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "firewall/nft_commands.hpp"

struct mnl_socket;

namespace firewall::nft {

// The element changes of one transaction, in order: all of them take
// effect, or none.
class ElementBatch {
  public:
    // `add element` with the timeout and the session's comment.
    void add(const Element& element, std::chrono::seconds timeout, std::uint64_t session);
    // Removed whether or not it is still there (add, then delete, as
    // remove_commands() does: nft 1.0.6's kernels have no `destroy`).
    void remove(const Element& element);
    // Deleted; the whole transaction fails if it is not there.
    void erase(const Element& element);
    void append(const ElementBatch& other);

    bool empty() const { return changes_.empty(); }
    // The same transaction as nft commands (`nft -f` runs it), for the log
    // when the kernel refuses it.
    std::string nft_text(const std::string& table) const;

  private:
    friend class ElementWriter;
    enum class Kind { Add, Remove, Erase };
    struct Change {
        Kind kind = Kind::Add;
        Element element;
        std::chrono::seconds timeout{0};  // Add only
        std::uint64_t session = 0;        // Add only
    };
    std::vector<Change> changes_;
};

class ElementWriter {
  public:
    // Opens the netlink socket in the current network namespace (before the
    // worker chroots). Throws Error.
    explicit ElementWriter(std::string table);
    ~ElementWriter();
    ElementWriter(const ElementWriter&) = delete;
    ElementWriter& operator=(const ElementWriter&) = delete;

    // One transaction. Throws Error naming the first change the kernel
    // refused and why ("add element to kdnat4 { KEY }: File exists").
    void apply(const ElementBatch& batch);

  private:
    struct SocketClose {
        void operator()(mnl_socket* socket) const;
    };
    std::string table_;
    std::unique_ptr<mnl_socket, SocketClose> socket_;
    std::uint32_t port_id_ = 0;
    std::uint32_t sequence_ = 0;
    std::vector<char> buffer_;
};

}  // namespace firewall::nft
