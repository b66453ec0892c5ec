"""Analyses on top of the metric registry: journeys and funnels, pain points, A/B, key drivers, experience gaps."""
