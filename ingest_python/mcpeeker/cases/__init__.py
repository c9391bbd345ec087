"""The case workflow of findings: status and its changes (lifecycle), suppressions, and the finding queries."""
