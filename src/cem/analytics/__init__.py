"""CX metrics: honest statistics over the feedback store (registry, engines, query API)."""
