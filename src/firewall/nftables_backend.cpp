#include "firewall/nftables_backend.hpp"

#include <nftables/libnftables.h>
#include <spdlog/spdlog.h>

#include <utility>

#include "firewall/addresses.hpp"
#include "firewall/process.hpp"

namespace firewall {
namespace {

// nft's error output is the message, the command and a caret line; the
// first line is what a log needs.
std::string first_line(const char* text) {
    const std::string all = text ? text : "";
    const std::string line = all.substr(0, all.find('\n'));
    return line.empty() ? "nft failed without a message" : line;
}

}  // namespace

void NftablesBackend::ContextFree::operator()(nft_ctx* context) const {
    nft_ctx_free(context);
}

// The context is made here, before the worker chroots: libnftables reads
// its symbol tables (/etc/iproute2) when it is created.
NftablesBackend::NftablesBackend(RuleOptions options, std::string instance, pid_t pid)
    : context_(nft_ctx_new(NFT_CTX_DEFAULT)),
      options_(std::move(options)),
      instance_(std::move(instance)),
      pid_(pid),
      table_(nft::table_name(instance_, pid_)),
      writer_(table_) {
    if (!context_) throw Error("cannot create a libnftables context");
    nft_ctx_buffer_output(context_.get());
    nft_ctx_buffer_error(context_.get());
}

// A worker that leaves by an exception still removes its table.
NftablesBackend::~NftablesBackend() {
    remove_table();
}

std::string NftablesBackend::run(const std::string& commands) {
    if (nft_run_cmd_from_buffer(context_.get(), commands.c_str()) != 0)
        throw Error(first_line(nft_ctx_get_error_buffer(context_.get())));
    return nft_ctx_get_output_buffer(context_.get());
}

// Tables of the same instance whose worker is gone are deleted (a crashed
// worker's state); a live one's, e.g. an old worker draining during a
// reload, is left alone. Our own table is replaced atomically.
void NftablesBackend::init() {
    std::string stale;
    for (const nft::TableOwner& owner : nft::instance_tables(run("list tables inet"), instance_)) {
        if (owner.pid == pid_ || !process_is_gone(owner.pid)) continue;
        spdlog::info("nftables: deleting table {} of a worker that is gone", owner.table);
        stale += nft::delete_script(owner.table);
    }
    run(stale +
        nft::create_script(table_, instance_, pid_, options_.log > 0, options_.kernel_mark));
    created_ = true;
    sessions_.clear();
    used_translations_ = {};
}

// One netlink round trip: the outcome is known before the call returns.
void NftablesBackend::expect_passive(const PassiveExpectation& expectation, Done done) {
    settle(done, [&] {
        expect(expectation.session, expectation.timeout, [&] {
            return SessionElements{{nft::passive_element(expectation)}, std::nullopt};
        });
    });
}

// The server's connection is let in (act4/act6); the proxy's connection to
// the client that follows leaves with the server's address (snat4/snat6).
void NftablesBackend::expect_active(const ActiveExpectation& expectation, Done done) {
    settle(done, [&] {
        expect(expectation.session, expectation.timeout, [&] {
            SessionElements elements{{nft::active_element(expectation)}, std::nullopt};
            if (expectation.onward && expectation.onward->nat_to)
                elements.nat = nft::source_nat_element(*expectation.onward);
            return elements;
        });
    });
}

// Without nat_to there is nothing to add: the session's previous elements go.
void NftablesBackend::expect_onward(const OnwardExpectation& expectation, Done done) {
    if (!expectation.leg.nat_to) {
        clear_session(expectation.session);
        done({});
        return;
    }
    settle(done, [&] {
        expect(expectation.session, expectation.timeout, [&] {
            return SessionElements{{}, nft::source_nat_element(expectation.leg)};
        });
    });
}

// Three elements in one transaction: no packet sees the armed element
// before its translations exist.
void NftablesBackend::forward_in_kernel(const KernelForwarding& forwarding, Done done) {
    settle(done, [&] {
        if (!options_.kernel_mark) throw Error("the kernel data path is not enabled");
        expect(forwarding.session, forwarding.timeout, [&] {
            return SessionElements{nft::kernel_elements(forwarding), std::nullopt, true};
        });
    });
}

nft::ElementBatch NftablesBackend::removal(std::uint64_t session) const {
    nft::ElementBatch batch;
    const auto it = sessions_.find(session);
    if (it == sessions_.end()) return batch;
    for (const nft::Element& element : it->second.expected) batch.remove(element);
    if (it->second.nat) batch.remove(*it->second.nat);
    return batch;
}

// The session's previous elements go in the same transaction as the new
// ones are added: at no time are two negotiations of one session live. A
// failed negotiation leaves none (as pf empties the anchor on errors).
void NftablesBackend::expect(std::uint64_t session, std::chrono::seconds timeout,
                             const std::function<SessionElements()>& make_elements) {
    if (!created_) throw Error("nftables backend used before init()");
    try {
        const SessionElements elements = make_elements();
        std::vector<nft::Element> all = elements.expected;
        if (elements.nat) all.push_back(*elements.nat);
        nft::ElementBatch add;
        for (const nft::Element& element : all) add.add(element, timeout, session);
        nft::ElementBatch batch = std::exchange(used_translations_, {});
        batch.append(removal(session));
        batch.append(add);
        try {
            writer_.apply(batch);
        } catch (const Error& first) {
            spdlog::debug("{} nftables refused ({}): {}", session_tag(session), first.what(),
                          batch.nft_text(table_));
            // (The used translations are left to their timeout: inert.)
            // An element with one of these keys but another value (a leftover
            // whose removal failed) makes `add` fail with "File exists":
            // delete such elements and try once more.
            for (const nft::Element& element : all) {
                nft::ElementBatch leftover;
                leftover.erase(element);
                try {
                    writer_.apply(leftover);
                } catch (const Error&) {
                    // not there: not the cause
                }
            }
            nft::ElementBatch again = removal(session);
            again.append(add);
            try {
                writer_.apply(again);
            } catch (const Error&) {
                throw first;
            }
        }
        sessions_.insert_or_assign(session, elements);
    } catch (const Error&) {
        clear_session(session);
        throw;
    }
}

// The proxy connects to the client right after the server's connection
// arrived: the source NAT element stays for that, until the session's next
// negotiation or end, or its timeout.
void NftablesBackend::connection_arrived(std::uint64_t session) noexcept {
    const auto it = sessions_.find(session);
    if (it == sessions_.end()) return;
    if (it->second.kernel) {
        // The kernel deleted the armed element with the first packet; the
        // translations go with the next transaction.
        for (const nft::Element& element : it->second.expected)
            if (element.set.rfind("karm", 0) != 0) used_translations_.remove(element);
        sessions_.erase(it);
        return;
    }
    if (!it->second.nat) {
        clear_session(session);
        return;
    }
    if (it->second.expected.empty()) return;
    nft::ElementBatch batch;
    for (const nft::Element& element : it->second.expected) batch.remove(element);
    try {
        writer_.apply(batch);
    } catch (const std::exception& e) {
        spdlog::error("{} nftables: cannot remove {} element: {}", session_tag(session),
                      it->second.expected.front().set, e.what());
    }
    it->second.expected.clear();
}

void NftablesBackend::clear_session(std::uint64_t session) noexcept {
    const auto it = sessions_.find(session);
    if (it == sessions_.end()) return;  // nothing of ours: no netlink round trip
    try {
        nft::ElementBatch batch = std::exchange(used_translations_, {});
        batch.append(removal(session));
        writer_.apply(batch);
    } catch (const std::exception& e) {
        // The elements still expire by their timeout.
        spdlog::error("{} nftables: cannot remove the session's elements: {}", session_tag(session),
                      e.what());
    }
    sessions_.erase(it);
}

void NftablesBackend::shutdown() noexcept {
    remove_table();
}

void NftablesBackend::remove_table() noexcept {
    if (!created_) return;
    created_ = false;
    sessions_.clear();
    used_translations_ = {};
    try {
        run(nft::delete_script(table_));
    } catch (const std::exception& e) {
        spdlog::error("nftables: cannot delete table inet {}: {}", table_, e.what());
    }
}

}  // namespace firewall
