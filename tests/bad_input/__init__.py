"""Bad-input tests (issue 16): one file per area; docs/reliability.md tabulates them."""
