"""Churn risk: a supervised model over customer attributes, behaviour and feedback, with readable reasons."""
