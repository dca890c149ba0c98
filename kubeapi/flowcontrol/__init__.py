"""API Priority and Fairness: FlowSchemas classify requests into PriorityLevels whose shares
of the server's concurrency are queued fairly (upstream's flowcontrol.apiserver.k8s.io)."""
