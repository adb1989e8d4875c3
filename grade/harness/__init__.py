"""The grading harness: boots kernels in QEMU, reads their serial output, and says in words
what happened. pytest (grade/conftest.py) and `make qemu` (python -m harness) both use it."""
