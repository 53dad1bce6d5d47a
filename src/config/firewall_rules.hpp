// The firewall fragment the configuration asks for. The rules themselves are
// the firewall module's (firewall/pf_fragment.hpp, firewall/nft_fragment.hpp);
// here the configuration becomes their input. Rendering is pure (text in,
// text out); writing the file is write_file_atomically's job, reloading the
// firewall the supervisor's.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/model.hpp"
#include "firewall/fragment.hpp"

namespace config {

// The text of global.rules_file: pf or nftables as global.firewall says;
// nothing with firewall: none.
std::optional<std::string> render_firewall_rules(const Config& config);

// What the fragments know of an instance.
firewall::FragmentInstance fragment_instance(const Instance& instance);
std::vector<firewall::FragmentInstance> fragment_instances(const std::vector<Instance>& instances);

// One line saying what an instance does, the comment above its rules, e.g.
// "ftp01 (reverse): 198.18.0.1:21 on em0 -> worker 127.0.0.1:8021 -> server 198.19.0.1:21"
std::string describe_instance(const Instance& instance);

}  // namespace config
