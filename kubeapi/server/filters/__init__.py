"""One concern per module: in-flight limits, request timeouts, authentication, authorization."""
