"""tests/proof runs under `-p no:xdist` too (pytest -p no:xdist tests/proof): then xdist does
not register its xdist_group marker and --strict-markers would refuse the module that uses it."""


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "xdist_group(name): run these tests on one xdist worker")
