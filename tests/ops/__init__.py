"""Operations: exit codes, first-contact errors, metrics, logs, priority and fairness."""
