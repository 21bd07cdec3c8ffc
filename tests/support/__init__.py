"""Tooling shared by the tests and the benchmarks (servers, the trained sample project);
not part of the package, so neither the wheel nor the image ships it."""
