"""Helpers of the ftp-proxy integration tests (servers, proxy, clients)."""
