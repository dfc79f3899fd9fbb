//! Integration tests: real servers on loopback, driven through the library and the binary.
