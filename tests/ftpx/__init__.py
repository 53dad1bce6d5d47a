"""What the ftp-proxy test suites share (tests/integration, tests/netns,
tests/supervisor): servers, the proxy, clients, raw FTP, addresses and
bounded waits. See README.md. Each suite's pytest.ini puts tests/ on the
path (`pythonpath = ..`), so `import ftpx` works from any of them."""
