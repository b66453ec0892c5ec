"""Dashboards: the program overview, journey and driver views, and saved custom dashboards of metric widgets."""
