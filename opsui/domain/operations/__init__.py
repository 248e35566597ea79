"""Actions on hosts, and the single gate every action passes through."""
