"""The domain core: Pinpoint's shapes, rules and operations, free of HTTP and SQL."""
