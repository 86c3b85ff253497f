"""The front-ends: the CLI, bench, sweep, suite, monitor, adapters, published examples."""
