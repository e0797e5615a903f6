"""Local stack and tooling for `make run`, the tests and `make lint-infra`. Never deployed."""
