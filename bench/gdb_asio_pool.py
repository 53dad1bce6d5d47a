"""gdb script (bench/soak.py's heap probe): the size of Boost.Asio's pool of
per-socket reactor states in an ftp-proxy worker attached by gdb.

epoll_reactor keeps every freed descriptor_state on a free list for reuse and
frees it only with the io_context, so after a load the pool holds one state
per socket of the busiest moment. Prints one line:
    asio descriptor_state pool: live N, free M, sizeof S
Needs the worker's debug information (RelWithDebInfo) and its io_context as
a variable named `io` on the stack (src/proxy/main.cpp).
"""
import gdb

MAX_WALK = 10_000_000


def list_length(node):
    n = 0
    while int(node) != 0 and n < MAX_WALK:
        n += 1
        node = node["next_"]
    return n


def find_io():
    frame = gdb.newest_frame()
    while frame is not None:
        try:
            return frame.read_var("io")
        except (ValueError, RuntimeError):
            frame = frame.older()
    raise gdb.GdbError("no io_context named io on the stack")


def main():
    service = find_io()["service_registry_"].dereference()["first_service_"]
    for _ in range(1000):
        if int(service) == 0:
            break
        kind = service.dynamic_type
        if "epoll_reactor" in str(kind):
            pool = service.cast(kind).dereference()["registered_descriptors_"]
            size = gdb.lookup_type("boost::asio::detail::epoll_reactor::descriptor_state").sizeof
            print(f"asio descriptor_state pool: live {list_length(pool['live_list_'])}, "
                  f"free {list_length(pool['free_list_'])}, sizeof {size}")
            return
        service = service["next_"]
    print("asio descriptor_state pool: no epoll_reactor found")


main()
