import pytest


def pytest_collection_modifyitems(config, items):
    # Namespaces, nftables and port 21 need root; say so instead of failing.
    import os
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="network namespace tests need root")
        for item in items:
            item.add_marker(skip)
