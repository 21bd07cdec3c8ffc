"""Development tooling shared by the tests and the benchmarks; the service never imports it."""
