"""Python client and CLI: the reference implementation of the reunite protocols."""
