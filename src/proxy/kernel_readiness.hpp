// What the kernel data path needs of the system before a worker may start
// with it (--data-path kernel): the kernel must forward and NAT between the
// two families in use, and count bytes per connection. Each unmet need is
// one line that says what to change; the worker refuses to start with it
// rather than relaying in silence.
#pragma once

#include <string>

namespace proxy {

// Empty when ready. client_v4 / server_v4: the families of the clients'
// side (the listen address) and the server's. `proc`: where /proc is
// (tests point it elsewhere).
std::string kernel_path_problem(bool client_v4, bool server_v4, const std::string& proc = "/proc");

}  // namespace proxy
