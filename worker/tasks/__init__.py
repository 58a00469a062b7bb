"""Job functions, one module per domain."""
