"""The qemu real-IPVS harness (see README.md); `harness` is the Python API."""
