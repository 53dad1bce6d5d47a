// libFuzzer target for the supervisor's configuration loader: the input is an
// ftpproxy.yaml text, read by load_config_text exactly as ftpproxyd and
// `ftpproxyctl check` read a file. Invariants:
// - no exception escapes: a text gives a model or a list of errors, never
//   both, never neither;
// - every error is one line a person can act on, located in the file
//   (1-based, within the text), and the list is sorted by position;
// - a model is usable as it is: every instance's worker command line is
//   accepted by the worker's own option parser with the same values (the
//   TLS flags included), the pf and nftables renderings succeed, names are
//   unique, and a reload of the same file changes nothing.
// The 'tls' files a text names are read (bounded, regular files only, never
// blocking); the seeds name none that exist.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <set>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include "config/diff.hpp"
#include "config/firewall_rules.hpp"
#include "config/loader.hpp"
#include "config/worker_argv.hpp"
#include "fuzz_support.hpp"
#include "proxy/options.hpp"

namespace {

using namespace config;

constexpr const char* kFileName = "fuzz.yaml";

void check_errors(std::string_view text, const std::vector<ConfigError>& errors) {
    const auto lines = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
    for (std::size_t i = 0; i < errors.size(); ++i) {
        const ConfigError& error = errors[i];
        FUZZ_CHECK(error.file == kFileName);
        FUZZ_CHECK(error.line >= 1 && error.line <= lines);
        FUZZ_CHECK(error.column >= 1);
        FUZZ_CHECK(!error.message.empty());
        // One line, no terminal escapes: `ftpproxyctl check` prints it as it is.
        if (std::any_of(error.message.begin(), error.message.end(),
                        [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
            std::fprintf(stderr, "control byte in: %s\n", to_string(error).c_str());
            FUZZ_CHECK(false);
        }
        if (i > 0) {
            const ConfigError& before = errors[i - 1];
            FUZZ_CHECK(std::pair(before.line, before.column) <=
                       std::pair(error.line, error.column));
        }
    }
}

// The supervisor passes every setting; the worker must take them as they are.
void check_worker_argv(const Config& config, const Instance& instance) {
    const std::vector<std::string> argv = worker_argv(config.global, instance);
    FUZZ_CHECK(!argv.empty() && argv.front() == config.global.worker_binary);
    proxy::Options options;
    try {
        options = proxy::parse_options({argv.begin() + 1, argv.end()});
    } catch (const proxy::UsageError& error) {
        std::fprintf(stderr, "worker refuses the argv of %s: %s\n", instance.name.c_str(),
                     error.what());
        FUZZ_CHECK(false);
    }
    FUZZ_CHECK(options.listen_port == instance.listen_port);
    FUZZ_CHECK(options.listen_fd == kWorkerListenFd);
    FUZZ_CHECK(options.max_sessions == instance.max_sessions);
    FUZZ_CHECK(options.idle_timeout == instance.idle_timeout);
    FUZZ_CHECK(options.data_timeout == instance.data_timeout);
    FUZZ_CHECK(options.log_level == static_cast<int>(instance.log_level));
    FUZZ_CHECK(options.relay_splice == (instance.relay == Relay::splice));
    FUZZ_CHECK(options.anonymous_only == instance.anonymous_only);
    FUZZ_CHECK(options.passive_to_server == instance.passive_to_server);
    FUZZ_CHECK(options.reverse_host.has_value() ==
               (instance.mode == Mode::reverse && !instance.backends.empty()));
    if (options.reverse_host) {  // the worker starts with the first backend
        FUZZ_CHECK(*options.reverse_host == instance.backends.front().host);
        FUZZ_CHECK(options.server_port == instance.backends.front().port);
    }
    if (instance.passive_ports) {
        FUZZ_CHECK(options.passive_ports.low == instance.passive_ports->low &&
                   options.passive_ports.high == instance.passive_ports->high);
    }
    const TlsSettings& tls = instance.tls;
    FUZZ_CHECK(options.tls_cert.value_or("") == tls.certificate);
    FUZZ_CHECK(options.client_tls == word_of(kClientTlsWords, tls.client));
    FUZZ_CHECK(options.server_tls == word_of(kServerTlsWords, tls.server));
    FUZZ_CHECK(options.server_tls_ca.value_or("") == tls.server_ca);
    FUZZ_CHECK(options.server_tls_name.value_or("") == tls.server_name);
    FUZZ_CHECK(options.server_tls_fingerprint.value_or("") == tls.server_fingerprint);
    if (tls.enabled()) FUZZ_CHECK(options.tls_timeout == tls.handshake_timeout);
}

void check_model(const Config& config) {
    std::set<std::string> names;
    for (const Instance& instance : config.instances) {
        FUZZ_CHECK(!instance.name.empty());
        FUZZ_CHECK(names.insert(instance.name).second);
        check_worker_argv(config, instance);
        FUZZ_CHECK(!describe_instance(instance).empty());
    }
    for (const Firewall firewall : {Firewall::none, Firewall::pf, Firewall::nftables}) {
        Config variant = config;
        variant.global.firewall = firewall;
        const auto text = render_firewall_rules(variant);
        FUZZ_CHECK(text.has_value() == (firewall != Firewall::none));
        if (text) FUZZ_CHECK(text->starts_with(firewall::kGeneratedNotice));
    }
    const ConfigDiff diff = diff_configs(config, config);
    FUZZ_CHECK(diff.changed.empty() && diff.added.empty() && diff.removed.empty());
    FUZZ_CHECK(diff.unchanged.size() == config.instances.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = fuzz::as_text(data, size);
    LoadResult result;
    try {
        result = load_config_text(text, kFileName);
    } catch (const std::exception& error) {
        std::fprintf(stderr, "load_config_text threw %s: %s\n", typeid(error).name(), error.what());
        FUZZ_CHECK(false);
    }
    FUZZ_CHECK(result.config.has_value() == result.errors.empty());
    check_errors(text, result.errors);
    if (result.config) check_model(*result.config);
    return 0;
}
